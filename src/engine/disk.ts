// The disk-space guard: before any byte moves, compare what the images will need with the
// free space of the engine's data root. Pure arithmetic here; modes/pull.ts gathers the numbers.
import { formatBytes } from "../report/results.js";

/**
 * Layers are stored unpacked: compressed size times this factor is the estimate on disk
 * (gzip commonly shrinks image layers 2–3 times; the upper end errs on the side of a warning).
 */
export const DISK_FACTOR = 2.5;

export interface DiskVerdict {
  readonly neededBytes: number;
  readonly freeBytes: number;
  readonly enough: boolean;
  readonly message: string;
}

export function diskVerdict(
  compressedBytes: number,
  freeBytes: number,
  where: string,
  unknown: readonly string[] = [],
  measured = true,
): DiskVerdict {
  const neededBytes = Math.round(compressedBytes * DISK_FACTOR);
  const enough = neededBytes <= freeBytes;
  const gb = (bytes: number) => `${(bytes / 1e9).toFixed(bytes < 1e9 ? 2 : 1)} GB`;
  const unknownNote = unknown.length > 0 ? ` (not counted: ${unknown.join("; ")})` : "";
  if (!measured) {
    return {
      neededBytes,
      freeBytes,
      enough: true,
      message: `disk space: not estimated, no image size could be read (${unknown.join("; ")}); ${gb(freeBytes)} free on ${where}`,
    };
  }
  const message = `${enough ? "disk space: " : "not enough disk space: "}needs about ${gb(neededBytes)}, ${gb(freeBytes)} free on ${where} (${formatBytes(compressedBytes)} compressed × ${DISK_FACTOR})${unknownNote}`;
  return { neededBytes, freeBytes, enough, message };
}
