// An image's result: what the `results` output holds, one object an image, and its JSON.

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

/** mode: mirror: bytes by how they came, and referrers copied. */
export interface CopyCounts {
  readonly uploaded: number;
  readonly mounted: number;
  readonly present: number;
  readonly referrers: number;
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
