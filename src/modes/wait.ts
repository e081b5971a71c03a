// mode: wait — collect the background pulls of this job that no wait step has collected:
// stream each worker's log (through the logger's neutraliser) until it is done, within a
// deadline that leaves room for the whole list, then hand the results to the report.
import {
  isAlive,
  markCollected,
  readLogFrom,
  readRequest,
  readState,
  stopWorker,
  uncollectedWorkers,
  type WorkerRequest,
} from "../background.js";
import type { Host } from "../host.js";
import { type Config, readConfig } from "../inputs.js";
import { formatReference } from "../reference.js";
import { failedResult, type Result, replayLog } from "../report.js";

/** What the wait collected, for the report; the background step's `on-failure` decides. */
export interface Collected {
  readonly results: Result[];
  readonly problems: string[];
  readonly onFailure: Config["onFailure"];
}

/**
 * mode: wait — stream each uncollected worker's log until it is done, then report. The deadline
 * leaves room for the whole list: every round of `concurrency` images may use pull-timeout on
 * each of its attempts. At the deadline the worker is stopped; images it had finished keep
 * their results, the rest fail.
 */
export async function waitForWorkers(host: Host): Promise<Collected | undefined> {
  const env = host.env ?? process.env;
  const dirs = uncollectedWorkers(env);
  host.setOutput("images", dirs.flatMap((dir) => readRequest(dir).images.map((spec) => formatReference(spec.upstream))).join("\n"));
  if (dirs.length === 0) {
    host.setOutput("results", "[]");
    host.setOutput("failed", "0");
    host.setFailed("mode: wait found no background pull in this job to wait for: start one earlier with background: true");
    return undefined;
  }
  const results: Result[] = [];
  const problems: string[] = [];
  let onFailure: Config["onFailure"] = "warn";
  for (const dir of dirs) {
    const request = readRequest(dir);
    const config = backgroundSettings(request, host);
    if (config.onFailure === "fail") onFailure = "fail";
    const collected = await waitForOne(dir, request, config, host);
    results.push(...collected.results);
    problems.push(...collected.problems);
    markCollected(dir);
  }
  return { results, problems, onFailure };
}

/**
 * The background step's own settings: it decided how long its pulls may take. They were valid
 * when it started; should a file they name (images-file) be gone since, they are read without
 * it (only the deadline and on-failure are used here).
 */
function backgroundSettings(request: WorkerRequest, host: Host): Config {
  const read = (files: boolean) =>
    readConfig(
      (name) => (!files && (name === "images-file" || name === "images-from") ? "" : (request.inputs[name] ?? "")),
      host.workspace,
    );
  try {
    return read(true);
  } catch {
    return read(false);
  }
}

/** One worker: its log replayed as it grows, until it is done, gone, or past the deadline. */
async function waitForOne(
  dir: string,
  request: WorkerRequest,
  config: Config,
  host: Host,
): Promise<{ results: Result[]; problems: string[] }> {
  const rounds = Math.max(1, Math.ceil(request.images.length / config.concurrency));
  const allowed = rounds * config.attempts * config.pullTimeoutSeconds;
  const deadline = Date.now() + allowed * 1000;
  host.log.info(`waiting for the background pull started ${request.started} (${request.images.length} image(s), at most ${allowed} s)`);
  let offset = 0;
  const replay = () => {
    const chunk = readLogFrom(dir, offset);
    offset = chunk.offset;
    if (chunk.text) replayLog(chunk.text, host.log);
  };
  for (;;) {
    replay();
    const state = readState(dir);
    if (state?.status === "done") {
      replay();
      return { results: state.results ?? [], problems: state.problems ?? [] };
    }
    const ended = !state || !isAlive(state.pid);
    if (ended || Date.now() > deadline) {
      if (!ended) stopWorker(state.pid);
      replay();
      const problem = ended
        ? `the background worker (pid ${state?.pid ?? "?"}) ended without results; its log is above`
        : `the background pull did not finish within ${allowed} s (pull-timeout × attempts for each round of concurrency images); stopped`;
      const why = ended ? "the background worker ended without a result" : "stopped at the wait step's deadline";
      return { results: unfinished(request, state?.results ?? [], why), problems: [problem] };
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** The results a stopped worker had written, and a failed one for each image it had not finished. */
function unfinished(request: WorkerRequest, finished: readonly Result[], why: string): Result[] {
  const named = new Set(finished.map((r) => r.image));
  const missing = request.images.map((spec) => formatReference(spec.upstream)).filter((image) => !named.has(image));
  return [...finished, ...missing.map((image) => failedResult(image, why))];
}
