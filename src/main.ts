// The run, as orchestration only: read inputs, resolve images, hand them to the mode, report.
import { completeResults, readRequest, startWorker, type WorkerRequest, writeState } from "./background.js";
import type { Host } from "./host.js";
import { failedResult, type Result, resultsJson } from "./report/results.js";
import { summaryMarkdown } from "./report/summary.js";
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
} from "./resolve/inputs.js";
import { formatReference } from "./resolve/reference.js";

/** Said when the run ended without finishing (see whenUnfinished): a bug, never a registry's doing. */
export const UNFINISHED =
  "prepull: stopped before it finished, left waiting for something that never came (a bug in prepull: please report it with this log); no results were written";

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
  if (config.mode === "wait") {
    const { waitForWorkers } = await import("./modes/wait.js");
    const collected = await waitForWorkers(host);
    if (!collected) return { results: [], failed: true };
    return finishRun(collected.results, collected.problems, collected.onFailure, host);
  }

  const problems: string[] = [];
  const named: (ImageSpec | ImageLineError)[] = [...config.images, ...config.imageErrors];
  if (config.setVars) {
    const { resolveSetVars } = await import("./resolve/setvars.js");
    const outcome = await resolveSetVars(config, log);
    if (outcome.problem) problems.push(outcome.problem);
    named.push(...outcome.images);
  }
  if (config.imagesFrom.length > 0) {
    const { resolveImagesFrom } = await import("./resolve/imagesfrom.js");
    const outcome = await resolveImagesFrom(config, host.env ?? process.env, log);
    problems.push(...outcome.problems);
    named.push(...outcome.images);
  }
  const images = mergeImages(named.filter((spec): spec is ImageSpec => !("message" in spec)));
  const lineErrors = named.filter((spec): spec is ImageLineError => "message" in spec);
  for (const e of lineErrors) log.error(`${e.origin}: ${e.message}; nothing is pulled for it`);
  // A line read from a file is named by its origin (its text is not shown): said once, not twice.
  const invalid = lineErrors.map((e) => ({
    ...failedResult(e.text, e.text === e.origin ? e.message : `${e.origin}: ${e.message}`),
    origin: e.origin,
  }));
  host.setOutput("images", images.map((i) => formatReference(i.upstream)).join("\n"));

  if (config.background) {
    await background(host, config, { images, invalid, problems, started: new Date().toISOString() });
    return { results: [], failed: false };
  }
  const results = [...invalid, ...(images.length > 0 ? await processImages(images, config, host) : [])];
  return finishRun(results, problems, config.onFailure, host);
}

/** background: true — the worker gets what the step resolved, the inputs (token aside) and, on its stdin, the token. */
async function background(host: Host, config: Config, request: Omit<WorkerRequest, "inputs">): Promise<void> {
  if (!host.workerEntry) throw new Error("background: true needs the action's own bundle to start a worker");
  const inputs = Object.fromEntries(INPUT_NAMES.filter((name) => name !== "github-token").map((name) => [name, host.getInput(name)]));
  const worker = await startWorker({ ...request, inputs }, host.workerEntry, config.githubToken ?? "", host.env ?? process.env);
  host.saveState?.("workerDir", worker.dir);
  host.log.info(
    `started a background pull of ${request.images.length} image(s) (worker pid ${worker.pid}); a later step with mode: wait collects the results`,
  );
}

/**
 * The detached worker's run: pull what the step resolved, leaving each result in its state file
 * as it finishes. The step resolved the images: the files inputs name are not read again. Come
 * what may, its last state has a result for every image (completeResults).
 */
export async function runWorker(host: Host, dir: string, request: WorkerRequest = readRequest(dir)): Promise<void> {
  const pid = process.pid;
  const done: Result[] = [];
  const problems = [...request.problems];
  let pulled: Result[] | undefined;
  let why = "the background worker ended before this image's result";
  try {
    const config = readConfig(host.getInput, host.workspace, { files: false });
    const onResult = (result: Result) => {
      done.push(result);
      writeState(dir, { status: "running", pid, results: [...request.invalid, ...done] });
    };
    pulled = request.images.length > 0 ? await processImages(request.images, config, { ...host, onResult }) : [];
  } catch (error) {
    problems.push(`background worker failed: ${(error as Error).message}`);
    why = `the background worker failed before this image's result: ${(error as Error).message}`;
  }
  const results = completeResults(request, pulled ?? done, why);
  writeState(dir, { status: "done", pid, results, problems, finished: new Date().toISOString() });
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
  const { runMode } = await import("./modes/run.js");
  const results = await runMode(images, config, host);
  return results.map((result, i) => {
    const platform = images[i]?.platform ?? config.platform;
    return { ...result, origin: images[i]?.origin ?? "", ...(platform && { platform }) };
  });
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
