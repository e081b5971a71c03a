// The run, as orchestration only: read inputs, resolve images, hand them to the mode, report.
import { tmpdir } from "node:os";
import {
  isAlive,
  markCollected,
  readLogFrom,
  readRequest,
  readState,
  startWorker,
  stopWorker,
  uncollectedWorkers,
  writeState,
} from "./background.js";
import { Engine } from "./engine.js";
import type { Host } from "./host.js";
import { type Config, type ImageLineError, type ImageSpec, InputError, readConfig } from "./inputs.js";
import { mirrorImages } from "./mirror.js";
import { planAll } from "./planmode.js";
import { probeHooks } from "./probe.js";
import { pullAll } from "./pullmode.js";
import { formatReference } from "./reference.js";
import { EngineAuth } from "./engineconfig.js";
import { Credentials } from "./registry/auth.js";
import { RegistryClient } from "./registry/client.js";
import { platformSpec } from "./registry/manifests.js";
import { failedResult, type Result, resultsJson, summaryMarkdown } from "./report.js";
import { resolveSetVars } from "./setvars.js";

export type { Host } from "./host.js";

export interface RunOutcome {
  readonly results: Result[];
  /** true when the step should fail */
  readonly failed: boolean;
}

export async function run(host: Host): Promise<RunOutcome> {
  let config: Config;
  try {
    config = readConfig(host.getInput, host.workspace);
  } catch (error) {
    if (!(error instanceof InputError)) throw error;
    host.setFailed(error.message);
    return { results: [], failed: true };
  }
  if (config.githubToken) host.setSecret(config.githubToken);
  const { log } = host;
  if (config.mode === "wait") return waitForWorkers(config, host);

  const problems: string[] = [];
  const images: ImageSpec[] = [...config.images];
  const lineErrors: ImageLineError[] = [...config.imageErrors];
  if (config.setVars) {
    const outcome = await resolveSetVars(config, log);
    if (outcome.problem) problems.push(outcome.problem);
    for (const spec of outcome.images) {
      if ("message" in spec) lineErrors.push(spec);
      else if (!images.some((i) => formatReference(i.upstream) === formatReference(spec.upstream))) images.push(spec);
    }
  }
  for (const e of lineErrors) log.error(`${e.origin}: ${e.message}; nothing is pulled for it`);
  const invalid = lineErrors.map((e) => failedResult(e.text, `${e.origin}: ${e.message}`));
  host.setOutput("images", images.map((i) => formatReference(i.upstream)).join("\n"));

  if (config.background) {
    if (!host.workerEntry) throw new Error("background: true needs the action's own bundle to start a worker");
    const worker = startWorker({ images, invalid, problems, started: new Date().toISOString() }, host.workerEntry, host.env ?? process.env);
    host.saveState?.("workerDir", worker.dir);
    log.info(
      `started a background pull of ${images.length} image(s) (worker pid ${worker.pid}); a later step with mode: wait collects the results`,
    );
    return { results: [], failed: false };
  }
  const results = [...invalid, ...(images.length > 0 ? await processImages(images, config, host) : [])];
  return finishRun(results, problems, config, host);
}

/** The detached worker's run: pull what the step resolved, leave results in its state file. */
export async function runWorker(host: Host, dir: string): Promise<void> {
  const request = readRequest(dir);
  const pid = process.pid;
  let results: Result[] = [...request.invalid];
  const problems = [...request.problems];
  try {
    const config = readConfig(host.getInput, host.workspace);
    results = [...results, ...(request.images.length > 0 ? await processImages(request.images, config, host) : [])];
  } catch (error) {
    problems.push(`background worker failed: ${(error as Error).message}`);
  }
  writeState(dir, { status: "done", pid, results, problems, finished: new Date().toISOString() });
}

/** mode: wait — stream each uncollected worker's log until it is done (bounded by pull-timeout), then report. */
async function waitForWorkers(config: Config, host: Host): Promise<RunOutcome> {
  const env = host.env ?? process.env;
  const dirs = uncollectedWorkers(env);
  if (dirs.length === 0) {
    host.setFailed("mode: wait found no background pull in this job to wait for: start one earlier with background: true");
    return { results: [], failed: true };
  }
  const results: Result[] = [];
  const problems: string[] = [];
  const deadline = Date.now() + config.pullTimeoutSeconds * 1000;
  for (const dir of dirs) {
    const request = readRequest(dir);
    host.log.info(`waiting for the background pull started ${request.started} (${request.images.length} image(s))`);
    let offset = 0;
    for (;;) {
      const chunk = readLogFrom(dir, offset);
      offset = chunk.offset;
      if (chunk.text) host.log.raw?.(chunk.text);
      const state = readState(dir);
      if (state?.status === "done") {
        const rest = readLogFrom(dir, offset);
        if (rest.text) host.log.raw?.(rest.text);
        results.push(...(state.results ?? []));
        problems.push(...(state.problems ?? []));
        break;
      }
      if (!state || !isAlive(state.pid)) {
        problems.push(`the background worker (pid ${state?.pid ?? "?"}) ended without results; its log is above`);
        results.push(
          ...request.images.map((spec) => failedResult(formatReference(spec.upstream), "the background worker ended without a result")),
        );
        break;
      }
      if (Date.now() > deadline) {
        stopWorker(state.pid);
        problems.push(`the background pull did not finish within pull-timeout (${config.pullTimeoutSeconds} s); stopped`);
        results.push(
          ...request.images.map((spec) => failedResult(formatReference(spec.upstream), "the background pull was stopped at pull-timeout")),
        );
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    markCollected(dir);
  }
  return finishRun(results, problems, config, host);
}

async function processImages(images: readonly ImageSpec[], config: Config, host: Host): Promise<Result[]> {
  const baseEnv = host.env ?? process.env;
  const credentials = new Credentials(baseEnv, config.githubToken);
  // A probe waits for an answer 15 s at most (DESIGN.md), and never longer than a whole pull may take.
  const client = new RegistryClient(credentials, Math.min(15_000, config.pullTimeoutSeconds * 1000));
  const settings = {
    verify: config.verify,
    platform: platformSpec(config.platform),
    attempts: config.attempts,
    backoffSeconds: config.backoffSeconds,
  };
  try {
    if (config.mode === "plan") return await planAll(images, config, client, settings, host);
    if (config.mode === "mirror") return await mirrorImages(images, config, client, settings, host);
    const auth = config.githubToken ? new EngineAuth(baseEnv, config.githubToken, baseEnv.RUNNER_TEMP || tmpdir()) : undefined;
    try {
      const hooks = probeHooks(
        client,
        settings,
        (image, line) => host.log.warning(`${image}: ${line}`),
        (line) => host.log.info(line),
        // Before each pull: where github-token got the probes in, the engine gets it too.
        () => auth?.sync(client.githubTokenRegistries) ?? Promise.resolve(),
      );
      return await pullAll(images, config, host, new Engine(config.engine, () => auth?.engineEnv() ?? baseEnv), hooks);
    } finally {
      await auth?.cleanup();
    }
  } finally {
    client.dispose();
  }
}

async function finishRun(results: Result[], problems: readonly string[], config: Config, host: Host): Promise<RunOutcome> {
  const failedCount = results.filter((r) => r.status === "failed").length;
  host.setOutput("results", resultsJson(results));
  host.setOutput("failed", String(failedCount));
  await host.writeSummary(summaryMarkdown(results));
  const messages = [...problems, ...results.filter((r) => r.status === "failed").map((r) => `${r.image}: ${r.reason}`)];
  if (messages.length === 0) return { results, failed: false };
  if (config.onFailure === "fail") {
    for (const message of messages.slice(0, -1)) host.log.error(message);
    host.setFailed(messages.at(-1) ?? "");
    return { results, failed: true };
  }
  for (const message of messages) host.log.warning(`${message} (on-failure: warn, the build's own pull is the last resort)`);
  return { results, failed: false };
}
