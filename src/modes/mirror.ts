// mode: mirror — copy each upstream image into its first mirror over the registry API
// (registry/copier.ts), digests preserved; per image `copied`, `present`, `skipped` or `failed`,
// with bytes uploaded, mounted and already there. One ledger for the run: a blob goes up once
// per registry, whatever the concurrency, and is mounted into the other repositories.
import pLimit from "p-limit";
import type { Host } from "../host.js";
import { sourcesOf } from "../pull/sources.js";
import type { RegistryClient } from "../registry/client.js";
import { BlobLedger, Copier, copyFailureText } from "../registry/copier.js";
import type { ProbeSettings } from "../registry/probe.js";
import { copyStatsText, copyTotals } from "../report/copyreport.js";
import { makeResult, type Result } from "../report/results.js";
import type { Config, ImageSpec } from "../resolve/inputs.js";
import { formatReference, type Reference } from "../resolve/reference.js";

/** mirror: copy each upstream image into its first mirror over the registry API. */
export async function mirrorImages(
  images: readonly ImageSpec[],
  config: Config,
  client: RegistryClient,
  settings: ProbeSettings,
  host: Host,
): Promise<Result[]> {
  const limit = pLimit(config.concurrency);
  const ledger = new BlobLedger();
  const mirrorsOf = images.map((spec) => sourcesOf(spec, config).flatMap((s) => (s.kind === "mirror" ? [s.ref] : [])));
  const targets = mirrorsOf.map((refs) => refs[0]);
  // Every repository the images map to is known before the first blob moves: the ones this run
  // writes, then the other mirror lines (an image's own asked first); each may hold a blob from an earlier run.
  for (const ref of targets) if (ref) ledger.addRepository(ref);
  for (const [target, ...others] of mirrorsOf) if (target) ledger.relate(target, others);
  const progress = (line: string) => host.log.info(line);
  const results = await Promise.all(
    images.map((spec, i) =>
      limit(async () => {
        const lines: string[] = [];
        const target = targets[i];
        const result = target
          ? await copyImage(spec, target, new Copier(client, settings, (line) => lines.push(line), { ledger, progress }), lines)
          : noMirror(spec, config);
        host.log.group(
          `${result.image}: ${result.status}${target ? ` → ${formatReference(target)}` : ""} (${result.seconds.toFixed(1)} s)`,
          lines,
        );
        return result;
      }),
    ),
  );
  const totals = copyTotals(results);
  if (totals) host.log.info(`mirror totals:\n${totals.text}`);
  return results;
}

/** Rules that serve other registries only (`docker.io=…`) leave an image out on purpose: skipped. No mirror configured at all is a mistake: failed. */
function noMirror(spec: ImageSpec, config: Config): Result {
  const image = formatReference(spec.upstream);
  const configured = config.mirrors.length > 0 || config.mirrorMap.size > 0;
  return makeResult(image, {
    source: "upstream",
    ref: image,
    status: configured ? "skipped" : "failed",
    reason: configured
      ? "no mirror rule serves this image's registry: nothing to copy it into"
      : "mode: mirror needs a mirror for this image: set mirrors, mirror-map or an `UPSTREAM => MIRROR` line",
  });
}

async function copyImage(spec: ImageSpec, target: Reference, copier: Copier, lines: string[]): Promise<Result> {
  const started = performance.now();
  const image = formatReference(spec.upstream);
  const mirror = formatReference(target);
  const base = { source: "upstream" as const, ref: image, mirror };
  const elapsed = () => (performance.now() - started) / 1000;
  try {
    const { status, digest, stats } = await copier.copy(spec.upstream, target);
    const moved = `${copyStatsText(stats)}; mirror digest checked equal`;
    const copy = {
      uploaded: stats.bytesUploaded,
      mounted: stats.bytesMounted,
      present: stats.bytesPresent,
      referrers: stats.referrersCopied,
    };
    lines.push(moved);
    return makeResult(image, {
      ...base,
      status,
      digest,
      attempts: 1 + copier.failures,
      seconds: elapsed(),
      reason: status === "present" ? `${mirror} already has upstream's digest; ${stats.bytesMoved > 0 ? moved : "nothing moved"}` : moved,
      size: stats.bytesMoved,
      copy,
    });
  } catch (error) {
    const message = copyFailureText(error);
    lines.push(message);
    return makeResult(image, {
      ...base,
      status: "failed",
      attempts: 1 + copier.failures,
      seconds: elapsed(),
      reason: `copy to ${mirror} failed: ${message}`,
    });
  }
}
