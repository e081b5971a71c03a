// What mode: mirror tells while and after it copies: progress lines for a long copy (bytes,
// rate, what is left, at the pull's interval), and the totals of a run (copied / mounted /
// present / failed, with bytes) for the log and the job summary.
import type { CopyStats } from "../registry/blobs.js";
import { type CopyCounts, formatBytes, type Result } from "./results.js";

/** One copy's numbers: `1.2 MB moved: 3 blobs uploaded (1.2 MB), 0 mounted (0 B), 1 already there (4 KB), 1 manifests pushed`. */
export function copyStatsText(stats: CopyStats): string {
  const referrers = stats.referrersCopied > 0 ? `, ${stats.referrersCopied} referrers copied` : "";
  return `${formatBytes(stats.bytesMoved)} moved: ${stats.blobsUploaded} blobs uploaded (${formatBytes(stats.bytesUploaded)}), ${stats.blobsMounted} mounted (${formatBytes(stats.bytesMounted)}), ${stats.blobsPresent} already there (${formatBytes(stats.bytesPresent)}), ${stats.manifestsPushed} manifests pushed${referrers}`;
}

/** One image's copy as it goes: blob bytes known to be needed, and how far each has come. */
export class CopyProgress {
  private total = 0;
  private done = 0;
  /** bytes that went through a stream (what the rate is of): finished blobs, and the ones under way */
  private streamedDone = 0;
  private readonly current = new Map<string, number>();

  constructor(private readonly startedMs: number) {}

  /** Blobs the copy will need (present, mounted or uploaded). */
  addTotal(bytes: number): void {
    this.total += bytes;
  }

  /** `bytes` of `digest` so far in this try; `finished`: the blob is there (its whole size). */
  onBytes(digest: string, bytes: number, finished: boolean): void {
    if (!finished) {
      this.current.set(digest, bytes);
      return;
    }
    if (this.current.has(digest)) this.streamedDone += bytes;
    this.current.delete(digest);
    this.done += bytes;
  }

  /** `12.0 MB of 50.0 MB, 3.1 MB/s, 38.0 MB left (about 12 s), 4 s` */
  text(nowMs: number): string {
    const seconds = Math.max(0.001, (nowMs - this.startedMs) / 1000);
    const under = [...this.current.values()].reduce((sum, bytes) => sum + bytes, 0);
    const done = Math.min(this.total, this.done + under);
    const rate = (this.streamedDone + under) / seconds;
    const left = Math.max(0, this.total - done);
    const eta = rate >= 1000 && left > 0 ? ` (about ${Math.ceil(left / rate)} s)` : "";
    return `${formatBytes(done)} of ${formatBytes(this.total)}, ${formatBytes(rate)}/s, ${formatBytes(left)} left${eta}, ${Math.round(seconds)} s`;
  }
}

/** The totals of a mirror run: images copied, present and failed; blobs and bytes uploaded, mounted and already there. */
export function copyTotals(results: readonly Result[]): { rows: string[][]; text: string } | undefined {
  const counted = results.filter((r) => r.copy !== undefined);
  if (counted.length === 0 && !results.some((r) => r.status === "copied")) return undefined;
  const sum = (pick: (c: CopyCounts) => number) => counted.reduce((total, r) => total + (r.copy ? pick(r.copy) : 0), 0);
  const images = (status: Result["status"]) => results.filter((r) => r.status === status).length;
  const rows = [
    ["copied", String(images("copied")), formatBytes(sum((c) => c.uploaded)), "uploaded"],
    ["mounted", "", formatBytes(sum((c) => c.mounted)), "mounted from another repository of the mirror's registry"],
    ["present", String(images("present")), formatBytes(sum((c) => c.present)), "already in the mirror"],
    ["failed", String(images("failed")), "", ""],
    ["referrers", "", "", `${sum((c) => c.referrers)} copied (OCI referrers and cosign tags)`],
  ];
  const text = rows.map(([what, n, bytes, note]) => {
    const amount = [n ? `${n} image(s)` : "", bytes].filter(Boolean).join(", ");
    return `${what}: ${[amount, note].filter(Boolean).join(" ")}`;
  });
  return { rows, text: text.join("\n") };
}

/** The totals as a Markdown table for the job summary ("" when the run copied nothing). */
export function copyTotalsMarkdown(results: readonly Result[]): string {
  const totals = copyTotals(results);
  if (!totals) return "";
  return [
    "| mirror copy | images | bytes | |",
    "|---|---|---|---|",
    ...totals.rows.map((row) => `| ${row.map((cell) => cell.replaceAll("|", "\\|")).join(" | ")} |`),
    "",
  ].join("\n");
}
