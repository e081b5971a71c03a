// The action, as the runner runs it: inputs from INPUT_*, outputs to GITHUB_OUTPUT. The same
// entry is the post step (state isPost) and the background worker (PREPULL_WORKER_DIR).
// dist/index.cjs is a thin file that calls runAction() from the shared bundle.
import * as core from "@actions/core";
import { readRequest, readState, readWorkerSecret, WORKER_ENV } from "./background.js";
import { whenUnfinished } from "./lifecycle.js";
import { type Host, run, runWorker, UNFINISHED } from "./main.js";
import { writeFileCommand, writeStepSummary } from "./report/filecommand.js";
import { actionLogger, recordLogger } from "./report/log.js";

function saveState(name: string, value: string): void {
  if (!writeFileCommand("STATE", name, value)) core.saveState(name, value);
}

const host: Host = {
  getInput: (name) => core.getInput(name),
  log: actionLogger,
  setOutput: (name, value) => {
    if (!writeFileCommand("OUTPUT", name, value)) core.setOutput(name, value);
  },
  async writeSummary(markdown) {
    writeStepSummary(markdown);
  },
  setFailed: (message) => core.setFailed(message),
  setSecret: (secret) => core.setSecret(secret),
  saveState,
  // The file node was started with (dist/index.cjs): the worker is started the same way.
  workerEntry: process.argv[1] ?? __filename,
  ...(process.env.GITHUB_WORKSPACE && { workspace: process.env.GITHUB_WORKSPACE }),
};

/** The background worker: its inputs from the request file, the token from stdin, its log as records. */
async function worker(dir: string): Promise<void> {
  const token = await readWorkerSecret();
  const request = readRequest(dir);
  const log = recordLogger((line) => process.stdout.write(`${line}\n`));
  // Nothing of the worker's reaches the runner but through its log, replayed by a later step:
  // no outputs, no summary, and no add-mask (the step that started it masked the token).
  const quiet = async () => {};
  await runWorker(
    {
      ...host,
      log,
      getInput: (name) => (name === "github-token" ? token : (request.inputs[name] ?? "")),
      setOutput: () => {},
      setSecret: () => {},
      // What the post step needs from a worker is in its results (fill-mirror's marks among them).
      saveState: () => {},
      writeSummary: quiet,
      setFailed: (message) => log.error(message),
    },
    dir,
    request,
  );
}

/** The post step: a background pull nobody collected, then fill-mirror's copies (the step's, and a worker's). */
async function postStep(): Promise<void> {
  const workerDir = core.getState("workerDir");
  await (await import("./post.js")).post(host, workerDir);
  const saved = core.getState("fill");
  const workerResults = workerDir ? (readState(workerDir)?.results ?? []) : [];
  if (saved || workerResults.some((result) => "fill" in result))
    await (await import("./modes/fill.js")).postFill(host, saved, workerResults);
}

export function runAction(): void {
  const fail = (error: Error) => core.setFailed(`prepull: unexpected error: ${error.stack ?? error.message}`);
  const workerDir = process.env[WORKER_ENV];
  let work: Promise<unknown>;
  if (workerDir) {
    work = worker(workerDir).catch(fail);
  } else if (core.getState("isPost") === "true") {
    work = postStep().catch(fail);
  } else {
    saveState("isPost", "true");
    work = run(host).catch(fail);
  }
  whenUnfinished(work, () => core.setFailed(UNFINISHED));
}
