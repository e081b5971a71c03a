// Registry API helpers for tests: read digests, and build a multi-platform index by pushing
// platform manifests that exist and an index over them (what `docker buildx` would push).
const ACCEPT = [
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
  const { createHash } = await import("node:crypto");
  const digest = `sha256:${createHash("sha256").update(body).digest("hex")}`;
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
  const { createHash } = await import("node:crypto");
  const platformDigest = `sha256:${createHash("sha256").update(oci).digest("hex")}`;
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
    `sha256:${createHash("sha256").update(attestation).digest("hex")}`,
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
