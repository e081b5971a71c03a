// mode: plan — resolve and probe every source, pull nothing: what each mirror holds (drift).
import pLimit from "p-limit";
import type { Host } from "../host.js";
import type { Config, ImageSpec } from "../inputs.js";
import { quotaText } from "../policy.js";
import { forImage, type HeadOutcome, ImageProbe, type ProbeSettings } from "../probe.js";
import { upstreamVerdict } from "../probehooks.js";
import { formatReference } from "../reference.js";
import type { RegistryClient } from "../registry/client.js";
import { failedResult, makeResult, type Result } from "../report.js";
import { type Source, sourcesFor } from "../sources.js";

/** plan: resolve and probe every source, pull nothing; per mirror `ok`, `missing` or `differs`. */
export async function planAll(
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
        const image = formatReference(spec.upstream);
        try {
          return await planImage(spec, config, client, settings, host);
        } catch (error) {
          host.log.error(`${image}: ${(error as Error).message}`);
          return failedResult(image, `could not be planned: ${(error as Error).message}`);
        }
      }),
    ),
  );
}

interface Chosen {
  readonly source: Source;
  readonly digest: string;
}

/** One image's plan: every mirror assessed against upstream, the source a pull would take. */
async function planImage(spec: ImageSpec, config: Config, client: RegistryClient, settings: ProbeSettings, host: Host): Promise<Result> {
  const started = performance.now();
  const image = formatReference(spec.upstream);
  const lines: string[] = [];
  const probe = new ImageProbe(client, spec, forImage(settings, spec), (line) => lines.push(line));
  const upstream = await probe.upstream();
  const sources = sourcesFor(spec.upstream, config.mirrors, config.mirrorMap, spec.explicitMirror);
  const { states, chosen: mirrorChosen } = await assessMirrors(probe, sources, upstream, lines);
  lines.push(`upstream ${image}: ${upstream.kind === "found" ? `digest ${upstream.digest}` : upstream.detail}`);
  const upstreamSource = sources.find((s) => s.kind === "upstream");
  const verdict = upstreamSource ? upstreamVerdict(upstreamSource.ref, upstream) : undefined;
  const chosen: Chosen | undefined =
    mirrorChosen ??
    (upstreamSource && upstream.kind === "found" && verdict?.pullRef ? { source: upstreamSource, digest: upstream.digest } : undefined);
  const quota = "quota" in upstream && upstream.quota ? quotaText(upstream.quota) : undefined;
  host.log.group(`${image}: ${chosen ? `would pull from ${chosen.source.kind}` : "no source would serve it"}`, lines);
  return makeResult(image, {
    source: chosen ? chosen.source.kind : "none",
    ref: chosen ? formatReference(chosen.source.ref) : "",
    digest: upstream.kind === "found" ? upstream.digest : (chosen?.digest ?? ""),
    attempts: probe.tries(),
    seconds: (performance.now() - started) / 1000,
    status: chosen ? "planned" : "failed",
    reason: chosen
      ? states.filter((s) => !s.endsWith(": ok")).join("; ")
      : [...states, `upstream: ${verdict?.skip ?? "not a source"}`].join("; "),
    ...(states.length > 0 && { mirror: states.join("; ") }),
    ...(quota !== undefined && { quota }),
  });
}

/** Each mirror's state (`ok`, `missing`, `differs (…)`), and the first that a pull would take. */
async function assessMirrors(
  probe: ImageProbe,
  sources: readonly Source[],
  upstream: HeadOutcome,
  lines: string[],
): Promise<{ states: string[]; chosen?: Chosen }> {
  const states: string[] = [];
  let chosen: Chosen | undefined;
  for (const source of sources.filter((s) => s.kind === "mirror")) {
    const assessed = await probe.assessMirror(source.ref);
    const name = formatReference(source.ref);
    const upstreamDigest = upstream.kind === "found" ? upstream.digest : "?";
    states.push(
      `${name}: ${assessed.state}${assessed.state === "differs" ? ` (mirror ${assessed.digest}, upstream ${upstreamDigest})` : ""}`,
    );
    lines.push(`${name}: ${assessed.state}: ${assessed.detail}`);
    if (!chosen && (assessed.state === "ok" || assessed.state === "unverified")) chosen = { source, digest: assessed.digest };
  }
  return { states, ...(chosen && { chosen }) };
}
