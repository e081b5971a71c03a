// mode: pull — the disk guard over every image, then each image's sources in order.
import { statfs } from "node:fs/promises";
import { tmpdir } from "node:os";
import pLimit from "p-limit";
import { type DiskVerdict, diskVerdict } from "../disk.js";
import { type Engine, EngineMissingError } from "../engine.js";
import { anonymousEngineEnv } from "../engineconfig.js";
import type { Host } from "../host.js";
import type { Config, ImageSpec } from "../inputs.js";
import type { SizeEstimate } from "../probe.js";
import type { ImageHooks, probeHooks } from "../probehooks.js";
import { presentLocally, pullImage } from "../pullimage.js";
import { formatReference } from "../reference.js";
import { failedResult, type Result } from "../report.js";
import { type Source, sourcesFor } from "../sources.js";

export async function pullAll(
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
  const anonymous = await anonymousEngine(engine, host.env ?? process.env);
  try {
    return await pullEach(images, config, host, engine, probes, anonymous.engine);
  } finally {
    await anonymous.cleanup();
  }
}

/** The engine without stored credentials (contexts kept), for pulls that stored credentials spoil. */
async function anonymousEngine(engine: Engine, env: NodeJS.ProcessEnv): Promise<{ engine: Engine; cleanup(): Promise<void> }> {
  const anonymous = await anonymousEngineEnv(env, env.RUNNER_TEMP || tmpdir());
  return { engine: engine.withEnv(() => anonymous.env), cleanup: async () => anonymous.remove() };
}

async function pullEach(
  images: readonly ImageSpec[],
  config: Config,
  host: Host,
  engine: Engine,
  probes: ReturnType<typeof probeHooks>,
  anonymous: Engine,
): Promise<Result[]> {
  // One set of probes per image, shared by the disk guard and the pull: each source is probed once.
  const work = images.map((spec) => {
    const lines: string[] = [];
    const log = (line: string) => lines.push(line);
    const hooks: ImageHooks = { ...probes.hooks(spec, log), anonymousEngine: anonymous };
    // Asked by the disk guard and again by the pull: one `image inspect` per image.
    let present: Promise<string | undefined> | undefined;
    hooks.present = () => {
      present ??= presentLocally(spec, engine, hooks);
      return present;
    };
    return { spec, lines, log, hooks, sources: sourcesFor(spec.upstream, config.mirrors, config.mirrorMap, spec.explicitMirror) };
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
        host.onResult?.(result);
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
      limit(async (): Promise<{ image: string; estimate: SizeEstimate }> => {
        const image = formatReference(spec.upstream);
        try {
          return { image, estimate: (await hooks.present?.()) ? { bytes: 0 } : await hooks.sizeEstimate(sources) };
        } catch (error) {
          // One image's trouble is that image's: the pull says so again, the guard goes on.
          return { image, estimate: { note: `its size could not be read: ${(error as Error).message}` } };
        }
      }),
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
