// One image: try each source in order with the retry policy, then tag under the upstream name.
import pRetry, { AbortError } from "p-retry";
import type { CommandResult, Engine, PullResult } from "../engine/engine.js";
import { engineMessage } from "../engine/engine.js";
import type { HandedToken } from "../engine/pullapi.js";
import { makeResult, type Result } from "../report/results.js";
import type { ImageSpec } from "../resolve/inputs.js";
import { formatReference, isLoopback, repositoryOf } from "../resolve/reference.js";
import { finish } from "./finish.js";
import type { PullHooks, PullOptions } from "./hooks.js";
import { type HeldReference, ReferenceLedger } from "./ledger.js";
import { pullDuringVerification } from "./overlap.js";
import { backoffSeconds, type Classified, classifyEngineError } from "./policy.js";
import { presentLocally } from "./present.js";
import { PROGRESS_INTERVAL_SECONDS, PullProgress } from "./progress.js";
import { sleepSeconds } from "./retry.js";
import type { Source } from "./sources.js";

class PullFailure extends Error {
  constructor(
    message: string,
    readonly classified: Classified,
  ) {
    super(message);
  }
}

/** What a source's pull brought: its reference, and the digest it names where it names one. */
interface Pulled {
  readonly pullRef: string;
  readonly digest: string | undefined;
  /** a mirror's `repo@digest` this image holds in the run's ledger until it is tagged */
  readonly held?: HeldReference;
}

/** One image: the sources in order, each with the retry policy; tagged under the upstream name. */
export function pullImage(
  spec: ImageSpec,
  sources: readonly Source[],
  engine: Engine,
  options: PullOptions,
  log: (line: string) => void,
  hooks: PullHooks = {},
): Promise<Result> {
  return new ImagePull(spec, engine, options, log, hooks).run(sources);
}

/** The state of one image's pull: tries counted across sources, why each source was left. */
class ImagePull {
  private readonly started = performance.now();
  private readonly image: string;
  private attempts = 0;
  private quota: string | undefined;
  private readonly skipped: string[] = [];
  /** removals of what a refused mirror's early pull brought, checked again at the end */
  private readonly leftovers: (() => Promise<void>)[] = [];

  constructor(
    private readonly spec: ImageSpec,
    private readonly engine: Engine,
    private readonly options: PullOptions,
    private readonly log: (line: string) => void,
    private readonly hooks: PullHooks,
  ) {
    this.image = formatReference(spec.upstream);
  }

  async run(sources: readonly Source[]): Promise<Result> {
    try {
      return await this.runSources(sources);
    } finally {
      for (const leftover of this.leftovers) await leftover();
    }
  }

  private async runSources(sources: readonly Source[]): Promise<Result> {
    const present = await (this.hooks.present?.() ?? presentLocally(this.spec, this.engine, this.hooks));
    if (present) {
      this.log(`present: ${this.image} is already here with ${present}; not pulled`);
      return this.result({ status: "present", source: "local", ref: this.image, digest: present });
    }
    for (const source of sources) {
      const pulled = await this.trySource(source);
      if (pulled === undefined) continue;
      const { pullRef } = pulled;
      this.log(`${label(source)}: pulled ${pullRef}`);
      const finished = await this.finish(source, pulled);
      if (finished === undefined) continue;
      const { digest, size } = finished;
      return this.result({
        status: "pulled",
        source: source.kind,
        ref: pullRef,
        digest,
        ...(size !== undefined && { size }),
        ...(this.skipped.length > 0 && { reason: `fell back: ${this.skipped.join("; ")}` }),
      });
    }
    return this.result({ status: "failed", source: "none", reason: this.skipped.join("; ") || "no source to try" });
  }

  private result(fields: Partial<Result> & Pick<Result, "status" | "source">): Result {
    return makeResult(this.image, {
      attempts: this.attempts,
      seconds: (performance.now() - this.started) / 1000,
      ...(this.quota !== undefined && { quota: this.quota }),
      ...fields,
    });
  }

  /** The probe's verdict, then the pull with retries: what was pulled, or undefined (the reason kept). */
  private async trySource(source: Source): Promise<Pulled | undefined> {
    let pullRef = formatReference(source.ref);
    let digest = source.ref.digest;
    if (this.hooks.probe) {
      // A mirror's pull starts once its HEAD named the digest; its verdict decides the rest.
      const early = await this.hooks.early?.(source);
      const verdict = this.hooks.probe(source, this.spec);
      const overlap = early
        ? await pullDuringVerification(
            await ReferenceLedger.of(this.engine).holdDigest(repositoryOf(source.ref), early.digest),
            early,
            verdict,
            (signal) => this.pullWithRetries(source, early.pullRef, signal),
            this.engine,
            this.log,
            this.leftovers,
          )
        : undefined;
      const said = overlap?.verdict ?? (await verdict);
      this.attempts += this.hooks.probeFailures?.(source) ?? 0;
      if (said.quota !== undefined) this.quota = said.quota;
      if (said.skip !== undefined) {
        this.log(`${label(source)}: skipped: ${said.skip}; next source`);
        this.skipped.push(`${label(source)}: ${said.skip}`);
        return undefined;
      }
      if (said.pullRef) [pullRef, digest] = [said.pullRef, said.digest];
      if (overlap?.pulled) return this.settle(source, { pullRef, digest, ...(overlap.held && { held: overlap.held }) }, overlap.pulled);
    }
    const held = await this.hold(source, digest);
    return this.settle(source, { pullRef, digest, ...(held && { held }) }, this.pullWithRetries(source, pullRef));
  }

  /** A mirror's pull by digest holds its `repo@digest` in the run's ledger until tagged (ledger.ts). */
  private async hold(source: Source, digest: string | undefined): Promise<HeldReference | undefined> {
    if (source.kind !== "mirror" || digest === undefined) return undefined;
    return ReferenceLedger.of(this.engine).holdDigest(repositoryOf(source.ref), digest);
  }

  /**
   * Tagged under the upstream name; a failing tag (e.g. the image gone meanwhile) is this
   * source's failure, and the next source is tried. The mirror's digest reference is kept.
   */
  private async finish(source: Source, pulled: Pulled): Promise<{ digest: string; size?: number } | undefined> {
    try {
      const done = await finish(this.spec, source, pulled.pullRef, pulled.digest, this.engine, this.options, this.log);
      if (pulled.held) ReferenceLedger.of(this.engine).keep(pulled.held.reference);
      return done;
    } catch (error) {
      const message = engineMessageOf(error);
      this.log(`${label(source)}: permanent (tag): ${message}; next source at once`);
      this.skipped.push(`${label(source)}: permanent (tag): ${message}`);
      return undefined;
    } finally {
      pulled.held?.release();
    }
  }

  /** The pull's end: what was pulled, or undefined with the reason kept (and this image's hold on it ended). */
  private async settle(source: Source, pulling: Pulled, pulled: Promise<void>): Promise<Pulled | undefined> {
    try {
      await pulled;
      return pulling;
    } catch (error) {
      pulling.held?.release();
      const failure = error instanceof AbortError ? error.originalError : error;
      if (!(failure instanceof PullFailure)) throw error;
      const { errorClass, label: kind } = failure.classified;
      if (errorClass !== "transient") {
        const why = errorClass === "rate-limited" ? "Docker Hub pull quota spent, not retried" : "permanent";
        this.log(`${label(source)}: ${why} (${kind}): ${failure.message}; next source at once`);
      }
      this.skipped.push(`${label(source)}: ${errorClass} (${kind}): ${failure.message}`);
      return undefined;
    }
  }

  /** `attempts` tries on transient failures, with backoff (a server's stated wait honoured). */
  private pullWithRetries(source: Source, pullRef: string, signal?: AbortSignal): Promise<void> {
    const { attempts, backoffSeconds: base } = this.options;
    const sleep = this.hooks.sleep ?? sleepSeconds;
    const state = { anonymousTried: false };
    return pRetry(() => this.attempt(source, pullRef, state, signal), {
      ...(signal && { signal }),
      retries: attempts - 1,
      minTimeout: 0,
      maxTimeout: 0,
      shouldRetry: ({ error }) => error instanceof PullFailure,
      onFailedAttempt: async ({ error, attemptNumber, retriesLeft }) => {
        // Only a PullFailure is retried (anything else is thrown by the attempt and ends it).
        if (!(error instanceof PullFailure)) return;
        const { label: kind, retryAfter } = error.classified;
        const head = `${label(source)}: attempt ${attemptNumber}/${attempts} failed, transient (${kind}): ${error.message}`;
        if (retriesLeft === 0) {
          this.log(`${head}; attempts used up, next source`);
          return;
        }
        const wait = backoffSeconds(attemptNumber, base, this.hooks.random, retryAfter);
        this.log(`${head}; retrying in ${wait.toFixed(1)} s`);
        await sleep(wait);
      },
    });
  }

  /**
   * The engine's pull, with prepull's own token for the repository where it holds one. A refusal
   * of that token (expired during a long pull, or not taken): pulled again as the engine would
   * on its own. The probe got in, the engine was refused: stale stored credentials refuse what
   * anonymous access allows (REGISTRY-NOTES.md); once per source, pulled without them.
   */
  private async engineOutcome(
    source: Source,
    pullWith: (which: Engine, token?: HandedToken) => Promise<PullResult>,
    state: { anonymousTried: boolean },
    signal?: AbortSignal,
  ): Promise<CommandResult> {
    let outcome = await pullWith(this.engine, this.hooks.registryToken?.(source));
    signal?.throwIfAborted(); // stopped on purpose (a refused mirror): not a failure to classify
    if (outcome.tokenHanded && refusedWithCredentials(outcome)) {
      this.log(
        `${label(source)}: the engine was refused with the token prepull handed it (${engineMessage(outcome.stderr)}); pulling again with its own credentials`,
      );
      outcome = await pullWith(this.engine);
      signal?.throwIfAborted();
    }
    const anonymous = this.hooks.anonymousEngine;
    if (refusedWithCredentials(outcome) && this.hooks.probe && anonymous && !state.anonymousTried) {
      state.anonymousTried = true;
      this.log(`${label(source)}: refused with the stored credentials (${engineMessage(outcome.stderr)}); pulling again without them`);
      this.attempts++;
      outcome = await pullWith(anonymous);
    }
    return outcome;
  }

  /** One try: the engine's pull (and once per source, without stored credentials), classified. */
  private async attempt(source: Source, pullRef: string, state: { anonymousTried: boolean }, signal?: AbortSignal): Promise<void> {
    this.attempts++;
    await this.hooks.beforePull?.();
    const tracker = new PullProgress(undefined, Date.now());
    // The layers come with the disk guard's size read, which the pull does not wait for.
    this.hooks.layers?.().then(
      (layers) => tracker.knowLayers(layers),
      () => undefined,
    );
    const progress = this.hooks.progress;
    const ticker = progress
      ? setInterval(
          () => progress(`pulling ${this.image} from ${source.kind}: ${tracker.text(Date.now())}`),
          PROGRESS_INTERVAL_SECONDS * 1000,
        )
      : undefined;
    const platform = this.spec.platform ?? this.options.platform;
    const pullWith = (which: Engine, token?: HandedToken) =>
      which.pull(pullRef, {
        ...(platform && { platform }),
        insecure: isLoopback(source.ref.registry),
        timeoutMs: this.options.pullTimeoutSeconds * 1000,
        onLine: (line) => tracker.onLine(line),
        ...(signal && { signal }),
        ...(token && { token }),
      });
    try {
      const outcome = await this.engineOutcome(source, pullWith, state, signal);
      if (outcome.exitCode === 0) return;
      if (outcome.timedOut) {
        const timeout = { errorClass: "transient" as const, label: "timeout" };
        throw new PullFailure(`no result within pull-timeout (${this.options.pullTimeoutSeconds} s); stopped`, timeout);
      }
      const message = engineMessage(outcome.stderr) || `exit code ${outcome.exitCode}`;
      const classified = classifyEngineError(message, source.ref.registry, [pullRef, formatReference(source.ref), this.image]);
      const failure = new PullFailure(message, classified);
      throw classified.errorClass === "transient" ? failure : new AbortError(failure);
    } finally {
      // After the anonymous pull too: progress goes on for as long as either runs.
      clearInterval(ticker);
    }
  }
}

const engineMessageOf = (error: unknown) => engineMessage(error instanceof Error ? error.message : String(error));

const label = (source: Source) => `${source.kind} ${formatReference(source.ref)}`;

function refusedWithCredentials(outcome: CommandResult): boolean {
  return outcome.exitCode !== 0 && !outcome.timedOut && /unauthorized|denied|authentication required/i.test(outcome.stderr);
}
