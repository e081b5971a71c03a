// One image: try each source in order with the retry policy, then tag under the upstream name.
import pRetry, { AbortError } from "p-retry";
import type { Engine } from "./engine.js";
import { oneLine } from "./engine.js";
import type { ImageSpec } from "./inputs.js";
import type { Source } from "./plan.js";
import { backoffSeconds, type Classified, classifyEngineError } from "./policy.js";
import { type Layer, PROGRESS_INTERVAL_SECONDS, PullProgress } from "./progress.js";
import { formatReference, isLoopback, type Reference, repositoryOf, taggableReference } from "./reference.js";
import type { Result } from "./report.js";
import { sleepSeconds } from "./retry.js";

export interface PullOptions {
  readonly attempts: number;
  readonly backoffSeconds: number;
  readonly pullTimeoutSeconds: number;
  readonly platform?: string;
  readonly keepMirrorTag: boolean;
}

/** A source's verdict from the registry API before any pull (issue: probe before pulling). */
export interface ProbeVerdict {
  /** pull this instead of the tag (`repo@sha256:…`) so that what was checked is what lands */
  readonly pullRef?: string;
  /** skip this source; the reason is logged and kept */
  readonly skip?: string;
  /** Docker Hub quota text, where a response carried it */
  readonly quota?: string;
}

export interface PullHooks {
  /** Checked before a source is pulled; absent, every source is pulled blindly. */
  probe?(source: Source, spec: ImageSpec): Promise<ProbeVerdict>;
  /** Transient failures of this source's probe: tries, counted in `attempts` like failed pulls. */
  probeFailures?(source: Source): number;
  /** Whether the image is here already (its digest), where the caller has asked before; else presentLocally. */
  present?(): Promise<string | undefined>;
  /** The digest upstream names for this image, when the registry told us; for `present`. */
  expectedDigest?(spec: ImageSpec): Promise<string | undefined>;
  /** The layers the chosen source will bring, where known (for progress). */
  layers?(): Promise<readonly Layer[] | undefined>;
  /** The engine without stored credentials, for a pull refused with them (see pull.ts). */
  anonymousEngine?: Engine;
  /** Called before each engine pull (the engine's credentials are brought up to date). */
  beforePull?(): Promise<void>;
  /** A live line while a pull goes on (outside the image's group, which is written at the end). */
  progress?(line: string): void;
  sleep?(seconds: number): Promise<void>;
  random?(): number;
}

class PullFailure extends Error {
  constructor(
    message: string,
    readonly classified: Classified,
  ) {
    super(message);
  }
}

export async function pullImage(
  spec: ImageSpec,
  sources: readonly Source[],
  engine: Engine,
  options: PullOptions,
  log: (line: string) => void,
  hooks: PullHooks = {},
): Promise<Result> {
  const started = performance.now();
  const image = formatReference(spec.upstream);
  const target = taggableReference(spec.upstream);
  const result = (fields: Partial<Result> & Pick<Result, "status" | "source">): Result => ({
    image,
    ref: "",
    digest: "",
    attempts,
    reason: "",
    ...fields,
    seconds: (performance.now() - started) / 1000,
  });
  let attempts = 0;
  let quota: string | undefined;

  const present = await (hooks.present?.() ?? presentLocally(spec, engine, hooks));
  if (present) {
    log(`present: ${image} is already here with ${present}; not pulled`);
    return result({ status: "present", source: "local", ref: image, digest: present });
  }

  const skipped: string[] = [];
  const sleep = hooks.sleep ?? sleepSeconds;
  for (const source of sources) {
    const label = `${source.kind} ${formatReference(source.ref)}`;
    let pullRef = formatReference(source.ref);
    if (hooks.probe) {
      const verdict = await hooks.probe(source, spec);
      attempts += hooks.probeFailures?.(source) ?? 0;
      if (verdict.quota !== undefined) quota = verdict.quota;
      if (verdict.skip !== undefined) {
        log(`${label}: skipped: ${verdict.skip}; next source`);
        skipped.push(`${label}: ${verdict.skip}`);
        continue;
      }
      if (verdict.pullRef) pullRef = verdict.pullRef;
    }
    let anonymousTried = false;
    try {
      await pRetry(
        async () => {
          attempts++;
          await hooks.beforePull?.();
          const tracker = new PullProgress(await hooks.layers?.(), Date.now());
          const ticker = hooks.progress
            ? setInterval(
                () => hooks.progress?.(`pulling ${image} from ${source.kind}: ${tracker.text(Date.now())}`),
                PROGRESS_INTERVAL_SECONDS * 1000,
              )
            : undefined;
          const pullWith = (which: Engine) =>
            which.pull(pullRef, {
              ...((spec.platform ?? options.platform) && { platform: spec.platform ?? options.platform }),
              insecure: isLoopback(source.ref.registry),
              timeoutMs: options.pullTimeoutSeconds * 1000,
              onLine: (line) => tracker.onLine(line),
            });
          try {
            let outcome = await pullWith(engine);
            // The probe got in, the engine was refused: stale stored credentials refuse what
            // anonymous access allows (REGISTRY-NOTES.md). Once per source, pull without them.
            if (
              outcome.exitCode !== 0 &&
              !outcome.timedOut &&
              hooks.probe &&
              hooks.anonymousEngine &&
              !anonymousTried &&
              /unauthorized|denied|authentication required/i.test(outcome.stderr)
            ) {
              anonymousTried = true;
              log(`${label}: refused with the stored credentials (${oneLine(outcome.stderr)}); pulling again without them`);
              attempts++;
              outcome = await pullWith(hooks.anonymousEngine);
            }
            if (outcome.exitCode === 0) return;
            if (outcome.timedOut) {
              throw new PullFailure(`no result within pull-timeout (${options.pullTimeoutSeconds} s); stopped`, {
                errorClass: "transient",
                label: "timeout",
              });
            }
            const message = oneLine(outcome.stderr) || `exit code ${outcome.exitCode}`;
            const classified = classifyEngineError(message, source.ref.registry, [pullRef, formatReference(source.ref), image]);
            const failure = new PullFailure(message, classified);
            throw classified.errorClass === "transient" ? failure : new AbortError(failure);
          } finally {
            // After the anonymous pull too: progress goes on for as long as either runs.
            clearInterval(ticker);
          }
        },
        {
          retries: options.attempts - 1,
          minTimeout: 0,
          maxTimeout: 0,
          shouldRetry: ({ error }) => error instanceof PullFailure,
          onFailedAttempt: async ({ error, attemptNumber, retriesLeft }) => {
            // Only a PullFailure is retried (anything else is thrown by the attempt and ends it).
            if (!(error instanceof PullFailure)) return;
            const { label: kind, retryAfter } = error.classified;
            const head = `${label}: attempt ${attemptNumber}/${options.attempts} failed, transient (${kind}): ${error.message}`;
            if (retriesLeft === 0) {
              log(`${head}; attempts used up, next source`);
              return;
            }
            const wait = backoffSeconds(attemptNumber, options.backoffSeconds, hooks.random, retryAfter);
            log(`${head}; retrying in ${wait.toFixed(1)} s`);
            await sleep(wait);
          },
        },
      );
    } catch (error) {
      const failure = error instanceof AbortError ? (error.originalError as PullFailure) : (error as PullFailure);
      if (!(failure instanceof PullFailure)) throw error;
      const { errorClass, label: kind } = failure.classified;
      if (errorClass !== "transient") {
        const why = errorClass === "rate-limited" ? "Docker Hub pull quota spent, not retried" : "permanent";
        log(`${label}: ${why} (${kind}): ${failure.message}; next source at once`);
      }
      skipped.push(`${label}: ${errorClass} (${kind}): ${failure.message}`);
      continue;
    }

    log(`${label}: pulled ${pullRef}`);
    const { digest, size } = await finish(spec, source, pullRef, target, engine, options, log);
    return result({
      status: "pulled",
      source: source.kind,
      ref: pullRef,
      digest,
      ...(size !== undefined && { size }),
      ...(skipped.length > 0 && { reason: `fell back: ${skipped.join("; ")}` }),
      ...(quota !== undefined && { quota }),
    });
  }
  return result({
    status: "failed",
    source: "none",
    reason: skipped.join("; ") || "no source to try",
    ...(quota !== undefined && { quota }),
  });
}

/**
 * Tags the pulled image under the upstream name; a mirror's tag is removed unless
 * keep-mirror-tag. A digest reference (`repo@sha256:…`) is not a tag and stays: it is how a
 * later run sees the image is already present. Returns the manifest digest.
 */
async function finish(
  spec: ImageSpec,
  source: Source,
  pullRef: string,
  target: string | undefined,
  engine: Engine,
  options: PullOptions,
  log: (line: string) => void,
): Promise<{ digest: string; size?: number }> {
  const byDigest = pullRef.match(/@(sha256:[a-f0-9]{64})$/)?.[1];
  const local = await engine.inspect(pullRef);
  const size = local?.size;
  const digest =
    byDigest ?? local?.repoDigests.map((d) => d.split("@")).find(([name]) => sameRepository(name ?? "", source.ref))?.[1] ?? "";
  const done = { digest, ...(size !== undefined && { size }) };
  if (target === undefined) {
    log(
      `${formatReference(spec.upstream)} names only a digest: an engine cannot tag a digest reference, so the image stays under ${pullRef}`,
    );
    return done;
  }
  if (pullRef === target) return done;
  await engine.tag(pullRef, target);
  log(`tagged ${target}`);
  if (source.kind !== "mirror") return done;
  const mirrorTag = taggableReference(source.ref);
  if (byDigest && options.keepMirrorTag && mirrorTag) await engine.tag(pullRef, mirrorTag);
  if (!byDigest && !options.keepMirrorTag) {
    await engine.untag(pullRef).catch((error: Error) => log(`could not remove the mirror tag ${pullRef}: ${error.message}`));
  }
  return done;
}

/** RepoDigests name Docker Hub images familiarly (`alpine@…`); compare on the normalised repository. */
function sameRepository(name: string, ref: Reference): boolean {
  const full = repositoryOf(ref);
  if (name === full) return true;
  if (ref.registry !== "docker.io") return false;
  return name === ref.path || name === ref.path.replace(/^library\//, "");
}

/** The image is here already under the upstream name with the digest upstream names now. */
export async function presentLocally(spec: ImageSpec, engine: Engine, hooks: PullHooks): Promise<string | undefined> {
  const target = taggableReference(spec.upstream) ?? formatReference(spec.upstream);
  const expected = spec.upstream.digest ?? (await hooks.expectedDigest?.(spec));
  if (expected === undefined) return undefined;
  const local = await engine.inspect(target);
  if (!local) return undefined;
  // A digest names content, whichever repository it was pulled from (a verified mirror included).
  const has = local.repoDigests.some((entry) => entry.endsWith(`@${expected}`));
  return has ? expected : undefined;
}
