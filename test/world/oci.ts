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
