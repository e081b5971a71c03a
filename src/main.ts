// The run, as orchestration only: read inputs, resolve images, pull each, report.
import { statfs } from "node:fs/promises";
import { tmpdir } from "node:os";
import pLimit from "p-limit";
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
import { type DiskVerdict, diskVerdict } from "./disk.js";
import { Engine, EngineMissingError } from "./engine.js";
import { type Config, type GetInput, type ImageSpec, InputError, parseImageLine, readConfig } from "./inputs.js";
import { Copier, CopyError } from "./mirror.js";
import { type Source, sourcesFor } from "./plan.js";
import { type ImageHooks, ImageProbe, type ProbeSettings, probeHooks, quotaText, type SizeEstimate } from "./probe.js";
import { presentLocally, pullImage } from "./pull.js";
import { formatReference } from "./reference.js";
import { Credentials, engineConfigWithToken } from "./registry/auth.js";
import { RegistryClient } from "./registry/client.js";
import { platformSpec } from "./registry/manifests.js";
import { formatBytes, type Logger, type Result, resultsJson, summaryMarkdown } from "./report.js";
import { TransientError } from "./retry.js";
import { evaluateScript, fetchScript, SetVarsError, sha256Hex } from "./setvars.js";

/** What a run needs from its host: the Actions runner or the CLI. */
export interface Host {
  readonly getInput: GetInput;
  readonly log: Logger;
  setOutput(name: string, value: string): void;
  writeSummary(markdown: string): Promise<void>;
  setFailed(message: string): void;
  setSecret(secret: string): void;
  /** environment for the engine CLI (DOCKER_HOST, DOCKER_CONFIG, …) */
  readonly env?: NodeJS.ProcessEnv;
  readonly workspace?: string;
  /** the bundle to start as a background worker (the action's own dist/index.cjs) */
  readonly workerEntry?: string;
  /** keeps a value for the post step (core.saveState) */
  saveState?(name: string, value: string): void;
}

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
  const invalid: Result[] = config.imageErrors.map((e) => failedResult(e.text, `${e.origin}: ${e.message}`));
  for (const e of config.imageErrors) log.error(`${e.origin}: ${e.message}; nothing is pulled for it`);

  if (config.setVars) {
    const outcome = await resolveSetVars(config, log);
    if (outcome.problem) problems.push(outcome.problem);
    for (const spec of outcome.images) {
      if ("message" in spec) {
        log.error(`${spec.origin}: ${spec.message}; nothing is pulled for it`);
        invalid.push(failedResult(spec.text, `${spec.origin}: ${spec.message}`));
      } else if (!images.some((i) => formatReference(i.upstream) === formatReference(spec.upstream))) {
        images.push(spec);
      }
    }
  }
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
  const client = new RegistryClient(credentials);
  const settings = {
    verify: config.verify,
    platform: platformSpec(config.platform),
    attempts: config.attempts,
    backoffSeconds: config.backoffSeconds,
  };
  try {
    if (config.mode === "plan") return await planAll(images, config, client, settings, host);
    if (config.mode === "mirror") return await mirrorAll(images, config, client, settings, host);
    const engineAuth = await engineConfigWithToken(baseEnv, config.githubToken, baseEnv.RUNNER_TEMP || tmpdir());
    try {
      return await pullAll(
        images,
        config,
        host,
        new Engine(config.engine, engineAuth?.env ?? host.env),
        probeHooks(
          client,
          settings,
          (image, line) => host.log.warning(`${image}: ${line}`),
          (line) => host.log.info(line),
        ),
      );
    } finally {
      await engineAuth?.cleanup();
    }
  } finally {
    client.dispose();
  }
}

async function pullAll(
  images: readonly ImageSpec[],
  config: Config,
  host: Host,
  engine: Engine,
  probes: ReturnType<typeof probeHooks>,
): Promise<Result[]> {
  try {
    await engine.check();
  } catch (error) {
    if (!(error instanceof EngineMissingError)) throw error;
    host.log.error(error.message);
    return images.map((spec) => failedResult(formatReference(spec.upstream), error.message));
  }
  // One set of probes per image, shared by the disk guard and the pull: each source is probed once.
  const work = images.map((spec) => {
    const lines: string[] = [];
    const log = (line: string) => lines.push(line);
    return {
      spec,
      lines,
      log,
      hooks: probes.hooks(spec, log),
      sources: sourcesFor(spec.upstream, config.mirrors, config.mirrorMap, spec.explicitMirror),
    };
  });
  const disk = await checkDisk(work, engine, config, host);
  if (disk && !disk.enough && config.onFailure === "fail") {
    return images.map((spec) => failedResult(formatReference(spec.upstream), `${disk.message}; nothing pulled (on-failure: fail)`));
  }
  const limit = pLimit(config.concurrency);
  return Promise.all(
    work.map(({ spec, lines, log, hooks, sources }) =>
      limit(async () => {
        const image = formatReference(spec.upstream);
        host.log.info(`→ ${image} (${spec.origin})`);
        let result: Result;
        try {
          result = await pullImage(spec, sources, engine, config, log, hooks);
        } catch (error) {
          lines.push(`unexpected error: ${(error as Error).message}`);
          result = failedResult(image, (error as Error).message);
        }
        host.log.group(
          `${image}: ${result.status}${result.source !== "none" ? ` from ${result.source}` : ""} (${result.seconds.toFixed(1)} s)`,
          lines,
        );
        return result;
      }),
    ),
  );
}

/** Before any byte moves: what the images will need on disk against the engine's free space. */
async function checkDisk(
  work: readonly { spec: ImageSpec; hooks: ImageHooks; sources: Source[] }[],
  engine: Engine,
  config: Config,
  host: Host,
): Promise<DiskVerdict | undefined> {
  const root = await engine.dataRoot();
  if (!root) {
    host.log.info("disk space: the engine did not say where it keeps images; not checked");
    return undefined;
  }
  let free: number;
  try {
    const stats = await statfs(root);
    free = stats.bavail * stats.bsize;
  } catch {
    host.log.info(`disk space: ${root} (the engine's data root) is not visible from here (a remote engine?); not checked`);
    return undefined;
  }
  const limit = pLimit(4);
  const estimates = await Promise.all(
    work.map(({ spec, hooks, sources }) =>
      limit(
        async (): Promise<{ image: string; estimate: SizeEstimate }> => ({
          image: formatReference(spec.upstream),
          estimate: (await presentLocally(spec, engine, hooks)) ? { bytes: 0 } : await hooks.sizeEstimate(sources),
        }),
      ),
    ),
  );
  const compressed = estimates.reduce((sum, { estimate }) => sum + (estimate.bytes ?? 0), 0);
  const unknown = estimates.flatMap(({ image, estimate }) => (estimate.bytes === undefined ? [`${image}: ${estimate.note}`] : []));
  const verdict = diskVerdict(compressed, free, root, unknown, unknown.length < estimates.length || estimates.length === 0);
  if (verdict.enough) host.log.info(verdict.message);
  else if (config.onFailure === "fail") host.log.error(verdict.message);
  else host.log.warning(`${verdict.message}; pulling anyway (on-failure: warn)`);
  return verdict;
}

/** plan: resolve and probe every source, pull nothing; per mirror `ok`, `missing` or `differs`. */
async function planAll(
  images: readonly ImageSpec[],
  config: Config,
  client: RegistryClient,
  settings: ProbeSettings,
  host: Host,
): Promise<Result[]> {
  const limit = pLimit(Math.max(config.concurrency, 4));
  return Promise.all(
    images.map((spec) =>
      limit(async () => {
        const started = performance.now();
        const image = formatReference(spec.upstream);
        const lines: string[] = [];
        const probe = new ImageProbe(client, spec, settings, (line) => lines.push(line));
        const upstream = await probe.upstream();
        const sources = sourcesFor(spec.upstream, config.mirrors, config.mirrorMap, spec.explicitMirror);
        const states: string[] = [];
        let chosen: { source: Source; digest: string } | undefined;
        for (const source of sources.filter((s) => s.kind === "mirror")) {
          const assessed = await probe.assessMirror(source.ref);
          const name = formatReference(source.ref);
          const word =
            assessed.state === "ok" || assessed.state === "unverified" ? (assessed.state === "ok" ? "ok" : "unverified") : assessed.state;
          states.push(
            `${name}: ${word}${assessed.state === "differs" ? ` (mirror ${assessed.digest}, upstream ${upstream.kind === "found" ? upstream.digest : "?"})` : ""}`,
          );
          lines.push(`${name}: ${assessed.state}: ${assessed.detail}`);
          if (!chosen && (assessed.state === "ok" || assessed.state === "unverified")) chosen = { source, digest: assessed.digest };
        }
        lines.push(`upstream ${image}: ${upstream.kind === "found" ? `digest ${upstream.digest}` : upstream.detail}`);
        const upstreamSource = sources.find((s) => s.kind === "upstream");
        if (!chosen && upstream.kind === "found" && upstreamSource && upstream.quota?.remaining !== 0)
          chosen = { source: upstreamSource, digest: upstream.digest };
        const quota = "quota" in upstream && upstream.quota ? quotaText(upstream.quota) : undefined;
        host.log.group(`${image}: ${chosen ? `would pull from ${chosen.source.kind}` : "no source would serve it"}`, lines);
        const result: Result = {
          image,
          source: chosen ? chosen.source.kind : "none",
          ref: chosen ? formatReference(chosen.source.ref) : "",
          digest: upstream.kind === "found" ? upstream.digest : (chosen?.digest ?? ""),
          attempts: 0,
          seconds: (performance.now() - started) / 1000,
          status: chosen ? "planned" : "failed",
          reason: chosen
            ? states.filter((s) => !s.endsWith(": ok")).join("; ")
            : [...states, `upstream: ${upstream.kind === "found" ? "quota exhausted" : upstream.detail}`].join("; "),
          ...(states.length > 0 && { mirror: states.join("; ") }),
          ...(quota !== undefined && { quota }),
        };
        return result;
      }),
    ),
  );
}

/** mirror: copy each upstream image into its first mirror over the registry API. */
async function mirrorAll(
  images: readonly ImageSpec[],
  config: Config,
  client: RegistryClient,
  settings: ProbeSettings,
  host: Host,
): Promise<Result[]> {
  const limit = pLimit(config.concurrency);
  return Promise.all(
    images.map((spec) =>
      limit(async () => {
        const started = performance.now();
        const image = formatReference(spec.upstream);
        const lines: string[] = [];
        const target = sourcesFor(spec.upstream, config.mirrors, config.mirrorMap, spec.explicitMirror).find(
          (s) => s.kind === "mirror",
        )?.ref;
        const base = { image, source: "upstream" as const, ref: image, attempts: 1 };
        let result: Result;
        if (!target) {
          result = {
            ...base,
            digest: "",
            seconds: 0,
            status: "failed",
            reason: "mode: mirror needs a mirror for this image: set mirrors, mirror-map or an `UPSTREAM => MIRROR` line",
          };
        } else {
          const mirrorRef = formatReference(target);
          try {
            const outcome = await new Copier(client, settings, (line) => lines.push(line)).copy(spec.upstream, target);
            const { stats } = outcome;
            result = {
              ...base,
              digest: outcome.digest,
              seconds: (performance.now() - started) / 1000,
              status: outcome.status,
              reason:
                outcome.status === "present"
                  ? `${mirrorRef} already has upstream's digest; nothing moved`
                  : `${formatBytes(stats.bytesMoved)} moved: ${stats.blobsUploaded} blobs uploaded, ${stats.blobsMounted} mounted, ${stats.blobsPresent} already there, ${stats.manifestsPushed} manifests pushed; mirror digest checked equal`,
              size: stats.bytesMoved,
              mirror: mirrorRef,
            };
          } catch (error) {
            const message =
              error instanceof CopyError || error instanceof TransientError ? error.message : `unexpected: ${(error as Error).message}`;
            lines.push(message);
            result = {
              ...base,
              digest: "",
              seconds: (performance.now() - started) / 1000,
              status: "failed",
              reason: `copy to ${mirrorRef} failed: ${message}`,
              mirror: mirrorRef,
            };
          }
        }
        host.log.group(
          `${image}: ${result.status}${target ? ` → ${formatReference(target)}` : ""} (${result.seconds.toFixed(1)} s)`,
          lines,
        );
        return result;
      }),
    ),
  );
}

interface SetVarsOutcome {
  readonly images: (ImageSpec | { text: string; origin: string; message: string })[];
  /** a failure that `on-failure` decides about */
  readonly problem?: string;
}

async function resolveSetVars(config: Config, log: Logger): Promise<SetVarsOutcome> {
  const setVars = config.setVars;
  if (!setVars) return { images: [] };
  let body: Buffer;
  try {
    const fetched = await fetchScript(setVars.url, {
      attempts: config.attempts,
      backoffSeconds: config.backoffSeconds,
      log: (l) => log.info(l),
    });
    if (!fetched.found) {
      log.notice(
        `set-vars-url answered HTTP ${fetched.status}: there is no set-vars script at ${setVars.url} (a ref without it); no images from it, skipped`,
      );
      return { images: [] };
    }
    body = fetched.body;
  } catch (error) {
    if (!(error instanceof SetVarsError)) throw error;
    return fail(error.message);
  }
  if (setVars.sha256) {
    const actual = sha256Hex(body);
    if (actual !== setVars.sha256) {
      return fail(`set-vars script refused: its sha256 is ${actual}, set-vars-sha256 pins ${setVars.sha256}; it was not run`);
    }
  }
  const scriptName = new URL(setVars.url).pathname.split("/").pop() || "set-vars.sh";
  const evaluation = await evaluateScript(body, { env: setVars.env, variables: setVars.variables, scriptName });
  if (evaluation.output !== "") log.untrusted(`set-vars script ${scriptName} printed:`, evaluation.output);
  if (evaluation.timedOut)
    return fail("set-vars script did not finish within 30 s and was stopped (does it wait for input or the network?)");
  if (evaluation.exitCode !== 0) {
    const last = evaluation.output.trim().split("\n").pop() ?? "";
    return fail(`set-vars script exited with status ${evaluation.exitCode}${last ? `: ${last}` : ""}; no image from it`);
  }
  const images: SetVarsOutcome["images"] = [];
  const unset: string[] = [];
  for (const variable of setVars.variables) {
    const value = evaluation.values[variable];
    if (value === undefined) unset.push(variable);
    else images.push(parseImageLine(value, `set-vars ${variable}`));
  }
  for (const spec of images) if (!("message" in spec)) log.info(`set-vars: ${spec.origin} = ${formatReference(spec.upstream)}`);
  return unset.length > 0 ? { images, problem: `set-vars script left ${unset.join(", ")} unset or empty` } : { images };

  function fail(problem: string): SetVarsOutcome {
    return { images: [], problem };
  }
}

function failedResult(image: string, reason: string): Result {
  return { image, source: "none", ref: "", digest: "", attempts: 0, seconds: 0, status: "failed", reason };
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
