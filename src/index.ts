// The action's entry, as the runner runs it: inputs from INPUT_*, outputs to GITHUB_OUTPUT.
import * as core from "@actions/core";
import { run } from "./main.js";
import { actionLogger } from "./report.js";

run({
  getInput: (name) => core.getInput(name),
  log: actionLogger,
  setOutput: (name, value) => core.setOutput(name, value),
  async writeSummary(markdown) {
    if (!process.env.GITHUB_STEP_SUMMARY) return;
    await core.summary.addRaw(markdown).write();
  },
  setFailed: (message) => core.setFailed(message),
  setSecret: (secret) => core.setSecret(secret),
  ...(process.env.GITHUB_WORKSPACE && { workspace: process.env.GITHUB_WORKSPACE }),
}).catch((error: Error) => core.setFailed(`prepull: unexpected error: ${error.stack ?? error.message}`));
