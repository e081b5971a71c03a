// The action's entry, as the runner runs it: inputs from INPUT_*, outputs to GITHUB_OUTPUT.
// The same bundle is the post step (state isPost) and the background worker (PREPULL_WORKER_DIR).
import * as core from "@actions/core";
import { WORKER_ENV } from "./background.js";
import { type Host, run, runWorker } from "./main.js";
import { post } from "./post.js";
import { actionLogger } from "./report.js";

const host: Host = {
  getInput: (name) => core.getInput(name),
  log: actionLogger,
  setOutput: (name, value) => core.setOutput(name, value),
  async writeSummary(markdown) {
    if (!process.env.GITHUB_STEP_SUMMARY) return;
    await core.summary.addRaw(markdown).write();
  },
  setFailed: (message) => core.setFailed(message),
  setSecret: (secret) => core.setSecret(secret),
  saveState: (name, value) => core.saveState(name, value),
  workerEntry: __filename,
  ...(process.env.GITHUB_WORKSPACE && { workspace: process.env.GITHUB_WORKSPACE }),
};

const fail = (error: Error) => core.setFailed(`prepull: unexpected error: ${error.stack ?? error.message}`);
const workerDir = process.env[WORKER_ENV];
if (workerDir) {
  runWorker(host, workerDir).catch(fail);
} else if (core.getState("isPost") === "true") {
  post(host, core.getState("workerDir")).catch(fail);
} else {
  core.saveState("isPost", "true");
  run(host).catch(fail);
}
