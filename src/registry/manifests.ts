// Manifest media types, schemas (zod: everything off the network is checked), platforms.
import * as z from "zod/mini";
import { sha256Hex } from "./sha256.js";

export const MEDIA_TYPES = {
  ociIndex: "application/vnd.oci.image.index.v1+json",
  dockerList: "application/vnd.docker.distribution.manifest.list.v2+json",
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
} as const;

/** All four, always: a registry missing one substitutes content (REGISTRY-NOTES.md). */
export const MANIFEST_ACCEPT = Object.values(MEDIA_TYPES).join(", ");

const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;

/** A sha256 digest as registries write it: `sha256:` and 64 lowercase hex digits. */
export const isDigest = (text: string): boolean => DIGEST_RE.test(text);

/** A descriptor's digest field. */
export const DIGEST = z.string().check(z.regex(DIGEST_RE));

const Descriptor = z.object({
  mediaType: z.optional(z.string()),
  digest: DIGEST,
  size: z.int().check(z.nonnegative()),
  urls: z.optional(z.array(z.string())),
});

const Platform = z.object({ os: z.string(), architecture: z.string(), variant: z.optional(z.string()) });

const IndexSchema = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.optional(z.string()),
  manifests: z.array(z.extend(Descriptor, { platform: z.optional(Platform) })),
});

const ImageManifestSchema = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.optional(z.string()),
  config: Descriptor,
  layers: z.array(Descriptor),
});

export type Descriptor = z.infer<typeof Descriptor>;
export type IndexManifest = z.infer<typeof IndexSchema>;
export type ImageManifest = z.infer<typeof ImageManifestSchema>;
export type ParsedManifest = { kind: "index"; index: IndexManifest } | { kind: "image"; image: ImageManifest };

export function isIndexType(mediaType: string | undefined): boolean {
  return mediaType === MEDIA_TYPES.ociIndex || mediaType === MEDIA_TYPES.dockerList;
}

/** Parses manifest bytes; the media type header decides, the body's own field when the header is vague. */
export function parseManifest(body: Buffer, contentType?: string): ParsedManifest {
  const json: unknown = JSON.parse(body.toString("utf8"));
  const declared = (json as { mediaType?: string }).mediaType;
  const type =
    isIndexType(contentType) || isIndexType(declared) || (json as { manifests?: unknown }).manifests !== undefined ? "index" : "image";
  return type === "index" ? { kind: "index", index: IndexSchema.parse(json) } : { kind: "image", image: ImageManifestSchema.parse(json) };
}

export function sha256Digest(body: Buffer): string {
  return `sha256:${sha256Hex(body)}`;
}

/**
 * Why an announced digest (`Docker-Content-Digest`) is not the one asked for, or undefined:
 * a registry asked for `@sha256:X` names X, or it is not answering what was asked.
 */
export function announcedDigestFault(announced: string, asked: string | undefined): string | undefined {
  if (asked === undefined || !asked.startsWith("sha256:") || announced === "" || announced === asked) return undefined;
  return `it announced ${announced.slice(0, 80)} for ${asked}, which was asked for: not the content the pin names`;
}

/**
 * Why a manifest answer cannot be taken as it stands, or undefined. Its bytes are the digest's
 * source: they must hash to the digest asked for (a GET by digest) and to the one the
 * registry announced; a body that does not is a forged or corrupt answer, that source's fault.
 * `actual`: the body's digest, where the caller has it already.
 */
export function manifestDigestFault(
  body: Buffer,
  announced: string,
  asked: string | undefined,
  actual = sha256Digest(body),
): string | undefined {
  if (asked?.startsWith("sha256:") && actual !== asked) {
    return `the manifest it answered for ${asked} hashes to ${actual}: a forged or corrupt answer`;
  }
  if (announced.startsWith("sha256:") && announced !== actual) {
    return `the manifest it announced as ${announced.slice(0, 80)} hashes to ${actual}: a forged or corrupt answer`;
  }
  return undefined;
}

export interface PlatformSpec {
  readonly os: string;
  readonly architecture: string;
  readonly variant?: string;
}

/** `linux/arm64/v8` → spec; empty → the runner's own platform, as the engine defaults. */
export function platformSpec(text: string | undefined, arch: string = process.arch): PlatformSpec {
  if (text) {
    const [os = "linux", architecture = "amd64", variant] = text.split("/");
    return { os, architecture, ...(variant !== undefined && { variant }) };
  }
  const map: Record<string, string> = {
    x64: "amd64",
    arm64: "arm64",
    arm: "arm",
    ia32: "386",
    ppc64: "ppc64le",
    s390x: "s390x",
    riscv64: "riscv64",
  };
  return { os: "linux", architecture: map[arch] ?? arch };
}

/** The index entry for a platform; BuildKit attestations (`unknown/unknown`) are never chosen. */
export function pickPlatform(index: IndexManifest, platform: PlatformSpec): Descriptor | undefined {
  const candidates = index.manifests.filter((m) => m.platform && m.platform.os !== "unknown" && m.platform.architecture !== "unknown");
  const matches = candidates.filter((m) => m.platform?.os === platform.os && m.platform.architecture === platform.architecture);
  if (platform.variant)
    return (
      matches.find((m) => m.platform?.variant === platform.variant) ??
      (platform.variant === "v8" ? matches.find((m) => !m.platform?.variant) : undefined)
    );
  return matches.find((m) => !m.platform?.variant || (platform.architecture === "arm64" && m.platform.variant === "v8")) ?? matches[0];
}
