// Images to pre-pull as the inputs and the build's files name them: one line of the `images`
// format parsed, and one list made of several (the same image named twice is one entry).
import { formatReference, parseReference, type Reference } from "./reference.js";

/** An image to pre-pull and where it was named. */
export interface ImageSpec {
  /** normalised upstream reference */
  readonly upstream: Reference;
  /** `UPSTREAM => MIRROR` on its line */
  readonly explicitMirror?: Reference;
  /** that `=>` was written in the `images` input (the workflow's own text), not read from a file or script: fill-mirror may push there */
  readonly mirrorFromInput?: boolean;
  /** e.g. `images line 3`, `images-file spec.txt line 2`, `set-vars CONTAINER_SOURCE`; several, `; `-joined, once merged */
  readonly origin: string;
  /** a platform the build file fixes for this image (`FROM --platform=linux/arm64`); else `platform` */
  readonly platform?: string;
}

/** A line that named no valid image: reported as a failed result, the other images still go ahead. */
export interface ImageLineError {
  readonly text: string;
  readonly origin: string;
  readonly message: string;
}

/** One `images` line: `UPSTREAM` or `UPSTREAM => MIRROR` (a mirror without tag takes upstream's). */
export function parseImageLine(text: string, origin: string): ImageSpec | ImageLineError {
  const parts = text.split("=>").map((part) => part.trim());
  try {
    if (parts.length > 2) throw new Error(`more than one "=>"`);
    const upstream = parseReference(parts[0] ?? "");
    if (parts.length === 1) return { upstream, origin };
    let explicitMirror = parseReference(parts[1] ?? "");
    if (explicitMirror.tag === undefined && explicitMirror.digest === undefined) {
      const { tag, digest } = upstream;
      explicitMirror = { ...explicitMirror, ...(tag !== undefined && { tag }), ...(digest !== undefined && { digest }) };
    } else if (explicitMirror.digest === undefined && upstream.digest !== undefined) {
      // `UPSTREAM@sha256:… => MIRROR:tag`: the pin holds on the mirror side too.
      explicitMirror = { ...explicitMirror, digest: upstream.digest };
    }
    return { upstream, explicitMirror, origin };
  } catch (error) {
    return { text, origin, message: `invalid reference "${text}": ${(error as Error).message}` };
  }
}

/** One list: the same image (and platform) named twice is one entry whose origin names every place. */
export function mergeImages(images: readonly ImageSpec[]): ImageSpec[] {
  const merged = new Map<string, ImageSpec>();
  for (const image of images) {
    const key = `${formatReference(image.upstream)} ${image.platform ?? ""}`;
    const seen = merged.get(key);
    if (!seen) merged.set(key, image);
    else if (!seen.origin.split("; ").includes(image.origin)) merged.set(key, { ...seen, origin: `${seen.origin}; ${image.origin}` });
  }
  return [...merged.values()];
}

/**
 * A line read from a file (images-file, a build file): an error names the file and line, never
 * the text, which may be anything the file holds (a JSON login's `"auth"` value).
 */
export function parseFileImageLine(text: string, origin: string): ImageSpec | ImageLineError {
  const spec = parseImageLine(text, origin);
  if (!("message" in spec)) return spec;
  return { text: origin, origin, message: "not an image reference (a line read from a file is not shown)" };
}
