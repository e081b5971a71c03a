// mode: plan — resolve and probe every source, pull nothing: what each mirror holds (drift).
import pLimit from "p-limit";
import type { Host } from "../host.js";
import { quotaText } from "../pull/policy.js";
import { upstreamVerdict } from "../pull/probehooks.js";
import { type Source, sourcesOf } from "../pull/sources.js";
import type { RegistryClient } from "../registry/client.js";
import { forImage, type HeadOutcome, ImageProbe, type ProbeSettings } from "../registry/probe.js";
import { failedResult, makeResult, type Result } from "../report/results.js";
import { markdownCode } from "../report/text.js";
import type { Config, ImageSpec } from "../resolve/inputs.js";
import { formatReference } from "../resolve/reference.js";

/** plan: resolve and probe every source, pull nothing; per mirror `ok`, `missing` or `differs`. */
export async function planAll(
  images: readonly ImageSpec[],
  config: Config,
  client: RegistryClient,
  settings: ProbeSettings,
  host: Host,
): Promise<Result[]> {
  const limit = pLimit(Math.max(config.concurrency, 4));
  const drift: Drift[] = [];
  const results = await Promise.all(
    images.map((spec) =>
      limit(async () => {
        const image = formatReference(spec.upstream);
        try {
          return await planImage(spec, config, client, settings, host, drift);
        } catch (error) {
          host.log.error(`${image}: ${(error as Error).message}`);
          return failedResult(image, `could not be planned: ${(error as Error).message}`);
        }
      }),
    ),
  );
  await reportDrift(drift, results.length, host);
  return results;
}

/** A mirror tag that is missing or differs from upstream, and where its image was named. */
export interface Drift {
  readonly image: string;
  readonly origin: string;
  readonly mirror: string;
  readonly state: "missing" | "differs";
  readonly detail: string;
}

/**
 * The drift view: every mirror tag that is missing or differs, with the file and line that
 * named its image, in the log and the job summary; `mode: mirror` over the same inputs fills them.
 */
async function reportDrift(drift: readonly Drift[], planned: number, host: Host): Promise<void> {
  if (drift.length === 0) return;
  const missing = drift.filter((d) => d.state === "missing").length;
  const head = `mirror drift: ${missing} mirror tag(s) missing, ${drift.length - missing} differ from upstream, for ${planned} image(s); mode: mirror over the same inputs copies them`;
  const line = (d: Drift) => `${d.mirror}: ${d.state}${d.state === "differs" ? ` (${d.detail})` : ""} — ${d.image}, named in ${d.origin}`;
  host.log.group(head, drift.map(line));
  await host.writeSummary(driftSummary(head, drift));
}

/** The job summary's drift table: names, file paths and registry text are code spans (markdownCode), never markup. */
export function driftSummary(head: string, drift: readonly Drift[]): string {
  return [
    `### prepull plan: ${head}`,
    "",
    "| mirror | state | image | named in |",
    "|---|---|---|---|",
    ...drift.map((d) => `| ${markdownCode(d.mirror)} | ${d.state} | ${markdownCode(d.image)} | ${markdownCode(d.origin)} |`),
    "",
  ].join("\n");
}

interface Chosen {
  readonly source: Source;
  readonly digest: string;
}

/** One image's plan: every mirror assessed against upstream, the source a pull would take. */
async function planImage(
  spec: ImageSpec,
  config: Config,
  client: RegistryClient,
  settings: ProbeSettings,
  host: Host,
  drift: Drift[],
): Promise<Result> {
  const started = performance.now();
  const image = formatReference(spec.upstream);
  const lines: string[] = [];
  const probe = new ImageProbe(client, spec, forImage(settings, spec), (line) => lines.push(line));
  const upstream = await probe.upstream();
  const sources = sourcesOf(spec, config);
  const { states, chosen: mirrorChosen, drifted } = await assessMirrors(probe, sources, upstream, lines);
  drift.push(...drifted.map((d) => ({ ...d, image, origin: spec.origin })));
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
): Promise<{ states: string[]; chosen?: Chosen; drifted: Pick<Drift, "mirror" | "state" | "detail">[] }> {
  const states: string[] = [];
  const drifted: Pick<Drift, "mirror" | "state" | "detail">[] = [];
  let chosen: Chosen | undefined;
  for (const source of sources.filter((s) => s.kind === "mirror")) {
    const assessed = await probe.assessMirror(source.ref);
    const name = formatReference(source.ref);
    const upstreamDigest = upstream.kind === "found" ? upstream.digest : "?";
    states.push(
      `${name}: ${assessed.state}${assessed.state === "differs" ? ` (mirror ${assessed.digest}, upstream ${upstreamDigest})` : ""}`,
    );
    lines.push(`${name}: ${assessed.state}: ${assessed.detail}`);
    if (assessed.state === "missing" || assessed.state === "differs")
      drifted.push({ mirror: name, state: assessed.state, detail: assessed.detail });
    if (!chosen && (assessed.state === "ok" || assessed.state === "unverified")) chosen = { source, digest: assessed.digest };
  }
  return { states, drifted, ...(chosen && { chosen }) };
}
