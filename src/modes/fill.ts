// fill-mirror: true — an image that came from upstream because its first mirror lacked it is
// copied into that mirror after the job's work (the post step), registry to registry through
// the copier of mode: mirror, so that the job never waits for it. The pulling step marks those
// images (FillWatch); the post step copies them (fillMirrors).
import pLimit from "p-limit";
import type { Host } from "../host.js";
import type { ProbeVerdict, PullHooks } from "../pull/hooks.js";
import { mirrorFor, type Source, sourcesOf } from "../pull/sources.js";
import type { RegistryClient } from "../registry/client.js";
import { Copier, copyFailureText, PushRefusedError } from "../registry/copier.js";
import { isDigest } from "../registry/manifests.js";
import { ImageProbe, type ProbeSettings } from "../registry/probe.js";
import { copyStatsText } from "../report/copyreport.js";
import type { Result } from "../report/results.js";
import { markdownCode } from "../report/text.js";
import { type Config, type ImageSpec, readConfig } from "../resolve/inputs.js";
import { DEFAULT_REGISTRY, digestReference, formatReference, parseReference, type Reference, repositoryOf } from "../resolve/reference.js";
import { registryAccess } from "./run.js";

/** What the post step copies: upstream by the digest that was pulled, into the first mirror's reference. */
export interface FillTarget {
  readonly image: string;
  /** `upstream[:tag]@digest` */
  readonly from: string;
  /** the first mirror's reference (its tag, or the digest of a pinned line) */
  readonly to: string;
  readonly digest: string;
}

/** A result that the post step will copy into its first mirror, or why it will not. */
export type FillMarked = Result & { fill?: FillTarget; notFilled?: string };

/**
 * The mirror fill-mirror may push `spec` into: only one the workflow's own inputs name (a file
 * of the repository, which a pull request changes, must not choose where the job's credentials
 * push). An `=>` mirror counts only where written in the `images` input; a `mirror-map` entry
 * names the upstream repository whole; a `mirrors` line serves the registries it names: a
 * `REGISTRY=` line its own, a template with `{registry}` any (registries never share a name),
 * and any other line (a bare prefix) Docker Hub's alone, since it drops the registry and
 * `other.reg/a/b:T` would fill `docker.io/a/b:T`'s mirror tag.
 */
export function fillMirrorFor(
  spec: ImageSpec,
  config: Config,
  first = sourcesOf(spec, config).find((s) => s.kind === "mirror"),
): { ref: Reference } | { why: string } {
  if (!first) return { why: "it has no mirror" };
  if (spec.explicitMirror) {
    if (spec.mirrorFromInput) return { ref: first.ref };
    return { why: `its mirror was named by "=>" in ${spec.origin}, not by the workflow's inputs (mirrors, mirror-map, images)` };
  }
  if (config.mirrorMap.has(repositoryOf(spec.upstream))) return { ref: first.ref };
  const key = formatReference(first.ref);
  const rule = config.mirrors.find((r) => {
    const ref = mirrorFor(r, spec.upstream);
    return ref !== undefined && formatReference(ref) === key;
  });
  if (!rule) return { why: "its mirror is not one the inputs name" };
  if (rule.onlyRegistry !== undefined || rule.template.includes("{registry}") || spec.upstream.registry === DEFAULT_REGISTRY) {
    return { ref: first.ref };
  }
  return {
    why: `mirrors line ${rule.line} serves every registry and drops the registry from the name; it fills only ${DEFAULT_REGISTRY} images (write "${spec.upstream.registry}=…" to fill this registry's)`,
  };
}

/**
 * Watches the pull's probes for each image's first mirror: an image pulled from upstream after
 * that mirror answered `missing` (not refused, unreachable, rate-limited or differing) is marked.
 */
export class FillWatch {
  private readonly firstMirror = new Map<string, { spec: ImageSpec; ref: Reference }>();
  /** images whose first mirror fill-mirror may not push into, and why */
  private readonly refused = new Map<string, string>();
  private readonly states = new Map<string, ProbeVerdict["mirrorState"]>();

  constructor(images: readonly ImageSpec[], config: Config) {
    for (const spec of images) {
      const first = sourcesOf(spec, config).find((s) => s.kind === "mirror");
      const target = fillMirrorFor(spec, config, first);
      if (first) this.firstMirror.set(formatReference(spec.upstream), { spec, ref: first.ref });
      if ("why" in target) this.refused.set(formatReference(spec.upstream), target.why);
    }
  }

  /** The same hooks, with each first mirror's verdict noted as the pull asks for it. */
  wrap<H extends PullHooks>(probes: { hooks: (spec: ImageSpec, log: (line: string) => void) => H }): typeof probes {
    return {
      hooks: (spec, log) => {
        const hooks = probes.hooks(spec, log);
        const probe = hooks.probe;
        if (!probe) return hooks;
        const image = formatReference(spec.upstream);
        const first = this.firstMirror.get(image);
        return {
          ...hooks,
          probe: async (source: Source, forSpec: ImageSpec) => {
            const verdict = await probe(source, forSpec);
            if (first && source.kind === "mirror" && formatReference(source.ref) === formatReference(first.ref)) {
              this.states.set(image, verdict.mirrorState);
            }
            return verdict;
          },
        };
      },
    };
  }

  /** The result, marked where its first mirror was missing and upstream served it. */
  mark(result: Result): FillMarked {
    const first = this.firstMirror.get(result.image);
    if (!first || result.status !== "pulled" || result.source !== "upstream" || !isDigest(result.digest)) {
      return result;
    }
    if (this.states.get(result.image) !== "missing") return result;
    const why = this.refused.get(result.image);
    if (why) return { ...result, notFilled: `${formatReference(first.ref)} not filled: ${why}` };
    const from = digestReference(first.spec.upstream, result.digest);
    return { ...result, fill: { image: result.image, from, to: formatReference(first.ref), digest: result.digest } };
  }
}

/** The marked results' targets, one per mirror reference. */
export function fillTargets(results: readonly FillMarked[]): FillTarget[] {
  const byTarget = new Map<string, FillTarget>();
  for (const { fill } of results) if (fill && !byTarget.has(fill.to)) byTarget.set(fill.to, fill);
  return [...byTarget.values()];
}

type FillStatus = "filled" | "present" | "not filled" | "failed";

/**
 * Copies each target into its mirror. A mirror that holds the image by now is left as it is,
 * a tag that holds something else is never overwritten; a push refused for lack of permission
 * (a pull request from a fork) is a notice; any other failure a warning: never the step's failure.
 */
async function fillMirrors(host: Host, targets: readonly FillTarget[]): Promise<void> {
  if (targets.length === 0) return;
  let config: Config;
  try {
    // The step's own inputs (the post step has them); the files they name are not needed here.
    config = readConfig(host.getInput, host.workspace, { files: false });
  } catch (error) {
    host.log.warning(`fill-mirror: ${(error as Error).message}; nothing copied into the mirrors`);
    return;
  }
  if (config.githubToken) host.setSecret(config.githubToken);
  const { client, settings } = registryAccess(config, host);
  host.log.info(`fill-mirror: copying ${targets.length} image(s) that came from upstream into their first mirror`);
  const limit = pLimit(config.concurrency);
  try {
    const outcomes = await Promise.all(
      targets.map((target) =>
        limit(() =>
          checkedFillOne(target, config, client, settings, host).catch((error: Error): FillOutcome => {
            host.log.warning(`fill-mirror: ${target.to} not filled: unexpected: ${error.message}`);
            return { target, status: "failed", detail: error.message };
          }),
        ),
      ),
    );
    const count = (status: FillStatus) => outcomes.filter((o) => o.status === status).length;
    host.log.info(
      `fill-mirror: ${count("filled")} filled, ${count("present")} already there, ${count("not filled")} not filled, ${count("failed")} failed`,
    );
    await host.writeSummary(fillSummary(outcomes));
  } finally {
    client.dispose();
  }
}

export interface FillOutcome {
  readonly target: FillTarget;
  readonly status: FillStatus;
  readonly detail: string;
}

/** The target checked again against the step's own inputs (the saved list and a worker's results are files), then copied. */
async function checkedFillOne(target: FillTarget, config: Config, client: RegistryClient, settings: ProbeSettings, host: Host) {
  const upstream = parseReference(target.image);
  const spec = config.images.find((s) => formatReference(s.upstream) === target.image) ?? { upstream, origin: "fill-mirror" };
  const allowed = fillMirrorFor(spec, config);
  const from = parseReference(target.from);
  const why =
    "why" in allowed
      ? allowed.why
      : formatReference(allowed.ref) !== target.to || from.digest !== target.digest || repositoryOf(from) !== repositoryOf(upstream)
        ? `not the copy the inputs name (${digestReference(upstream, target.digest)} into ${formatReference(allowed.ref)})`
        : undefined;
  if (!why) return fillOne(target, client, settings, host);
  host.log.notice(`fill-mirror: ${target.to} not filled: ${why}`);
  return { target, status: "not filled", detail: why } satisfies FillOutcome;
}

async function fillOne(target: FillTarget, client: RegistryClient, settings: ProbeSettings, host: Host): Promise<FillOutcome> {
  const lines: string[] = [];
  const log = (line: string) => lines.push(line);
  const outcome = (status: FillStatus, detail: string): FillOutcome => {
    host.log.group(`fill-mirror: ${target.to}: ${status}`, [...lines, detail]);
    return { target, status, detail };
  };
  const from = parseReference(target.from);
  const to = parseReference(target.to);
  // Looked at again now: it may have been filled meanwhile, or hold other content (never overwritten).
  const now = await new ImageProbe(client, { upstream: from, origin: "fill-mirror" }, settings, log).head(to);
  if (now.kind === "found") {
    if (now.digest === target.digest) return outcome("present", `${target.to} holds ${target.digest} already`);
    host.log.notice(`fill-mirror: ${target.to} holds ${now.digest} now, not upstream's ${target.digest}; left as it is`);
    return outcome("not filled", `holds ${now.digest}, not ${target.digest}; a mirror tag is never overwritten`);
  }
  if (now.kind !== "missing") {
    host.log.notice(`fill-mirror: ${target.to} not filled: ${now.detail}`);
    return outcome("not filled", now.detail);
  }
  // Nothing in the mirror is overwritten: not the cosign tags of an image it holds already either.
  const notice = (line: string) => host.log.notice(`fill-mirror: ${line}`);
  const copier = new Copier(client, settings, log, { keepTags: { notice } });
  try {
    const copied = await copier.copy(from, to);
    const { stats } = copied;
    return outcome("filled", `${target.to} now has ${copied.digest} (${copyStatsText(stats)})`);
  } catch (error) {
    if (error instanceof PushRefusedError) {
      host.log.notice(`fill-mirror: ${target.to} not filled: ${error.message} (a pull request from a fork may not push)`);
      return outcome("not filled", error.message);
    }
    const message = copyFailureText(error);
    host.log.warning(`fill-mirror: ${target.to} not filled: ${message}`);
    return outcome("failed", message);
  }
}

/** The job summary's table: text from registries and names from the workflow are code spans (markdownCode), never markup. */
export function fillSummary(outcomes: readonly FillOutcome[]): string {
  return [
    "### prepull fill-mirror",
    "",
    "| image | mirror | status | detail |",
    "|---|---|---|---|",
    ...outcomes.map((o) => `| ${markdownCode(o.target.image)} | ${markdownCode(o.target.to)} | ${o.status} | ${markdownCode(o.detail)} |`),
    "",
  ].join("\n");
}

/**
 * After the pulls: the targets are saved for the post step (the job does not wait for them); a
 * background worker's are in its results already; the command line, with no post step, copies now.
 */
export async function afterPulls(host: Host, results: readonly FillMarked[]): Promise<void> {
  for (const { notFilled } of results) if (notFilled) host.log.notice(`fill-mirror: ${notFilled}`);
  const targets = fillTargets(results);
  if (host.saveState) {
    if (targets.length > 0) host.saveState("fill", JSON.stringify(targets));
    if (targets.length > 0)
      host.log.info(`fill-mirror: ${targets.length} image(s) came from upstream; the post step copies them into their mirror`);
    return;
  }
  await fillMirrors(host, targets);
}

/** The post step's part: the targets the step saved, and those a background worker marked in its results. */
export async function postFill(host: Host, saved: string, workerResults: readonly FillMarked[]): Promise<void> {
  let fromStep: FillTarget[] = [];
  try {
    const parsed: unknown = saved ? JSON.parse(saved) : [];
    const valid = (t: Partial<Record<keyof FillTarget, unknown>>) =>
      typeof t.image === "string" && typeof t.from === "string" && typeof t.to === "string" && typeof t.digest === "string";
    fromStep = Array.isArray(parsed) ? (parsed as FillTarget[]).filter((t) => t && typeof t === "object" && valid(t)) : [];
  } catch {
    host.log.warning("fill-mirror: the step's saved list could not be read; only a background pull's images are copied");
  }
  await fillMirrors(host, [...fromStep, ...fillTargets(workerResults)]);
}
