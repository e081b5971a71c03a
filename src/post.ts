// The post step: a background worker that no wait step collected is reported (or, if still
// running, stopped), so nothing is silent and nothing outlives the job.
import { isAlive, isCollected, markCollected, readLogFrom, readState, stopWorker } from "./background.js";
import type { Host } from "./main.js";
import { replayLog, summaryMarkdown, textTable } from "./report.js";

export async function post(host: Host, workerDir: string): Promise<void> {
  if (!workerDir || isCollected(workerDir)) return;
  const state = readState(workerDir);
  const log = readLogFrom(workerDir, 0);
  if (state && state.status !== "done" && isAlive(state.pid)) {
    host.log.warning(
      `the background pull is still running and no step with mode: wait collected it; stopping it (worker pid ${state.pid})`,
    );
    if (log.text) replayLog(log.text, host.log);
    stopWorker(state.pid);
    markCollected(workerDir);
    return;
  }
  if (log.text) replayLog(log.text, host.log);
  const results = state?.results ?? [];
  host.log.notice(
    `the background pull finished but no step with mode: wait collected it: ${results.filter((r) => r.status === "failed").length} of ${results.length} image(s) failed`,
  );
  if (results.length > 0) host.log.info(textTable(results));
  for (const problem of state?.problems ?? []) host.log.warning(problem);
  await host.writeSummary(summaryMarkdown(results, "prepull (background, reported by the post step)"));
  markCollected(workerDir);
}
