// The post step: a background worker that no wait step collected is reported (or, if still
// running, stopped), so nothing is silent and nothing outlives the job. Every image the step
// asked for is in the report: one without a result is failed, with why.
import {
  completeResults,
  isAlive,
  isCollected,
  markCollected,
  readLogFrom,
  readRequest,
  readState,
  stopWorker,
  type WorkerRequest,
} from "./background.js";
import type { Host } from "./main.js";
import { replayLog } from "./report/log.js";
import type { Result } from "./report/results.js";
import { summaryMarkdown, textTable } from "./report/summary.js";

const TITLE = "prepull (background, reported by the post step)";

export async function post(host: Host, workerDir: string): Promise<void> {
  if (!workerDir || isCollected(workerDir)) return;
  const state = readState(workerDir);
  const log = readLogFrom(workerDir, 0);
  let request: WorkerRequest = { images: [], invalid: [], problems: [], started: "", inputs: {} };
  try {
    request = readRequest(workerDir);
  } catch {
    // no request: only what the state says can be reported
  }
  const stillRunning = state !== undefined && state.status !== "done" && isAlive(state.pid);
  if (stillRunning) {
    host.log.warning(
      `the background pull is still running and no step with mode: wait collected it; stopping it (worker pid ${state.pid})`,
    );
  }
  if (log.text) replayLog(log.text, host.log);
  if (stillRunning) stopWorker(state.pid);
  const finished = state?.status === "done";
  const why = stillRunning
    ? "stopped by the post step: no step with mode: wait collected it"
    : finished
      ? "the background worker finished without a result for it"
      : "the background worker ended without a result for it";
  const results = completeResults(request, state?.results ?? [], why);
  const failed = `${failedCount(results)} of ${results.length} image(s) failed`;
  if (finished) {
    host.log.notice(`the background pull finished but no step with mode: wait collected it: ${failed}`);
    for (const problem of state.problems ?? []) host.log.warning(problem);
  } else if (!stillRunning) {
    host.log.warning(
      `the background worker (pid ${state?.pid ?? "?"}) ended before it finished, and no step with mode: wait collected it: ${failed}; its log is above`,
    );
  }
  await report(host, results);
  markCollected(workerDir);
}

const failedCount = (results: readonly Result[]) => results.filter((r) => r.status === "failed").length;

async function report(host: Host, results: readonly Result[]): Promise<void> {
  if (results.length > 0) host.log.info(textTable(results));
  await host.writeSummary(summaryMarkdown(results, TITLE));
}
