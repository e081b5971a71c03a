// The probes as the pull uses them (PullHooks): each source probed once, a mirror verified,
// pulled by the digest that was checked; the size estimate the disk guard asks for.

import type { HandedToken } from "../engine/pullapi.js";
import { pullScope, type RegistryClient } from "../registry/client.js";
import { forImage, type HeadOutcome, ImageProbe, type ProbeSettings, type SizeEstimate } from "../registry/probe.js";
import type { ImageSpec } from "../resolve/inputs.js";
import { digestReference, formatReference, type Reference } from "../resolve/reference.js";
import type { EarlyPull, ProbeVerdict, PullHooks } from "./hooks.js";
import { quotaText } from "./policy.js";
import type { Source } from "./sources.js";

/** Whether upstream serves the image, from its HEAD: found, and not with a spent pull quota. */
export function upstreamVerdict(ref: Reference, upstream: HeadOutcome): ProbeVerdict {
  const quota = "quota" in upstream && upstream.quota ? { quota: quotaText(upstream.quota) } : {};
  if (upstream.kind !== "found") return { skip: upstream.detail, ...quota };
  if (upstream.quota?.remaining === 0) {
    return { skip: `Docker Hub pull quota exhausted (${quotaText(upstream.quota)}): not pulled, the window is hours`, ...quota };
  }
  return { pullRef: digestReference(ref, upstream.digest), digest: upstream.digest, ...quota };
}

export interface ImageHooks extends PullHooks {
  /** Compressed size of the image from the first source that would serve it; `needed`: false when the image is here already. */
  sizeEstimate(sources: readonly Source[], needed?: () => Promise<boolean>): Promise<SizeEstimate>;
}

/** PullHooks backed by the registry: probe each source (once), pull by the verified digest. */
export function probeHooks(
  client: RegistryClient,
  settings: ProbeSettings,
  warn: (image: string, line: string) => void,
  progress?: (line: string) => void,
  beforePull?: () => Promise<void>,
): { hooks: (spec: ImageSpec, log: (line: string) => void) => ImageHooks } {
  return {
    hooks(spec, log) {
      const probe = new ImageProbe(client, spec, forImage(settings, spec), log);
      const image = formatReference(spec.upstream);
      const verdicts = new Map<string, Promise<ProbeVerdict>>();
      const probeSource = (source: Source): Promise<ProbeVerdict> => {
        const key = `${source.kind} ${formatReference(source.ref)}`;
        let verdict = verdicts.get(key);
        if (!verdict) {
          verdict = sourceVerdict(probe, source, log, (line) => warn(image, line));
          verdicts.set(key, verdict);
        }
        return verdict;
      };
      let estimate: Promise<SizeEstimate> | undefined;
      return {
        async expectedDigest() {
          const upstream = await probe.upstream();
          return upstream.kind === "found" ? upstream.digest : undefined;
        },
        probe: probeSource,
        early: (source) => earlyPull(probe, spec, source),
        probeFailures: (source: Source) => probe.failuresOf(source.ref),
        registryToken: (source: Source) => handedToken(client, source),
        sizeEstimate: (sources, needed) => {
          estimate ??= estimateSize(probe, probeSource, sources, needed);
          return estimate;
        },
        // Known only once the disk guard has asked; a pull never GETs a manifest just for its progress.
        layers: async () => (estimate ? (await estimate).layers : undefined),
        ...(progress && { progress }),
        ...(beforePull && { beforePull }),
      };
    },
  };
}

/**
 * The token the probes got for this source's repository, for the engine to pull with instead of
 * asking the registry's token endpoint again (issue 24). With 30 s to live at least; a pull it
 * outlives is refused and pulled again without it (pull/image.ts).
 */
function handedToken(client: RegistryClient, source: Source): HandedToken | undefined {
  const { registry, path } = source.ref;
  const header = client.authHeader(registry, [pullScope(source.ref)], 30_000);
  return header?.startsWith("Bearer ") ? { registry, repository: path, token: header.slice("Bearer ".length) } : undefined;
}

/**
 * What a mirror's pull may start with before its verification ends: the digest its HEAD named
 * (a pinned line: only its pin). Upstream has nothing to wait for: its verdict is its HEAD.
 */
async function earlyPull(probe: ImageProbe, spec: ImageSpec, source: Source): Promise<EarlyPull | undefined> {
  if (source.kind !== "mirror") return undefined;
  const head = await probe.head(source.ref);
  if (head.kind !== "found") return undefined;
  const pin = spec.upstream.digest;
  if (pin !== undefined && head.digest !== pin) return undefined;
  return { pullRef: digestReference(source.ref, head.digest), digest: head.digest };
}

/** One source's verdict: upstream served unless its quota is spent; a mirror as verify says. */
async function sourceVerdict(
  probe: ImageProbe,
  source: Source,
  log: (line: string) => void,
  warn: (line: string) => void,
): Promise<ProbeVerdict> {
  if (source.kind === "upstream") return upstreamVerdict(source.ref, await probe.upstream());
  const assessed = await probe.assessMirror(source.ref);
  const name = formatReference(source.ref);
  if (assessed.state === "ok" || assessed.state === "unverified") {
    if (assessed.state === "ok") log(`${name}: ${assessed.detail}`);
    else warn(`${name}: ${assessed.detail}`);
    return { pullRef: digestReference(source.ref, assessed.digest), digest: assessed.digest };
  }
  if (assessed.state === "differs") warn(`${name}: ${assessed.detail}; skipped`);
  return { skip: assessed.detail, mirrorState: assessed.state };
}

/**
 * The compressed size from the first source that would serve the image. A GET of a manifest
 * spends a pull where a registry counts them (Docker Hub, or any that reports a quota on its
 * HEADs): such a source is not measured.
 */
async function estimateSize(
  probe: ImageProbe,
  probeSource: (source: Source) => Promise<ProbeVerdict>,
  sources: readonly Source[],
  needed: () => Promise<boolean> = async () => true,
): Promise<SizeEstimate> {
  for (const source of sources) {
    if (source.kind === "mirror") {
      // A mirror's size is read from the digest its HEAD named, without waiting for its
      // verification: the pull starts while that runs (issue 24), and under on-failure: fail the
      // disk guard judges before it. A refused mirror's image is as large as upstream's, give or take a version.
      const [head, wanted] = await Promise.all([probe.head(source.ref), needed()]);
      if (head.kind !== "found") continue;
      if (!wanted) return { bytes: 0 };
      // After the early pull's request has gone to the engine (its awaits are microtasks, so one
      // turn of the event loop lets it go first): under on-failure: warn nothing waits for this GET.
      await new Promise((resolve) => setImmediate(resolve));
      return probe.compressedSize(source.ref, head.digest);
    }
    const verdict = await probeSource(source);
    const digest = verdict.digest;
    if (verdict.skip !== undefined || !digest) continue;
    const upstream = source.kind === "upstream" ? await probe.upstream() : undefined;
    if (source.ref.registry === "docker.io" || (upstream?.kind === "found" && upstream.quota)) {
      return { note: "served by a registry that counts pulls (Docker Hub): not measured, to spare its quota" };
    }
    return probe.compressedSize(source.ref, digest);
  }
  return { note: "no source would serve it" };
}
