// Results, their outputs and job summary, and the two log sinks (Actions and a plain terminal).
import * as core from "@actions/core";

export const STATUSES = ["pulled", "present", "copied", "planned", "failed", "skipped"] as const;
export type Status = (typeof STATUSES)[number];
export type SourceKind = "mirror" | "upstream" | "local" | "none";

/** One image's outcome: the `results` output is an array of these. */
export interface Result {
  image: string;
  source: SourceKind;
  ref: string;
  digest: string;
  attempts: number;
  seconds: number;
  status: Status;
  reason: string;
  /** bytes on disk (pull) or moved (mirror), where known; shown in the summary */
  size?: number;
  /** plan and mirror modes: per-mirror state (`ok`, `missing`, `differs …`) */
  mirror?: string;
  /** Docker Hub pull quota left, where a Hub response said */
  quota?: string;
}

/** Where log lines go: the Actions runner (workflow commands) or a terminal. */
export interface Logger {
  info(message: string): void;
  notice(message: string): void;
  warning(message: string): void;
  error(message: string): void;
  /** Text from outside (a fetched script's output): shown, never interpreted as a command. */
  untrusted(title: string, text: string): void;
  group(title: string, lines: readonly string[]): void;
  /** Our own earlier log (a background worker's), passed through as it was written. */
  raw?(text: string): void;
}

export const actionLogger: Logger = {
  info: (message) => core.info(message),
  notice: (message) => core.notice(message),
  warning: (message) => core.warning(message),
  error: (message) => core.error(message),
  untrusted(title, text) {
    // Between stop-commands markers the runner treats `::` lines as plain text; the
    // marker is random so the text cannot end the block itself.
    const token = `prepull-${Math.random().toString(36).slice(2)}${Date.now().toString(36)}`;
    core.info(title);
    core.info(`::stop-commands::${token}`);
    for (const line of text.split(/\r?\n/)) core.info(`  ${line}`);
    core.info(`::${token}::`);
  },
  group(title, lines) {
    core.startGroup(title);
    for (const line of lines) core.info(line);
    core.endGroup();
  },
  raw: (text) => process.stdout.write(text),
};

export function consoleLogger(write: (line: string) => void = (line) => process.stderr.write(`${line}\n`)): Logger {
  return {
    info: (message) => write(message),
    notice: (message) => write(`notice: ${message}`),
    warning: (message) => write(`warning: ${message}`),
    error: (message) => write(`error: ${message}`),
    untrusted(title, text) {
      write(title);
      for (const line of text.split(/\r?\n/)) write(`  ${line}`);
    },
    group(title, lines) {
      write(`── ${title}`);
      for (const line of lines) write(`   ${line}`);
    },
  };
}

export function formatBytes(bytes: number | undefined): string {
  if (bytes === undefined) return "";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

const shortDigest = (digest: string) => (digest.startsWith("sha256:") ? `sha256:${digest.slice(7, 19)}` : digest);
const cell = (text: string) => text.replaceAll("|", "\\|").replaceAll("\n", " ");

/** Markdown table for the job summary. */
export function summaryMarkdown(results: readonly Result[], title = "prepull"): string {
  const hasMirror = results.some((r) => r.mirror !== undefined);
  const hasQuota = results.some((r) => r.quota !== undefined);
  const head = [
    "image",
    "status",
    "source",
    "ref",
    "digest",
    "attempts",
    "time",
    "size",
    ...(hasMirror ? ["mirror"] : []),
    ...(hasQuota ? ["Hub quota"] : []),
    "reason",
  ];
  const rows = results.map((r) => [
    `\`${r.image}\``,
    r.status,
    r.source,
    r.ref ? `\`${r.ref}\`` : "",
    r.digest ? `\`${shortDigest(r.digest)}\`` : "",
    String(r.attempts),
    `${r.seconds.toFixed(1)} s`,
    formatBytes(r.size),
    ...(hasMirror ? [r.mirror ?? ""] : []),
    ...(hasQuota ? [r.quota ?? ""] : []),
    r.reason,
  ]);
  const counts = STATUSES.map((s) => [s, results.filter((r) => r.status === s).length] as const)
    .filter(([, n]) => n > 0)
    .map(([s, n]) => `${n} ${s}`)
    .join(", ");
  return [
    `### ${title}: ${counts || "no images"}`,
    "",
    `| ${head.join(" | ")} |`,
    `|${head.map(() => "---").join("|")}|`,
    ...rows.map((row) => `| ${row.map(cell).join(" | ")} |`),
    "",
  ].join("\n");
}

/** Plain-text table for a terminal (the CLI). */
export function textTable(results: readonly Result[]): string {
  const head = ["IMAGE", "STATUS", "SOURCE", "DIGEST", "TRIES", "TIME", "REASON"];
  const rows = results.map((r) => [
    r.image,
    r.status,
    r.source,
    shortDigest(r.digest),
    String(r.attempts),
    `${r.seconds.toFixed(1)}s`,
    r.reason,
  ]);
  const widths = head.map((h, i) => Math.min(60, Math.max(h.length, ...rows.map((row) => (row[i] ?? "").length))));
  const fmt = (row: string[]) => row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join("  ");
  return [fmt(head), ...rows.map(fmt)].join("\n");
}

/** The `results` output: DESIGN.md's fields in a stable order, then `size`, `mirror`, `quota` where known. */
export function resultsJson(results: readonly Result[]): string {
  return JSON.stringify(
    results.map(({ image, source, ref, digest, attempts, seconds, status, reason, size, mirror, quota }) => ({
      image,
      source,
      ref,
      digest,
      attempts,
      seconds: Math.round(seconds * 10) / 10,
      status,
      reason,
      ...(size !== undefined && { size }),
      ...(mirror !== undefined && { mirror }),
      ...(quota !== undefined && { quota }),
    })),
  );
}

/** An image that ends failed before any source was tried. */
export function failedResult(image: string, reason: string): Result {
  return { image, source: "none", ref: "", digest: "", attempts: 0, seconds: 0, status: "failed", reason };
}
