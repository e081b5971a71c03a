// mode: pull — each image's sources in order, and the disk guard over every image.
import { tmpdir } from "node:os";
import pLimit from "p-limit";
import { anonymousEngineEnv } from "../engine/config.js";
import { type DiskVerdict, diskVerdict } from "../engine/disk.js";
import { type Engine, EngineMissingError, type LocalImage } from "../engine/engine.js";
import type { Host } from "../host.js";
import { pullImage } from "../pull/image.js";
import { inspectUpstreamName, presentLocally } from "../pull/present.js";
import type { ImageHooks, probeHooks } from "../pull/probehooks.js";
import { type Source, sourcesOf } from "../pull/sources.js";
import type { SizeEstimate } from "../registry/probe.js";
import { failedResult, type Result } from "../report/results.js";
import type { Config, ImageSpec } from "../resolve/inputs.js";
import { formatReference } from "../resolve/reference.js";

interface ImageWork {
  readonly spec: ImageSpec;
  readonly lines: string[];
  readonly log: (line: string) => void;
  readonly hooks: ImageHooks;
  readonly sources: Source[];
  /** Whether the image needs bytes (false: it is here already), as soon as that is known. */
  readonly needed: () => Promise<boolean>;
}

type Estimate = { readonly image: string; readonly estimate: SizeEstimate };

/**
 * The engine check, the local inspects and the probes of every image start at once (nothing
 * serial that can overlap); then each image's pull, after the disk guard's verdict under
 * on-failure: fail, beside it under warn (where the verdict changes no pull).
 */
export async function pullAll(
  images: readonly ImageSpec[],
  config: Config,
  host: Host,
  engine: Engine,
  probes: ReturnType<typeof probeHooks>,
): Promise<Result[]> {
  // The probes first: their round trips to the registries are the longest wait.
  const anonymous = lazyAnonymous(engine, host.env ?? process.env);
  // The engine's data root and its free space (for the disk guard) are read as soon as one image
  // needs bytes, before its pull can land: `info` is the engine's slowest answer, and a run
  // whose images are all here never asks it.
  const space = spaceReader(engine);
  const work = images.map((spec) => imageWork(spec, config, engine, probes, anonymous.engine, () => void space()));
  const estimates = estimateAll(work);
  const checked = engine.check().then(
    () => ({}),
    (error: Error) => ({ error }),
  );
  const outcome = await checked;
  try {
    if ("error" in outcome) {
      if (!(outcome.error instanceof EngineMissingError)) throw outcome.error;
      host.log.error(outcome.error.message);
      return images.map((spec) => failedResult(formatReference(spec.upstream), outcome.error.message));
    }
    const guard = checkDisk(estimates, space, config, host);
    if (config.onFailure === "fail") {
      // Short of space, nothing is pulled: the pulls wait for the guard's verdict.
      const disk = await guard;
      if (disk && !disk.enough) {
        return images.map((spec) => failedResult(formatReference(spec.upstream), `${disk.message}; nothing pulled (on-failure: fail)`));
      }
    }
    // Under on-failure: warn the verdict changes no pull (short, it is tried anyway), so the
    // pulls do not wait for it (issue 24: the size read is off a hit's path); its line still
    // comes first in the log. The guard never rejects (estimates and space say their trouble).
    const said = guard.then(() => undefined);
    const results = await pullEach(work, config, host, engine, said);
    await said;
    return results;
  } finally {
    anonymous.cleanup();
  }
}

/** The engine without stored credentials (contexts kept), for pulls that stored credentials spoil; made only if one is. */
function lazyAnonymous(engine: Engine, env: NodeJS.ProcessEnv): { engine: Engine; cleanup(): void } {
  let made: ReturnType<typeof anonymousEngineEnv> | undefined;
  const anonymousEnv = async () => {
    made ??= anonymousEngineEnv(env, env.RUNNER_TEMP || tmpdir());
    return (await made).env;
  };
  return {
    engine: engine.withEnv(anonymousEnv),
    cleanup: () => {
      made?.then((m) => m.remove()).catch(() => undefined);
    },
  };
}

/**
 * One set of probes per image, shared by the disk guard and the pull: each source is probed
 * once, each image inspected once. The local inspect starts at once; whether the image needs
 * bytes is known from it alone when nothing is here under the upstream name (the usual case),
 * else once upstream's digest is compared. `needsBytes` is called then.
 */
function imageWork(
  spec: ImageSpec,
  config: Config,
  engine: Engine,
  probes: ReturnType<typeof probeHooks>,
  anonymous: Engine,
  needsBytes: () => void,
): ImageWork {
  const lines: string[] = [];
  const log = (line: string) => lines.push(line);
  const hooks: ImageHooks = { ...probes.hooks(spec, log), anonymousEngine: anonymous };
  // Started by the first to ask (after the probes: their round trips are the longest wait).
  let inspected: Promise<LocalImage | undefined> | undefined;
  const inspect = () => {
    inspected ??= inspectUpstreamName(spec, engine);
    return inspected;
  };
  let present: Promise<string | undefined> | undefined;
  hooks.present = () => {
    present ??= presentLocally(spec, engine, hooks, inspect());
    return present;
  };
  let needed: Promise<boolean> | undefined;
  const needsBytesOf = () => {
    if (!needed) {
      needed = inspect()
        .then(async (local) => local === undefined || (await hooks.present?.()) === undefined)
        .catch(() => true);
      needed.then((yes) => yes && needsBytes());
    }
    return needed;
  };
  return {
    spec,
    lines,
    log,
    hooks,
    needed: needsBytesOf,
    sources: sourcesOf(spec, config),
  };
}

/** Each image's size from the source that would serve it (0 when present), four images at a time; never rejects. */
function estimateAll(work: readonly ImageWork[]): Promise<Estimate[]> {
  const limit = pLimit(4);
  return Promise.all(
    work.map(({ spec, hooks, sources, needed }) =>
      limit(async (): Promise<Estimate> => {
        const image = formatReference(spec.upstream);
        try {
          // The local inspect and the probes at once; an image already here needs no bytes, and
          // does not wait for its sources' probes (they are called off when the run ends).
          const size = hooks.sizeEstimate(sources, needed);
          size.catch(() => undefined);
          needed();
          if (await hooks.present?.()) return { image, estimate: { bytes: 0 } };
          return { image, estimate: await size };
        } catch (error) {
          // One image's trouble is that image's: the pull says so again, the guard goes on.
          return { image, estimate: { note: `its size could not be read: ${(error as Error).message}` } };
        }
      }),
    ),
  );
}

/** Each image's sources in order, `concurrency` images at a time; an image's lines follow the disk guard's (`guardSaid`). */
async function pullEach(
  work: readonly ImageWork[],
  config: Config,
  host: Host,
  engine: Engine,
  guardSaid: Promise<void>,
): Promise<Result[]> {
  const limit = pLimit(config.concurrency);
  return Promise.all(
    work.map(async ({ spec, lines, log, hooks, sources }) => {
      const image = formatReference(spec.upstream);
      // Only the pull takes a slot: an image waiting for the guard's line holds none.
      const pulled = limit(() => pullImage(spec, sources, engine, config, log, hooks));
      pulled.catch(() => undefined);
      await guardSaid;
      host.log.info(`→ ${image} (${spec.origin})`);
      let result: Result;
      try {
        result = await pulled;
      } catch (error) {
        lines.push(`unexpected error: ${(error as Error).message}`);
        result = failedResult(image, (error as Error).message);
      }
      host.log.group(
        `${image}: ${result.status}${result.source !== "none" ? ` from ${result.source}` : ""} (${result.seconds.toFixed(1)} s)`,
        lines,
      );
      host.onResult?.(result);
      return result;
    }),
  );
}

type Space = { readonly root: string; readonly free: number } | { readonly note: string };

/** The engine's data root and its free space, read once, when first asked (never rejects). */
function spaceReader(engine: Engine): () => Promise<Space> {
  let space: Promise<Space> | undefined;
  const read = async (): Promise<Space> => {
    const root = await engine.dataRoot();
    if (!root) return { note: "disk space: the engine did not say where it keeps images; not checked" };
    try {
      const { statfs } = await import("node:fs/promises"); // loaded when asked, not at every start
      const stats = await statfs(root);
      return { root, free: stats.bavail * stats.bsize };
    } catch {
      return { note: `disk space: ${root} (the engine's data root) is not visible from here (a remote engine?); not checked` };
    }
  };
  return () => {
    space ??= read().catch((error: Error) => ({ note: `disk space: not checked (${error.message})` }));
    return space;
  };
}

/**
 * What the images will need on disk against the engine's free space, read before any pull could
 * land: under on-failure: fail before any byte moves, under warn beside the first pulls.
 */
async function checkDisk(
  estimated: Promise<Estimate[]>,
  space: () => Promise<Space>,
  config: Config,
  host: Host,
): Promise<DiskVerdict | undefined> {
  const estimates = await estimated;
  if (estimates.every(({ estimate }) => estimate.bytes === 0)) return undefined; // all here already: nothing to store
  const read = await space();
  if ("note" in read) {
    host.log.info(read.note);
    return undefined;
  }
  const { root, free } = read;
  const compressed = estimates.reduce((sum, { estimate }) => sum + (estimate.bytes ?? 0), 0);
  const unknown = estimates.flatMap(({ image, estimate }) => (estimate.bytes === undefined ? [`${image}: ${estimate.note}`] : []));
  const verdict = diskVerdict(compressed, free, root, unknown, unknown.length < estimates.length || estimates.length === 0);
  if (verdict.enough) host.log.info(verdict.message);
  else if (config.onFailure === "fail") host.log.error(verdict.message);
  else host.log.warning(`${verdict.message}; pulling anyway (on-failure: warn)`);
  return verdict;
}
