// mode: wait — collect the background pulls of this job that no wait step has collected:
// stream each worker's log (through the logger's neutraliser) until it is done, within a
// deadline that leaves room for the whole list, then hand the results to the report.
import {
  completeResults,
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
import { backoffSeconds } from "../pull/policy.js";
import { sourcesOf } from "../pull/sources.js";
import { ANSWER_TIMEOUT_MS } from "../registry/http.js";
import { replayLog } from "../report/log.js";
import type { Result } from "../report/results.js";
import { type Config, type ImageSpec, readConfig } from "../resolve/inputs.js";
import { formatReference } from "../resolve/reference.js";

/** What the wait collected, for the report; the background step's `on-failure` decides. */
export interface Collected {
  readonly results: Result[];
  readonly problems: string[];
  readonly onFailure: Config["onFailure"];
}

/**
 * mode: wait — stream each uncollected worker's log until it is done, then report. The deadline
 * leaves room for the whole list (waitSeconds). At the deadline the worker is stopped; images it
 * had finished keep their results, the rest fail; so does any image a worker gave no result for.
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
 * The background step's own settings: it decided how long its pulls may take. The files its
 * inputs name are not read again (the step resolved its images; only the deadline, the sources
 * and on-failure are used here).
 */
function backgroundSettings(request: WorkerRequest, host: Host): Config {
  return readConfig((name) => request.inputs[name] ?? "", host.workspace, { files: false });
}

/** One worker: its log replayed as it grows, until it is done, gone, or past the deadline. */
async function waitForOne(
  dir: string,
  request: WorkerRequest,
  config: Config,
  host: Host,
): Promise<{ results: Result[]; problems: string[] }> {
  const allowed = waitSeconds(request.images, config);
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
      const results = completeResults(request, state.results ?? [], "the background worker finished without a result for it");
      return { results, problems: state.problems ?? [] };
    }
    const ended = !state || !isAlive(state.pid);
    if (ended || Date.now() > deadline) {
      if (!ended) stopWorker(state.pid);
      replay();
      const problem = ended
        ? `the background worker (pid ${state?.pid ?? "?"}) ended without results; its log is above`
        : `the background pull did not finish within ${allowed} s (every source of every image, each attempt to its pull-timeout, with backoff, for each round of concurrency images); stopped`;
      const why = ended ? "the background worker ended without a result" : "stopped at the wait step's deadline";
      return { results: completeResults(request, state?.results ?? [], why), problems: [problem] };
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** A probe's answer deadline (registry/http.ts), for a mirror's and upstream's HEADs of one attempt. */
const PROBE_SECONDS = (2 * ANSWER_TIMEOUT_MS) / 1000;
/** The engine check, the disk guard, tagging: time outside any pull. */
const MARGIN_SECONDS = 10;

/**
 * How long a healthy worker may take: each image tries each of its sources (its mirrors, then
 * upstream), `attempts` times each, every attempt a probe and a pull of up to pull-timeout, with
 * the backoff between attempts (at its most: jitter × 1.5, capped) before the probe's retries
 * and the pull's; images go `concurrency` at a time, so each round may take the longest image's.
 */
export function waitSeconds(images: readonly ImageSpec[], config: Config): number {
  let backoff = 0;
  for (let retry = 1; retry < config.attempts; retry++) {
    backoff += backoffSeconds(retry, config.backoffSeconds, () => 1); // the jitter at its most
  }
  const perSource = config.attempts * (config.pullTimeoutSeconds + PROBE_SECONDS) + 2 * backoff;
  const longest = Math.max(1, ...images.map((spec) => sourcesOf(spec, config).length));
  const rounds = Math.max(1, Math.ceil(images.length / config.concurrency));
  return Math.ceil(rounds * longest * perSource + MARGIN_SECONDS);
}
