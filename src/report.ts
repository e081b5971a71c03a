// Results, their outputs and job summary, and the two log sinks (Actions and a plain terminal).
import * as core from "@actions/core";
import { type CopyCounts, copyTotalsMarkdown } from "./report/copyreport.js";
import { LINE_END, markdownCode, neutralise, oneLine } from "./report/text.js";

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
  /** where the image was named: `images line 2`, `images-from docker/Dockerfile line 3`, … */
  origin?: string;
  /** the platform it was pulled for, where one was asked (the `platform` input, a file's `--platform=`) */
  platform?: string;
  /** mode: mirror: bytes uploaded, mounted and already there; referrers copied */
  copy?: CopyCounts;
}

/** Where log lines go: the Actions runner (workflow commands), a terminal, or a worker's log file. */
export interface Logger {
  info(message: string): void;
  notice(message: string): void;
  warning(message: string): void;
  error(message: string): void;
  /** Text from outside (a fetched script's output): shown under a title, never interpreted. */
  untrusted(title: string, text: string): void;
  group(title: string, lines: readonly string[]): void;
}

export { neutralise } from "./report/text.js";

export const actionLogger: Logger = {
  info: (message) => {
    for (const line of neutralise(message)) core.info(line);
  },
  // Annotations are workflow commands of core's own: their text is escaped there (%, CR, LF).
  notice: (message) => core.notice(message),
  warning: (message) => core.warning(message),
  error: (message) => core.error(message),
  untrusted(title, text) {
    actionLogger.info(title);
    for (const line of text.split(LINE_END)) actionLogger.info(`  ${line}`);
  },
  group(title, lines) {
    core.startGroup(title);
    for (const line of lines) actionLogger.info(line);
    core.endGroup();
  },
};

export function consoleLogger(write: (line: string) => void = (line) => process.stderr.write(`${line}\n`)): Logger {
  // A CLI run inside a GitHub Actions step is read by the runner too.
  const out = (text: string) => {
    for (const line of neutralise(text)) write(line);
  };
  return {
    info: (message) => out(message),
    notice: (message) => out(`notice: ${message}`),
    warning: (message) => out(`warning: ${message}`),
    error: (message) => out(`error: ${message}`),
    untrusted(title, text) {
      out(title);
      for (const line of text.split(LINE_END)) out(`  ${line}`);
    },
    group(title, lines) {
      out(`── ${title}`);
      for (const line of lines) out(`   ${line}`);
    },
  };
}

type LogRecord =
  | { readonly k: "info" | "notice" | "warning" | "error"; readonly m: string }
  | { readonly k: "untrusted"; readonly t: string; readonly m: string }
  | { readonly k: "group"; readonly t: string; readonly l: readonly string[] };

/** A background worker's logger: one JSON record a line, replayed through the reader's own sinks. */
export function recordLogger(write: (line: string) => void): Logger {
  const put = (record: LogRecord) => write(JSON.stringify(record));
  return {
    info: (m) => put({ k: "info", m }),
    notice: (m) => put({ k: "notice", m }),
    warning: (m) => put({ k: "warning", m }),
    error: (m) => put({ k: "error", m }),
    untrusted: (t, m) => put({ k: "untrusted", t, m }),
    group: (t, l) => put({ k: "group", t, l }),
  };
}

/** Replays a worker's log through `log`: records as what they were, anything else as plain (neutralised) text. */
export function replayLog(text: string, log: Logger): void {
  for (const line of text.split("\n")) {
    if (line === "") continue;
    let record: LogRecord | undefined;
    try {
      record = JSON.parse(line) as LogRecord;
    } catch {
      record = undefined;
    }
    if (!record || typeof record !== "object") log.info(line);
    else if (record.k === "group" && Array.isArray(record.l)) log.group(String(record.t), record.l.map(String));
    else if (record.k === "untrusted") log.untrusted(String(record.t), String(record.m));
    else if (record.k === "info" || record.k === "notice" || record.k === "warning" || record.k === "error")
      log[record.k](String(record.m));
    else log.info(line);
  }
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
  // Every cell that holds text from outside is a code span (markdownCode): text, never markup.
  const rows = results.map((r) => [
    markdownCode(r.image),
    r.status,
    r.source,
    markdownCode(r.ref),
    markdownCode(shortDigest(r.digest)),
    String(r.attempts),
    `${r.seconds.toFixed(1)} s`,
    formatBytes(r.size),
    ...(hasMirror ? [markdownCode(r.mirror ?? "")] : []),
    ...(hasQuota ? [markdownCode(r.quota ?? "")] : []),
    markdownCode(r.reason),
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
    ...rows.map((row) => `| ${row.join(" | ")} |`),
    "",
    ...(copyTotalsMarkdown(results) ? [copyTotalsMarkdown(results)] : []),
  ].join("\n");
}

/** Plain-text table for a terminal (the CLI), one line a row: print it through `neutralise` (a CLI in a `run:` step is read by the runner). */
export function textTable(results: readonly Result[]): string {
  const head = ["IMAGE", "STATUS", "SOURCE", "DIGEST", "TRIES", "TIME", "REASON"];
  const rows = results.map((r) =>
    [r.image, r.status, r.source, shortDigest(r.digest), String(r.attempts), `${r.seconds.toFixed(1)}s`, r.reason].map(oneLine),
  );
  const widths = head.map((h, i) => Math.min(60, Math.max(h.length, ...rows.map((row) => (row[i] ?? "").length))));
  const fmt = (row: string[]) => row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join("  ");
  return [fmt(head), ...rows.map(fmt)].join("\n");
}

/** The `results` output: DESIGN.md's fields in a stable order, then `size`, `mirror`, `quota` where known. */
export function resultsJson(results: readonly Result[]): string {
  return JSON.stringify(
    results.map(({ image, source, ref, digest, attempts, seconds, status, reason, size, mirror, quota, origin, platform, copy }) => ({
      image,
      source,
      ref,
      digest,
      attempts,
      seconds: Math.round(seconds * 10) / 10,
      status,
      reason,
      ...(platform !== undefined && { platform }),
      ...(size !== undefined && { size }),
      ...(mirror !== undefined && { mirror }),
      ...(quota !== undefined && { quota }),
      ...(origin !== undefined && { origin }),
      ...(copy !== undefined && { copy }),
    })),
  );
}

/** The one constructor of a Result: what is not given is empty (no source, no tries, no time). */
export function makeResult(image: string, fields: Partial<Result> & Pick<Result, "status">): Result {
  return { image, source: "none", ref: "", digest: "", attempts: 0, seconds: 0, reason: "", ...fields };
}

/** An image that ends failed before any source was tried. */
export function failedResult(image: string, reason: string): Result {
  return makeResult(image, { status: "failed", reason });
}
