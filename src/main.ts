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
  type WorkerRequest,
  writeState,
} from "./background.js";
import { Engine } from "./engine.js";
import { EngineAuth } from "./engineconfig.js";
import type { Host } from "./host.js";
import { resolveImagesFrom } from "./imagesfrom.js";
import {
  type Config,
  type ImageLineError,
  type ImageSpec,
  INPUT_NAMES,
  InputError,
  mergeImages,
  parseImageLine,
  parseLines,
  readConfig,
} from "./inputs.js";
import { mirrorImages } from "./mirror.js";
import { planAll } from "./planmode.js";
import { probeHooks } from "./probe.js";
import { pullAll } from "./pullmode.js";
import { formatReference } from "./reference.js";
import { Credentials } from "./registry/auth.js";
import { RegistryClient } from "./registry/client.js";
import { platformSpec } from "./registry/manifests.js";
import { failedResult, type Result, replayLog, resultsJson, summaryMarkdown } from "./report.js";
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
    // Outputs are set all the same: a later step reading them finds the run's shape, not nothing.
    host.setOutput("images", imagesNamed(host.getInput).join("\n"));
    host.setOutput("results", "[]");
    host.setOutput("failed", "0");
    host.setFailed(`${error.message}; nothing was pulled`);
    return { results: [], failed: true };
  }
  if (config.githubToken) host.setSecret(config.githubToken);
  const { log } = host;
  if (config.mode === "wait") return waitForWorkers(host);

  const problems: string[] = [];
  const named: (ImageSpec | ImageLineError)[] = [...config.images, ...config.imageErrors];
  if (config.setVars) {
    const outcome = await resolveSetVars(config, log);
    if (outcome.problem) problems.push(outcome.problem);
    named.push(...outcome.images);
  }
  if (config.imagesFrom.length > 0) {
    const outcome = await resolveImagesFrom(config, host.env ?? process.env, log);
    problems.push(...outcome.problems);
    named.push(...outcome.images);
  }
  const images = mergeImages(named.filter((spec): spec is ImageSpec => !("message" in spec)));
  const lineErrors = named.filter((spec): spec is ImageLineError => "message" in spec);
  for (const e of lineErrors) log.error(`${e.origin}: ${e.message}; nothing is pulled for it`);
  const invalid = lineErrors.map((e) => ({ ...failedResult(e.text, `${e.origin}: ${e.message}`), origin: e.origin }));
  host.setOutput("images", images.map((i) => formatReference(i.upstream)).join("\n"));

  if (config.background) {
    if (!host.workerEntry) throw new Error("background: true needs the action's own bundle to start a worker");
    const inputs = Object.fromEntries(INPUT_NAMES.filter((name) => name !== "github-token").map((name) => [name, host.getInput(name)]));
    const worker = startWorker(
      { images, invalid, problems, started: new Date().toISOString(), inputs },
      host.workerEntry,
      config.githubToken ?? "",
      host.env ?? process.env,
    );
    host.saveState?.("workerDir", worker.dir);
    log.info(
      `started a background pull of ${images.length} image(s) (worker pid ${worker.pid}); a later step with mode: wait collects the results`,
    );
    return { results: [], failed: false };
  }
  const results = [...invalid, ...(images.length > 0 ? await processImages(images, config, host) : [])];
  return finishRun(results, problems, config.onFailure, host);
}

/** The detached worker's run: pull what the step resolved, leaving each result in its state file as it finishes. */
export async function runWorker(host: Host, dir: string, request: WorkerRequest = readRequest(dir)): Promise<void> {
  const pid = process.pid;
  let results: Result[] = [...request.invalid];
  const problems = [...request.problems];
  try {
    const config = readConfig(host.getInput, host.workspace);
    const done: Result[] = [];
    const onResult = (result: Result) => {
      done.push(result);
      writeState(dir, { status: "running", pid, results: [...results, ...done] });
    };
    results = [...results, ...(request.images.length > 0 ? await processImages(request.images, config, { ...host, onResult }) : [])];
  } catch (error) {
    problems.push(`background worker failed: ${(error as Error).message}`);
  }
  writeState(dir, { status: "done", pid, results, problems, finished: new Date().toISOString() });
}

/**
 * mode: wait — stream each uncollected worker's log until it is done, then report. The deadline
 * leaves room for the whole list: every round of `concurrency` images may use pull-timeout on
 * each of its attempts. At the deadline the worker is stopped; images it had finished keep
 * their results, the rest fail.
 */
async function waitForWorkers(host: Host): Promise<RunOutcome> {
  const env = host.env ?? process.env;
  const dirs = uncollectedWorkers(env);
  host.setOutput("images", dirs.flatMap((dir) => readRequest(dir).images.map((spec) => formatReference(spec.upstream))).join("\n"));
  if (dirs.length === 0) {
    host.setOutput("results", "[]");
    host.setOutput("failed", "0");
    host.setFailed("mode: wait found no background pull in this job to wait for: start one earlier with background: true");
    return { results: [], failed: true };
  }
  const results: Result[] = [];
  const problems: string[] = [];
  let onFailure: Config["onFailure"] = "warn";
  for (const dir of dirs) {
    const request = readRequest(dir);
    // The background step's own settings: it decided how long its pulls may take.
    const config = readConfig((name) => request.inputs[name] ?? "", host.workspace);
    if (config.onFailure === "fail") onFailure = "fail";
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
        results.push(...(state.results ?? []));
        problems.push(...(state.problems ?? []));
        break;
      }
      const ended = !state || !isAlive(state.pid);
      if (ended || Date.now() > deadline) {
        if (!ended) stopWorker(state.pid);
        replay();
        problems.push(
          ended
            ? `the background worker (pid ${state?.pid ?? "?"}) ended without results; its log is above`
            : `the background pull did not finish within ${allowed} s (pull-timeout × attempts for each round of concurrency images); stopped`,
        );
        results.push(
          ...unfinished(
            request,
            state?.results ?? [],
            ended ? "the background worker ended without a result" : "stopped at the wait step's deadline",
          ),
        );
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    markCollected(dir);
  }
  return finishRun(results, problems, onFailure, host);
}

/** The results a stopped worker had written, and a failed one for each image it had not finished. */
function unfinished(request: WorkerRequest, finished: readonly Result[], why: string): Result[] {
  const named = new Set(finished.map((r) => r.image));
  const missing = request.images.map((spec) => formatReference(spec.upstream)).filter((image) => !named.has(image));
  return [...finished, ...missing.map((image) => failedResult(image, why))];
}

/** The valid references of the `images` input, for the `images` output when another input stopped the run. */
function imagesNamed(getInput: Host["getInput"]): string[] {
  return parseLines(getInput("images"), { inlineComments: true }).flatMap(({ text }) => {
    const spec = parseImageLine(text, "images");
    return "message" in spec ? [] : [formatReference(spec.upstream)];
  });
}

/** Each image's result, in the order of `images`, saying where the image was named. */
async function processImages(images: readonly ImageSpec[], config: Config, host: Host): Promise<Result[]> {
  const results = await runMode(images, config, host);
  return results.map((result, i) => ({ ...result, origin: images[i]?.origin ?? "" }));
}

async function runMode(images: readonly ImageSpec[], config: Config, host: Host): Promise<Result[]> {
  const baseEnv = host.env ?? process.env;
  const credentials = new Credentials(baseEnv, config.githubToken, undefined, undefined, config.engine);
  if (credentials.problem) host.log.warning(credentials.problem);
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

async function finishRun(results: Result[], problems: readonly string[], onFailure: Config["onFailure"], host: Host): Promise<RunOutcome> {
  const failedCount = results.filter((r) => r.status === "failed").length;
  host.setOutput("results", resultsJson(results));
  host.setOutput("failed", String(failedCount));
  await host.writeSummary(summaryMarkdown(results));
  const messages = [...problems, ...results.filter((r) => r.status === "failed").map((r) => `${r.image}: ${r.reason}`)];
  if (messages.length === 0) return { results, failed: false };
  if (onFailure === "fail") {
    for (const message of messages.slice(0, -1)) host.log.error(message);
    host.setFailed(messages.at(-1) ?? "");
    return { results, failed: true };
  }
  for (const message of messages) host.log.warning(`${message} (on-failure: warn, the build's own pull is the last resort)`);
  return { results, failed: false };
}
