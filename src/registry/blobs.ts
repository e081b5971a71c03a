// Blobs of mode: mirror, registry to registry: skipped where the target holds them, mounted
// from another repository of the same registry where one holds them (uploaded once per run,
// whatever the concurrency: the ledger), else streamed from upstream into an upload (never
// whole in memory, never on disk).
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { PassThrough } from "node:stream";
import { pipeline } from "node:stream/promises";
import { classifyHttp, registryErrorText } from "../pull/policy.js";
import { TransientError } from "../pull/retry.js";
import { isLoopback, type Reference } from "../resolve/reference.js";
import { headerText, type RegistryClient, type RegistryResponse } from "./client.js";
import { ANSWER_LIMITS, pullScope, pushScope, readAnswer } from "./http.js";
import type { Descriptor } from "./manifests.js";

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
  bytesUploaded: number;
  blobsMounted: number;
  bytesMounted: number;
  blobsPresent: number;
  bytesPresent: number;
  manifestsPushed: number;
  /** referrers (OCI referrers and cosign tags) written into the mirror */
  referrersCopied: number;
}

export const emptyStats = (): CopyStats => ({
  bytesMoved: 0,
  blobsUploaded: 0,
  bytesUploaded: 0,
  blobsMounted: 0,
  bytesMounted: 0,
  blobsPresent: 0,
  bytesPresent: 0,
  manifestsPushed: 0,
  referrersCopied: 0,
});

/** Other repositories asked for a blob before it is uploaded: a bound, so a run of hundreds costs no quadratic HEADs. */
export const MAX_PEERS = 8;

/**
 * What one run knows of a registry: the repositories its images map to there (the first
 * mirror it writes, and the other mirror lines: peers that may hold a blob from an earlier
 * run) and, per blob, the repository it was (or is being) uploaded to. The first image to
 * need a blob uploads it; the others wait for that upload and mount from there.
 */
export class BlobLedger {
  private readonly holders = new Map<string, Promise<string | undefined>>();
  private readonly targets = new Map<string, string[]>();
  /** per repository written, the other repositories of its image in that registry: asked first */
  private readonly related = new Map<string, string[]>();

  /** A repository this run's images map to (one it writes, or another mirror of theirs). */
  addRepository(ref: Reference): void {
    const list = this.targets.get(ref.registry) ?? [];
    if (!list.includes(ref.path)) list.push(ref.path);
    this.targets.set(ref.registry, list);
  }

  /** `target`'s image also maps to `others` (its other mirror lines): the likeliest holders of its blobs. */
  relate(target: Reference, others: readonly Reference[]): void {
    const key = `${target.registry} ${target.path}`;
    const same = others.filter((o) => o.registry === target.registry).map((o) => o.path);
    this.related.set(key, [...(this.related.get(key) ?? []), ...same]);
    for (const other of others) this.addRepository(other);
  }

  /** The other repositories of `ref`'s registry this run's images map to, its own image's first; at most MAX_PEERS. */
  peers(ref: Reference): string[] {
    const first = this.related.get(`${ref.registry} ${ref.path}`) ?? [];
    return [...new Set([...first, ...(this.targets.get(ref.registry) ?? [])])].filter((path) => path !== ref.path).slice(0, MAX_PEERS);
  }

  /** Where `digest` is (or will be once its upload ends) in `registry`; undefined when nobody has claimed it. */
  holder(registry: string, digest: string): Promise<string | undefined> | undefined {
    return this.holders.get(`${registry} ${digest}`);
  }

  /** Claims the upload of `digest`: the others wait for the repository given to the returned function (undefined: it failed). */
  claim(registry: string, digest: string): (repository: string | undefined) => void {
    let settle: (repository: string | undefined) => void = () => {};
    this.holders.set(`${registry} ${digest}`, new Promise((resolve) => (settle = resolve)));
    return settle;
  }
}

/** A registry answer that is not a success, through the one retry policy: transient ones are retried, the rest final. */
export function unexpected(what: string, registry: string, response: RegistryResponse): Error {
  const said = registryErrorText(response.body);
  const classified = classifyHttp(response.status, registry, response.headers, response.body);
  const text = `${what}: HTTP ${response.status}${said ? ` ${said}` : ""} (${classified.label})`;
  return classified.errorClass === "transient" ? new TransientError(text, classified.retryAfter) : new CopyError(text);
}

/** What the blob copy needs of its copier. */
export interface BlobContext {
  readonly client: RegistryClient;
  readonly ledger: BlobLedger;
  retry<T>(what: string, operation: () => Promise<T>): Promise<T>;
  refused(target: Reference, response: RegistryResponse): Promise<CopyError>;
  log(line: string): void;
  /** bytes of `digest` streamed so far in this try (0 when a try starts again), then its whole size once it is there */
  onBytes(digest: string, bytes: number, done: boolean): void;
}

/** One blob into `target`: present, mounted (from the run's upload or a peer), or uploaded. */
export async function copyBlob(ctx: BlobContext, source: Reference, target: Reference, blob: Descriptor, stats: CopyStats) {
  if (blob.urls && blob.urls.length > 0) return; // non-distributable (foreign) layer: registries do not hold it
  const present = await headBlob(ctx, target, target.path, blob.digest);
  if (present.status === 200) return count(ctx, stats, blob, "present");
  if (present.status === 401 || present.status === 403) throw await ctx.refused(target, present);
  const pending = ctx.ledger.holder(target.registry, blob.digest);
  if (pending) {
    const from = await pending;
    if (from === target.path) return count(ctx, stats, blob, "present"); // another tag of this repository brought it meanwhile
    return count(ctx, stats, blob, await transfer(ctx, source, target, blob, from ?? (await mountSource(ctx, source, target, blob))));
  }
  const settle = ctx.ledger.claim(target.registry, blob.digest);
  try {
    count(ctx, stats, blob, await transfer(ctx, source, target, blob, await mountSource(ctx, source, target, blob)));
    settle(target.path);
  } catch (error) {
    settle(undefined);
    throw error;
  }
}

function count(ctx: BlobContext, stats: CopyStats, blob: Descriptor, how: "present" | "mounted" | "uploaded"): void {
  ctx.onBytes(blob.digest, blob.size, true);
  if (how === "present") {
    stats.blobsPresent++;
    stats.bytesPresent += blob.size;
  } else if (how === "mounted") {
    stats.blobsMounted++;
    stats.bytesMounted += blob.size;
  } else {
    stats.blobsUploaded++;
    stats.bytesUploaded += blob.size;
    stats.bytesMoved += blob.size;
  }
}

function headBlob(ctx: BlobContext, target: Reference, repository: string, digest: string): Promise<RegistryResponse> {
  // The target's push scope with the peer's pull: one token serves the HEAD and the mount after it.
  const scopes = repository === target.path ? [pushScope(target)] : [pushScope(target), pullScope(repository)];
  return ctx.retry(`HEAD blob ${repository}@${digest}`, () =>
    ctx.client.call("HEAD", target.registry, `/v2/${repository}/blobs/${digest}`, { scopes }),
  );
}

/** A repository of the target's registry to mount from: upstream itself when it is there, else a peer that holds the blob. */
async function mountSource(ctx: BlobContext, source: Reference, target: Reference, blob: Descriptor): Promise<string | undefined> {
  if (source.registry === target.registry) return source.path;
  // Asked at once (one round trip, not eight); the first in order that holds it is mounted from.
  const peers = ctx.ledger.peers(target);
  const held = await Promise.all(peers.map((peer) => headBlob(ctx, target, peer, blob.digest).catch(() => undefined)));
  return peers.find((_, i) => held[i]?.status === 200);
}

/** A mount from `from` where given; a refused mount answers 202 with an upload session, which takes the stream from upstream. */
function transfer(
  ctx: BlobContext,
  source: Reference,
  target: Reference,
  blob: Descriptor,
  from: string | undefined,
): Promise<"mounted" | "uploaded"> {
  const scopes = from ? [pushScope(target), pullScope(from)] : [pushScope(target)];
  const query = from ? `?mount=${encodeURIComponent(blob.digest)}&from=${encodeURIComponent(from)}` : "";
  return ctx.retry(`copy blob ${blob.digest} (${blob.size} bytes)`, async () => {
    const started = await ctx.client.call("POST", target.registry, `/v2/${target.path}/blobs/uploads/${query}`, {
      headers: { "Content-Length": "0" },
      scopes,
    });
    if (started.status === 201) return "mounted";
    if (started.status === 401 || started.status === 403) throw await ctx.refused(target, started);
    if (started.status !== 202) throw unexpected(`start upload to ${target.path}`, target.registry, started);
    const location = headerText(started.headers.location);
    if (!location) throw new TransientError("upload started without a Location");
    const registryUrl = new URL(ctx.client.baseUrl(target.registry));
    const uploadUrl = new URL(location, registryUrl);
    uploadUrl.searchParams.set("digest", blob.digest);
    // Credentials belong to the registry: an upload Location on another host or scheme gets none.
    const ours = uploadUrl.origin === registryUrl.origin;
    if (!ours) ctx.log(`upload of ${blob.digest} goes to ${uploadUrl.origin}, not ${target.registry}: sent without its credentials`);
    const download = await ctx.client.request("GET", source.registry, `/v2/${source.path}/blobs/${blob.digest}`, {
      scopes: [pullScope(source)],
      stream: true,
    });
    const status = download.message.statusCode ?? 0;
    if (status !== 200) {
      const body = await errorAnswer(download.message, ctx.client.timeoutMs, `GET blob ${blob.digest}`);
      throw unexpected(`GET blob ${blob.digest}`, source.registry, { status, headers: download.message.headers, body });
    }
    ctx.onBytes(blob.digest, 0, false);
    const put = await putStream(uploadUrl, download.message, blob.size, ours ? ctx.client.authHeader(target.registry, scopes) : undefined, {
      timeoutMs: ctx.client.timeoutMs,
      onBytes: (bytes) => ctx.onBytes(blob.digest, bytes, false),
    });
    if (put.status !== 201) {
      // A short or corrupted body ends as DIGEST_INVALID or SIZE_INVALID: start this blob again.
      throw new TransientError(
        `upload of ${blob.digest} answered HTTP ${put.status}${registryErrorText(put.body) ? ` ${registryErrorText(put.body)}` : ""}`,
      );
    }
    return "uploaded";
  });
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
  { timeoutMs, onBytes }: { timeoutMs: number; onBytes: (bytes: number) => void },
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
      onBytes(counted);
    });
    pipeline(source, counter, req).catch((error: Error) => {
      req.destroy();
      reject(new TransientError(`blob transfer interrupted after ${counted} of ${length} bytes: ${error.message}`));
    });
  });
}
