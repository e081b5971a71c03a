// Registry API helpers for tests: read digests, and build a multi-platform index by pushing
// platform manifests that exist and an index over them (what `docker buildx` would push).
import { sha256Digest } from "../../src/registry/manifests.js";

/** the manifest types a registry is asked for, index first */
export const ACCEPT = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
].join(", ");

export interface ManifestInfo {
  readonly digest: string;
  readonly size: number;
  readonly mediaType: string;
  readonly body: string;
}

/** GET a manifest from a registry without auth (the plain test registries). */
export async function getManifest(host: string, path: string, selector: string): Promise<ManifestInfo | undefined> {
  const response = await fetch(`http://${host}/v2/${path}/manifests/${selector}`, { headers: { Accept: ACCEPT } });
  if (response.status !== 200) return undefined;
  const body = await response.text();
  return {
    digest: response.headers.get("docker-content-digest") ?? "",
    size: Buffer.byteLength(body),
    mediaType: response.headers.get("content-type") ?? "",
    body,
  };
}

export async function manifestDigest(host: string, path: string, selector: string): Promise<string | undefined> {
  const response = await fetch(`http://${host}/v2/${path}/manifests/${selector}`, { method: "HEAD", headers: { Accept: ACCEPT } });
  return response.status === 200 ? (response.headers.get("docker-content-digest") ?? undefined) : undefined;
}

/**
 * Pushes a Docker manifest list at `path:tag` over manifests already in `path` (given by tag),
 * each with its platform; `unknown/unknown` stands for a BuildKit attestation entry.
 */
export async function pushIndex(host: string, path: string, tag: string, entries: { tag: string; platform: string }[]): Promise<string> {
  const manifests = [];
  for (const entry of entries) {
    const info = await getManifest(host, path, entry.tag);
    if (!info) throw new Error(`no manifest ${path}:${entry.tag}`);
    const [os = "", architecture = "", variant] = entry.platform.split("/");
    manifests.push({
      mediaType: info.mediaType,
      digest: info.digest,
      size: info.size,
      platform: { os, architecture, ...(variant && { variant }) },
    });
  }
  const body = JSON.stringify(
    { schemaVersion: 2, mediaType: "application/vnd.docker.distribution.manifest.list.v2+json", manifests },
    null,
    3,
  );
  const response = await fetch(`http://${host}/v2/${path}/manifests/${tag}`, {
    method: "PUT",
    headers: { "Content-Type": "application/vnd.docker.distribution.manifest.list.v2+json" },
    body,
  });
  if (response.status !== 201) throw new Error(`index push answered ${response.status}: ${await response.text()}`);
  return response.headers.get("docker-content-digest") ?? "";
}

async function putBlob(host: string, path: string, body: Buffer): Promise<{ digest: string; size: number }> {
  const digest = sha256Digest(body);
  const start = await fetch(`http://${host}/v2/${path}/blobs/uploads/`, { method: "POST" });
  const location = new URL(start.headers.get("location") ?? "", `http://${host}`);
  location.searchParams.set("digest", digest);
  const put = await fetch(location, { method: "PUT", body, headers: { "Content-Type": "application/octet-stream" } });
  if (put.status !== 201) throw new Error(`blob upload answered ${put.status}`);
  return { digest, size: body.length };
}

async function putManifest(host: string, path: string, reference: string, mediaType: string, body: string): Promise<string> {
  const response = await fetch(`http://${host}/v2/${path}/manifests/${reference}`, {
    method: "PUT",
    headers: { "Content-Type": mediaType },
    body,
  });
  if (response.status !== 201) throw new Error(`manifest push answered ${response.status}: ${await response.text()}`);
  return response.headers.get("docker-content-digest") ?? "";
}

/**
 * What `docker buildx build --push` makes of an image (BuildKit's default provenance): an OCI
 * index at `path:tag` holding the image as an OCI manifest for linux/amd64, and an attestation
 * manifest (`unknown/unknown`, in-toto layer) that refers to it. The image is the one at
 * `path:fromTag` (seeded by the engine), its config and layers unchanged.
 */
export async function pushBuildKitIndex(
  host: string,
  path: string,
  tag: string,
  fromTag: string,
): Promise<{ indexDigest: string; platformDigest: string; configDigest: string }> {
  const source = await getManifest(host, path, fromTag);
  if (!source) throw new Error(`no manifest ${path}:${fromTag}`);
  const docker = JSON.parse(source.body) as { config: { digest: string; size: number }; layers: { digest: string; size: number }[] };
  const oci = JSON.stringify({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: docker.config.digest, size: docker.config.size },
    layers: docker.layers.map((l) => ({ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: l.digest, size: l.size })),
  });
  const platformDigest = sha256Digest(Buffer.from(oci));
  await putManifest(host, path, platformDigest, "application/vnd.oci.image.manifest.v1+json", oci);
  const statement = await putBlob(
    host,
    path,
    Buffer.from(
      JSON.stringify({
        _type: "https://in-toto.io/Statement/v0.1",
        predicateType: "https://slsa.dev/provenance/v0.2",
        subject: [{ digest: { sha256: platformDigest.slice(7) } }],
      }),
    ),
  );
  const emptyConfig = await putBlob(
    host,
    path,
    Buffer.from(JSON.stringify({ architecture: "unknown", os: "unknown", rootfs: { type: "layers", diff_ids: [] } })),
  );
  const attestation = JSON.stringify({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: { mediaType: "application/vnd.oci.image.config.v1+json", ...emptyConfig },
    layers: [
      {
        mediaType: "application/vnd.in-toto+json",
        ...statement,
        annotations: { "in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2" },
      },
    ],
  });
  const attestationDigest = await putManifest(
    host,
    path,
    sha256Digest(Buffer.from(attestation)),
    "application/vnd.oci.image.manifest.v1+json",
    attestation,
  );
  const index = JSON.stringify({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.index.v1+json",
    manifests: [
      {
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        digest: platformDigest,
        size: Buffer.byteLength(oci),
        platform: { architecture: "amd64", os: "linux" },
      },
      {
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        digest: attestationDigest,
        size: Buffer.byteLength(attestation),
        annotations: { "vnd.docker.reference.digest": platformDigest, "vnd.docker.reference.type": "attestation-manifest" },
        platform: { architecture: "unknown", os: "unknown" },
      },
    ],
  });
  const indexDigest = await putManifest(host, path, tag, "application/vnd.oci.image.index.v1+json", index);
  return { indexDigest, platformDigest, configDigest: docker.config.digest };
}

/** OCI 1.1's empty config (`{}`), as cosign and oras write it for artifacts. */
const EMPTY_CONFIG = { mediaType: "application/vnd.oci.empty.v1+json", body: Buffer.from("{}") };

/**
 * An OCI 1.1 referrer of `subjectTag`'s manifest (an SBOM, a signature…): an OCI manifest with
 * `artifactType`, an empty config, one layer of `payload` and `subject`, pushed by digest. With
 * `fallbackTag`, it is also listed (merged) in the `sha256-<hex>` tag index, as a client does for a
 * registry without the referrers API (Debian's docker-registry).
 */
export async function pushReferrer(
  host: string,
  path: string,
  subjectSelector: string,
  { artifactType, payload, fallbackTag = true }: { artifactType: string; payload: Buffer; fallbackTag?: boolean },
): Promise<{ digest: string; size: number; subject: string; fallback: string }> {
  const subject = await getManifest(host, path, subjectSelector);
  if (!subject) throw new Error(`no manifest ${path}:${subjectSelector}`);
  const config = await putBlob(host, path, EMPTY_CONFIG.body);
  const layer = await putBlob(host, path, payload);
  const body = JSON.stringify({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    artifactType,
    config: { mediaType: EMPTY_CONFIG.mediaType, ...config },
    layers: [{ mediaType: artifactType, ...layer }],
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
    annotations: { "org.opencontainers.image.created": "2026-01-01T00:00:00Z" },
  });
  const digest = sha256Digest(Buffer.from(body));
  await putManifest(host, path, digest, "application/vnd.oci.image.manifest.v1+json", body);
  const fallback = subject.digest.replace(":", "-");
  if (fallbackTag) {
    const existing = await getManifest(host, path, fallback);
    const manifests = existing ? (JSON.parse(existing.body) as { manifests: unknown[] }).manifests : [];
    manifests.push({
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      digest,
      size: Buffer.byteLength(body),
      artifactType,
      annotations: { "org.opencontainers.image.created": "2026-01-01T00:00:00Z" },
    });
    const index = JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests });
    await putManifest(host, path, fallback, "application/vnd.oci.image.index.v1+json", index);
  }
  return { digest, size: Buffer.byteLength(body), subject: subject.digest, fallback };
}

/**
 * What `cosign sign` (before v3) writes beside an image: the tag `sha256-<hex>.sig` holding an
 * OCI manifest whose layer is the simple-signing payload, the signature in an annotation.
 */
export async function pushCosignSignature(host: string, path: string, subjectSelector: string): Promise<{ tag: string; digest: string }> {
  const subject = await getManifest(host, path, subjectSelector);
  if (!subject) throw new Error(`no manifest ${path}:${subjectSelector}`);
  const payload = Buffer.from(
    JSON.stringify({
      critical: {
        identity: { "docker-reference": `${host}/${path}` },
        image: { "docker-manifest-digest": subject.digest },
        type: "cosign container image signature",
      },
      optional: null,
    }),
  );
  const config = await putBlob(
    host,
    path,
    Buffer.from(JSON.stringify({ architecture: "", os: "", rootfs: { type: "layers", diff_ids: [sha256Digest(payload)] } })),
  );
  const layer = await putBlob(host, path, payload);
  const body = JSON.stringify({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: { mediaType: "application/vnd.oci.image.config.v1+json", ...config },
    layers: [
      {
        mediaType: "application/vnd.dev.cosign.simplesigning.v1+json",
        ...layer,
        annotations: { "dev.cosignproject.cosign/signature": Buffer.from("not a real signature").toString("base64") },
      },
    ],
  });
  const tag = `${subject.digest.replace(":", "-")}.sig`;
  const digest = await putManifest(host, path, tag, "application/vnd.oci.image.manifest.v1+json", body);
  return { tag, digest };
}
