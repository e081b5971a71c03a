// The registry-to-registry copier of mode: mirror: every platform of an index, blobs streamed
// registry to registry (never whole in memory, never on disk) and skipped where present,
// manifests pushed byte for byte, so digests equal upstream's.
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { PassThrough } from "node:stream";
import { pipeline } from "node:stream/promises";
import { classifyHttp, registryErrorText } from "../policy.js";
import { formatReference, isLoopback, manifestSelector, type Reference } from "../reference.js";
import { type RetrySettings, retryTransient, TransientError } from "../retry.js";
import { headerText, type RegistryClient, type RegistryResponse } from "./client.js";
import { ANSWER_LIMITS, readAnswer } from "./http.js";
import { announcedDigestFault, type Descriptor, MANIFEST_ACCEPT, manifestDigestFault, parseManifest, sha256Digest } from "./manifests.js";

/** A refusal that no retry will change: missing permission, missing content. */
export class CopyError extends Error {
  override name = "CopyError";
}

/** A push the registry refused for lack of permission (401/403): fill-mirror says so as a notice. */
export class PushRefusedError extends CopyError {
  override name = "PushRefusedError";
}

export interface CopyStats {
  /** bytes sent to the mirror: uploaded blobs and pushed manifests */
  bytesMoved: number;
  blobsUploaded: number;
  blobsMounted: number;
  blobsPresent: number;
  manifestsPushed: number;
}

export interface CopyOutcome {
  readonly status: "copied" | "present";
  readonly digest: string;
  readonly stats: CopyStats;
}

const pushScope = (ref: Reference) => `repository:${ref.path}:pull,push`;
const pullScope = (ref: Reference) => `repository:${ref.path}:pull`;

/** A registry answer that is not a success, through the one retry policy: transient ones are retried, the rest final. */
function unexpected(what: string, registry: string, response: RegistryResponse): Error {
  const said = registryErrorText(response.body);
  const classified = classifyHttp(response.status, registry, response.headers, response.body);
  const text = `${what}: HTTP ${response.status}${said ? ` ${said}` : ""} (${classified.label})`;
  return classified.errorClass === "transient" ? new TransientError(text, classified.retryAfter) : new CopyError(text);
}

export class Copier {
  /** transient failures retried along the way: each was a try */
  failures = 0;

  constructor(
    private readonly client: RegistryClient,
    private readonly settings: RetrySettings,
    private readonly log: (line: string) => void,
  ) {}

  private retry<T>(what: string, operation: () => Promise<T>): Promise<T> {
    return retryTransient(what, operation, this.settings, this.log, () => {
      this.failures++;
    });
  }

  /** Copies `source` (tag or digest) to `target` under the same tag; checks the digests after. */
  async copy(source: Reference, target: Reference): Promise<CopyOutcome> {
    const stats: CopyStats = { bytesMoved: 0, blobsUploaded: 0, blobsMounted: 0, blobsPresent: 0, manifestsPushed: 0 };
    const selector = manifestSelector(source);
    const upstreamHead = await this.retry(`HEAD ${formatReference(source)}`, async () => {
      const head = await this.client.headManifest(source, selector);
      if (head.status === 200) return head;
      if (head.status === 404) throw new CopyError(`${formatReference(source)} not found upstream (HTTP 404)`);
      throw unexpected(`HEAD ${formatReference(source)}`, source.registry, head);
    });
    const announced = headerText(upstreamHead.headers["docker-content-digest"]);
    // A pin is copied by the pin: an upstream that names other content for it is not copied from.
    const wrong = announcedDigestFault(announced, source.digest);
    if (wrong) throw new CopyError(`${formatReference(source)}: ${wrong}; not copied`);
    const wanted = source.digest ?? (/^sha256:[a-f0-9]{64}$/.test(announced) ? announced : undefined);
    if (wanted) {
      const targetHead = await this.retry(`HEAD ${formatReference(target)}`, () => this.client.headManifest(target, target.tag ?? wanted));
      if (targetHead.status === 200 && headerText(targetHead.headers["docker-content-digest"]) === wanted) {
        this.log(`${formatReference(target)} already holds ${wanted}: nothing to copy`);
        return { status: "present", digest: wanted, stats };
      }
    }
    // The one GET of upstream's top manifest (a Docker Hub pull); children are fetched by digest.
    const top = await this.fetchManifest(source, wanted ?? selector);
    const targetSelector = target.tag ?? top.digest;
    await this.copyChildren(source, target, top.body, top.mediaType, stats);
    await this.pushManifest(target, targetSelector, top.body, top.mediaType, stats);
    const check = await this.retry(`HEAD ${formatReference(target)}`, () => this.client.headManifest(target, targetSelector));
    const landed = headerText(check.headers["docker-content-digest"]);
    if (check.status !== 200 || landed !== top.digest) {
      throw new CopyError(
        `after the copy ${formatReference(target)} has ${landed || `HTTP ${check.status}`}, not upstream's ${top.digest}`,
      );
    }
    this.log(`checked: ${formatReference(target)} has digest ${landed}, equal to upstream's`);
    return { status: "copied", digest: top.digest, stats };
  }

  private async fetchManifest(ref: Reference, selector: string): Promise<{ body: Buffer; mediaType: string; digest: string }> {
    return this.retry(`GET manifest ${ref.registry}/${ref.path}@${selector}`, async () => {
      const got = await this.client.getManifest(ref, selector);
      if (got.status !== 200) throw unexpected(`GET manifest ${ref.path}@${selector}`, ref.registry, got);
      // Pushed byte for byte: bytes that are not the content their digest names are never copied.
      const forged = manifestDigestFault(got.body, headerText(got.headers["docker-content-digest"]), selector);
      if (forged) throw new CopyError(`${ref.registry}/${ref.path}: ${forged}; not copied`);
      const digest = sha256Digest(got.body);
      const mediaType =
        headerText(got.headers["content-type"]) || ((JSON.parse(got.body.toString("utf8")) as { mediaType?: string }).mediaType ?? "");
      return { body: got.body, mediaType, digest };
    });
  }

  /** Everything a manifest references: platform manifests of an index (each pushed by digest), or config and layers. */
  private async copyChildren(source: Reference, target: Reference, body: Buffer, mediaType: string, stats: CopyStats): Promise<void> {
    const parsed = parseManifest(body, mediaType);
    if (parsed.kind === "index") {
      for (const child of parsed.index.manifests) {
        const exists = await this.retry(`HEAD ${target.path}@${child.digest}`, () => this.client.headManifest(target, child.digest));
        if (exists.status === 200) {
          stats.blobsPresent++;
          continue;
        }
        const got = await this.fetchManifest(source, child.digest);
        await this.copyChildren(source, target, got.body, got.mediaType || child.mediaType || "", stats);
        await this.pushManifest(target, child.digest, got.body, got.mediaType || child.mediaType || "", stats);
      }
      return;
    }
    for (const blob of [parsed.image.config, ...parsed.image.layers]) await this.copyBlob(source, target, blob, stats);
  }

  private async pushManifest(target: Reference, selector: string, body: Buffer, mediaType: string, stats: CopyStats): Promise<void> {
    await this.retry(`PUT manifest ${target.path}:${selector}`, async () => {
      const put = await this.client.call("PUT", target.registry, `/v2/${target.path}/manifests/${selector}`, {
        headers: { "Content-Type": mediaType, Accept: MANIFEST_ACCEPT },
        body,
        scopes: [pushScope(target)],
      });
      if (put.status === 401 || put.status === 403) throw await this.refused(target, put);
      if (put.status !== 201 && put.status !== 200) throw unexpected(`PUT manifest ${target.path}:${selector}`, target.registry, put);
    });
    stats.bytesMoved += body.length;
    stats.manifestsPushed++;
  }

  private async refused(target: Reference, response: RegistryResponse): Promise<CopyError> {
    const code = registryErrorText(response.body);
    // github-token counts only where the registry took it (a job token is offered, often refused).
    const had = (await this.client.credentials.for(target.registry))
      .filter((c) => c.from !== "github-token" || this.client.githubTokenRegistries.has(target.registry))
      .map((c) => c.from);
    const hint =
      target.registry === "ghcr.io"
        ? "give the workflow `permissions: packages: write` and pass github-token (or log in with a token that may write packages)"
        : "log the engine in (docker login) with an account that may push there";
    return new PushRefusedError(
      `push to ${target.registry}/${target.path} refused (HTTP ${response.status}${code ? ` ${code}` : ""}): ${
        had.length > 0 ? `the credentials from ${had.join(", ")} lack` : "no credentials for this registry, so no"
      } push permission; ${hint}`,
    );
  }

  /** HEAD on the target first; a mount within one registry; else a stream from upstream into an upload. */
  private async copyBlob(source: Reference, target: Reference, blob: Descriptor, stats: CopyStats): Promise<void> {
    if (blob.urls && blob.urls.length > 0) return; // non-distributable (foreign) layer: registries do not hold it
    const present = await this.retry(`HEAD blob ${blob.digest}`, () =>
      this.client.call("HEAD", target.registry, `/v2/${target.path}/blobs/${blob.digest}`, { scopes: [pushScope(target)] }),
    );
    if (present.status === 200) {
      stats.blobsPresent++;
      return;
    }
    if (present.status === 401 || present.status === 403) throw await this.refused(target, present);
    await this.retry(`copy blob ${blob.digest} (${blob.size} bytes)`, async () => {
      const sameRegistry = source.registry === target.registry;
      const scopes = sameRegistry ? [pushScope(target), pullScope(source)] : [pushScope(target)];
      const query = sameRegistry ? `?mount=${encodeURIComponent(blob.digest)}&from=${encodeURIComponent(source.path)}` : "";
      const started = await this.client.call("POST", target.registry, `/v2/${target.path}/blobs/uploads/${query}`, {
        headers: { "Content-Length": "0" },
        scopes,
      });
      if (started.status === 201) {
        stats.blobsMounted++;
        return;
      }
      if (started.status === 401 || started.status === 403) throw await this.refused(target, started);
      if (started.status !== 202) throw unexpected(`start upload to ${target.path}`, target.registry, started);
      const location = headerText(started.headers.location);
      if (!location) throw new TransientError("upload started without a Location");
      const registryUrl = new URL(this.client.baseUrl(target.registry));
      const uploadUrl = new URL(location, registryUrl);
      uploadUrl.searchParams.set("digest", blob.digest);
      // Credentials belong to the registry: an upload Location on another host or scheme gets none.
      const ours = uploadUrl.origin === registryUrl.origin;
      if (!ours) this.log(`upload of ${blob.digest} goes to ${uploadUrl.origin}, not ${target.registry}: sent without its credentials`);
      const download = await this.client.request("GET", source.registry, `/v2/${source.path}/blobs/${blob.digest}`, {
        scopes: [pullScope(source)],
        stream: true,
      });
      const status = download.message.statusCode ?? 0;
      if (status !== 200) {
        const body = await errorAnswer(download.message, this.client.timeoutMs, `GET blob ${blob.digest}`);
        throw unexpected(`GET blob ${blob.digest}`, source.registry, { status, headers: download.message.headers, body });
      }
      const put = await putStream(
        uploadUrl,
        download.message,
        blob.size,
        ours ? this.client.authHeader(target.registry, scopes) : undefined,
        this.client.timeoutMs,
      );
      if (put.status !== 201) {
        // A short or corrupted body ends as DIGEST_INVALID or SIZE_INVALID: start this blob again.
        throw new TransientError(
          `upload of ${blob.digest} answered HTTP ${put.status}${registryErrorText(put.body) ? ` ${registryErrorText(put.body)}` : ""}`,
        );
      }
      stats.blobsUploaded++;
      stats.bytesMoved += blob.size;
    });
  }
}

/** An error answer, read as every other one: bounded in size and time (a hostile body never ends); empty where it was not whole. */
function errorAnswer(message: IncomingMessage, deadlineMs: number, what: string): Promise<Buffer> {
  return readAnswer(message, { limit: ANSWER_LIMITS.small, deadlineMs, what }).catch(() => Buffer.alloc(0));
}

/**
 * PUTs `source` as the body with a fixed Content-Length. node's request rather than
 * http-client's sendStream: when the source fails mid-way (a reset, a truncated body),
 * pipeline destroys the upload at once instead of leaving it waiting for bytes.
 */
function putStream(
  url: URL,
  source: NodeJS.ReadableStream,
  length: number,
  authorization: string | undefined,
  timeoutMs: number,
): Promise<RegistryResponse> {
  return new Promise((resolve, reject) => {
    const req = (url.protocol === "https:" ? httpsRequest : httpRequest)(url, {
      method: "PUT",
      // This machine's registries are "insecure" to the engine (certificates not verified): likewise here.
      ...(url.protocol === "https:" && isLoopback(url.host) && { rejectUnauthorized: false }),
      headers: {
        "Content-Type": "application/octet-stream",
        "Content-Length": String(length),
        ...(authorization && { Authorization: authorization }),
      },
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no progress for ${timeoutMs / 1000} s`)));
    req.on("response", (response) => {
      readAnswer(response, { limit: ANSWER_LIMITS.small, deadlineMs: timeoutMs, what: "upload answer" }).then(
        (body) => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }),
        reject,
      );
    });
    let counted = 0;
    const counter = new PassThrough();
    counter.on("data", (chunk: Buffer) => {
      counted += chunk.length;
    });
    pipeline(source, counter, req).catch((error: Error) => {
      req.destroy();
      reject(new TransientError(`blob transfer interrupted after ${counted} of ${length} bytes: ${error.message}`));
    });
  });
}
