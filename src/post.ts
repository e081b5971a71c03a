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
  if (state && state.status !== "done" && isAlive(state.pid)) {
    host.log.warning(
      `the background pull is still running and no step with mode: wait collected it; stopping it (worker pid ${state.pid})`,
    );
    if (log.text) replayLog(log.text, host.log);
    stopWorker(state.pid);
    await report(host, completeResults(request, state.results ?? [], "stopped by the post step: no step with mode: wait collected it"));
    markCollected(workerDir);
    return;
  }
  if (log.text) replayLog(log.text, host.log);
  if (state?.status !== "done") {
    const results = completeResults(request, state?.results ?? [], "the background worker ended without a result for it");
    host.log.warning(
      `the background worker (pid ${state?.pid ?? "?"}) ended before it finished, and no step with mode: wait collected it: ${failedCount(results)} of ${results.length} image(s) failed; its log is above`,
    );
    await report(host, results);
    markCollected(workerDir);
    return;
  }
  const results = completeResults(request, state.results ?? [], "the background worker finished without a result for it");
  host.log.notice(
    `the background pull finished but no step with mode: wait collected it: ${failedCount(results)} of ${results.length} image(s) failed`,
  );
  for (const problem of state.problems ?? []) host.log.warning(problem);
  await report(host, results);
  markCollected(workerDir);
}

const failedCount = (results: readonly Result[]) => results.filter((r) => r.status === "failed").length;

async function report(host: Host, results: readonly Result[]): Promise<void> {
  if (results.length > 0) host.log.info(textTable(results));
  await host.writeSummary(summaryMarkdown(results, TITLE));
}
