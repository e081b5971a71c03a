// OCI/Docker image references, parsed and normalised as the Docker engine does
// (distribution/reference: reference.go, normalize.go). Written here rather than taken
// from npm because the one port there (@swimlane/docker-reference) predates the
// uppercase-domain and `index.docker.io` rules and does not normalise; the grammar is
// small, and a table of cases in test/unit/reference.test.ts pins it down.

export const DEFAULT_REGISTRY = "docker.io";
const LEGACY_DEFAULT_REGISTRY = "index.docker.io";
const MAX_NAME_LENGTH = 255;

const alnum = "[a-z0-9]+";
const separator = "(?:[._]|__|[-]+)";
const pathComponent = `${alnum}(?:${separator}${alnum})*`;
const domainComponent = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const host = `(?:${domainComponent}(?:\\.${domainComponent})*|\\[[a-fA-F0-9:]+\\])`;
const domainAndPort = `${host}(?::[0-9]+)?`;
const tagPattern = "[\\w][\\w.-]{0,127}";
const digestPattern = "[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}";

const PATH_RE = new RegExp(`^${pathComponent}(?:/${pathComponent})*$`);
const DOMAIN_RE = new RegExp(`^${domainAndPort}$`);
const TAG_RE = new RegExp(`^${tagPattern}$`);
const DIGEST_RE = new RegExp(`^${digestPattern}$`);
const HEX64_RE = /^[a-f0-9]{64}$/;
const DIGEST_LENGTHS: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };

export interface Reference {
  /** e.g. `docker.io`, `ghcr.io`, `localhost:5000`. */
  readonly registry: string;
  /** repository path within the registry, e.g. `library/alpine`. */
  readonly path: string;
  readonly tag?: string;
  readonly digest?: string;
}

export class InvalidReferenceError extends Error {
  override name = "InvalidReferenceError";
}

/** Parses `text` as `docker pull` would, returning the normalised reference. */
export function parseReference(input: string): Reference {
  const text = input.trim();
  if (text === "") throw new InvalidReferenceError("invalid reference format: empty reference");
  if (HEX64_RE.test(text)) {
    throw new InvalidReferenceError(`invalid repository name (${text}), cannot specify 64-byte hexadecimal strings`);
  }
  let rest = text;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    validateDigest(digest, text);
  }
  let tag: string | undefined;
  const lastColon = rest.lastIndexOf(":");
  if (lastColon > rest.lastIndexOf("/")) {
    tag = rest.slice(lastColon + 1);
    rest = rest.slice(0, lastColon);
    if (!TAG_RE.test(tag)) throw new InvalidReferenceError(`invalid reference format: invalid tag "${tag}" in ${text}`);
  }
  const { registry, path } = splitName(rest, text);
  const result: Reference = { registry, path };
  return { ...result, ...(tag !== undefined && { tag }), ...(digest !== undefined && { digest }) };
}

/** Parses a repository name with neither tag nor digest (mirror prefixes, mirror-map sides). */
export function parseRepository(input: string): Reference {
  const ref = parseReference(input);
  if (ref.tag !== undefined || ref.digest !== undefined) {
    throw new InvalidReferenceError(`expected a repository without tag or digest, got ${input.trim()}`);
  }
  return ref;
}

function splitName(name: string, whole: string): { registry: string; path: string } {
  const slash = name.indexOf("/");
  let registry = DEFAULT_REGISTRY;
  let path = name;
  if (slash >= 0) {
    const first = name.slice(0, slash);
    // A first component is a registry only if it has '.' or ':', is localhost,
    // or (as the engine decides since 2023) is not all lowercase.
    if (/[.:]/.test(first) || first === "localhost" || first.toLowerCase() !== first) {
      registry = first;
      path = name.slice(slash + 1);
    }
  }
  if (registry === LEGACY_DEFAULT_REGISTRY) registry = DEFAULT_REGISTRY;
  if (!DOMAIN_RE.test(registry)) {
    throw new InvalidReferenceError(`invalid reference format: invalid registry "${registry}" in ${whole}`);
  }
  if (registry === DEFAULT_REGISTRY && !path.includes("/")) path = `library/${path}`;
  if (path.toLowerCase() !== path) {
    throw new InvalidReferenceError(`invalid reference format: repository name (${path}) must be lowercase`);
  }
  if (!PATH_RE.test(path)) {
    throw new InvalidReferenceError(`invalid reference format: invalid repository name "${path}" in ${whole}`);
  }
  // distribution/reference (since v0.6.0) limits the path, the registry not counted.
  if (path.length > MAX_NAME_LENGTH) {
    throw new InvalidReferenceError(`repository name must not be more than ${MAX_NAME_LENGTH} characters: ${whole}`);
  }
  return { registry, path };
}

function validateDigest(digest: string, whole: string): void {
  if (!DIGEST_RE.test(digest)) throw new InvalidReferenceError(`invalid reference format: invalid digest in ${whole}`);
  const [algorithm = "", hex = ""] = digest.split(":");
  const length = DIGEST_LENGTHS[algorithm];
  if (length === undefined) throw new InvalidReferenceError(`unsupported digest algorithm "${algorithm}" in ${whole}`);
  if (hex.length !== length || !/^[a-f0-9]+$/.test(hex)) {
    throw new InvalidReferenceError(`invalid checksum digest format in ${whole}`);
  }
}

/** `registry/path` */
export function repositoryOf(ref: Reference): string {
  return `${ref.registry}/${ref.path}`;
}

/** Full normalised text: `docker.io/library/alpine:latest`, `r/p:t@sha256:…`, `r/p@sha256:…`. */
export function formatReference(ref: Reference): string {
  const tag = ref.tag ?? (ref.digest === undefined ? "latest" : undefined);
  return `${repositoryOf(ref)}${tag !== undefined ? `:${tag}` : ""}${ref.digest !== undefined ? `@${ref.digest}` : ""}`;
}

/** The name an engine can tag: the reference without its digest (`latest` if it had neither). */
export function taggableReference(ref: Reference): string | undefined {
  if (ref.tag === undefined && ref.digest !== undefined) return undefined;
  return `${repositoryOf(ref)}:${ref.tag ?? "latest"}`;
}

/**
 * `repo:tag@digest`: what to pull once a digest is known, so that what was verified is what
 * lands. The engine pulls by the digest (the tag is only shown) and records `repo@digest`.
 */
export function digestReference(ref: Reference, digest: string): string {
  return `${repositoryOf(ref)}${ref.tag !== undefined ? `:${ref.tag}` : ""}@${digest}`;
}

/** The tag or digest used in registry API paths (`/v2/<path>/manifests/<this>`). */
export function manifestSelector(ref: Reference): string {
  return ref.digest ?? ref.tag ?? "latest";
}

export function withRepository(ref: Reference, repository: Reference): Reference {
  const { tag, digest } = ref;
  return {
    registry: repository.registry,
    path: repository.path,
    ...(tag !== undefined && { tag }),
    ...(digest !== undefined && { digest }),
  };
}

/** A registry on this machine: the engine reaches 127.0.0.0/8 over plain HTTP, and a token sent there stays here. */
export function isLoopback(registry: string): boolean {
  const host = registry.replace(/:\d+$/, "");
  return host === "localhost" || /^127\.\d+\.\d+\.\d+$/.test(host) || host === "[::1]";
}
