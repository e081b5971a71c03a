// The job summary (a table of the results, outside text as code spans) and the CLI's text table.
import { copyTotalsMarkdown } from "./copyreport.js";
import { formatBytes, type Result, STATUSES } from "./results.js";
import { markdownCode, oneLine } from "./text.js";

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
  const copyTotals = copyTotalsMarkdown(results);
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
    ...(copyTotals ? [copyTotals] : []),
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
