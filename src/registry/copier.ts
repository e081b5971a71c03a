// The registry-to-registry copier of mode: mirror (and of fill-mirror): every platform of an
// index, blobs streamed registry to registry, mounted or skipped where they can be
// (registry/blobs.ts), manifests pushed byte for byte, so digests equal upstream's; then what
// refers to the image (registry/referrers.ts). A long copy reports its progress.
import pLimit from "p-limit";
import { registryErrorText } from "../pull/policy.js";
import { PROGRESS_INTERVAL_SECONDS } from "../pull/progress.js";
import { type RetrySettings, retryTransient, TransientError } from "../pull/retry.js";
import { CopyProgress } from "../report/copyreport.js";
import { formatReference, manifestSelector, type Reference } from "../resolve/reference.js";
import { type BlobContext, BlobLedger, CopyError, type CopyStats, copyBlob, emptyStats, PushRefusedError, unexpected } from "./blobs.js";
import { headerText, type RegistryClient, type RegistryResponse } from "./client.js";
import { pushScope } from "./http.js";
import {
  announcedDigestFault,
  type Descriptor,
  isDigest,
  MANIFEST_ACCEPT,
  manifestDigestFault,
  parseManifest,
  sha256Digest,
} from "./manifests.js";
import { copyReferrers, type Fetched, type ReferrerCopier } from "./referrers.js";

export { BlobLedger, CopyError, type CopyStats, PushRefusedError } from "./blobs.js";

/** A failed copy in a sentence: a CopyError's or TransientError's own message; anything else `unexpected:`. */
export function copyFailureText(error: unknown): string {
  return error instanceof CopyError || error instanceof TransientError ? error.message : `unexpected: ${(error as Error).message}`;
}

/** Blobs of one image copied at once. */
const BLOBS_AT_ONCE = 3;

export interface CopyOutcome {
  readonly status: "copied" | "present";
  readonly digest: string;
  readonly stats: CopyStats;
}

/** What a run adds to a copier: each optional (fill-mirror copies one image with none of them). */
export interface CopierOptions {
  /** shared by the copiers of one run: a blob is uploaded once per registry and mounted elsewhere */
  readonly ledger?: BlobLedger;
  /** hears a progress line (bytes, rate, what is left) every `progressIntervalMs` while an image is copied */
  readonly progress?: (line: string) => void;
  /** default: the pull's interval (PROGRESS_INTERVAL_SECONDS) */
  readonly progressIntervalMs?: number;
  /** copy OCI referrers and cosign tags with the image (default true) */
  readonly referrers?: boolean;
  /** fill-mirror: a cosign or fallback tag that holds other content is never replaced (told here); mirror mode replaces it */
  readonly keepTags?: { notice(line: string): void };
}

export class Copier {
  /** transient failures retried along the way: each was a try */
  failures = 0;
  readonly ledger: BlobLedger;

  constructor(
    readonly client: RegistryClient,
    private readonly settings: RetrySettings,
    readonly log: (line: string) => void,
    readonly options: CopierOptions = {},
  ) {
    this.ledger = options.ledger ?? new BlobLedger();
  }

  retry<T>(what: string, operation: () => Promise<T>): Promise<T> {
    return retryTransient(what, operation, this.settings, this.log, () => {
      this.failures++;
    });
  }

  /** Copies `source` (tag or digest) to `target` under the same tag, referrers with it; checks the digests after. */
  async copy(source: Reference, target: Reference): Promise<CopyOutcome> {
    this.ledger.addRepository(target);
    const job = new CopyJob(this, source, target);
    const report = this.options.progress;
    const ticker = report
      ? setInterval(
          () => report(`copying ${formatReference(source)} → ${formatReference(target)}: ${job.progress.text(Date.now())}`),
          this.options.progressIntervalMs ?? PROGRESS_INTERVAL_SECONDS * 1000,
        )
      : undefined;
    try {
      return await job.run();
    } finally {
      clearInterval(ticker);
    }
  }
}

/** One image's copy: its stats and progress, and what blobs and referrers need of it. */
class CopyJob implements BlobContext, ReferrerCopier {
  readonly stats = emptyStats();
  readonly progress = new CopyProgress(Date.now());
  readonly client: RegistryClient;
  readonly ledger: BlobLedger;

  constructor(
    private readonly copier: Copier,
    private readonly source: Reference,
    private readonly target: Reference,
  ) {
    this.client = copier.client;
    this.ledger = copier.ledger;
  }

  retry<T>(what: string, operation: () => Promise<T>): Promise<T> {
    return this.copier.retry(what, operation);
  }

  log(line: string): void {
    this.copier.log(line);
  }

  onBytes(digest: string, bytes: number, done: boolean): void {
    this.progress.onBytes(digest, bytes, done);
  }

  counted(): void {
    this.stats.referrersCopied++;
  }

  get keepTags(): CopierOptions["keepTags"] {
    return this.copier.options.keepTags;
  }

  async run(): Promise<CopyOutcome> {
    const { source, target, stats } = this;
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
    const wanted = source.digest ?? (isDigest(announced) ? announced : undefined);
    const targetSelector = target.tag ?? wanted;
    if (wanted && targetSelector) {
      const targetHead = await this.retry(`HEAD ${formatReference(target)}`, () => this.client.headManifest(target, targetSelector));
      if (targetHead.status === 200 && headerText(targetHead.headers["docker-content-digest"]) === wanted) {
        this.log(`${formatReference(target)} already holds ${wanted}: nothing to copy`);
        // Signatures made since the last copy still come: the subjects are read from the mirror's own copy.
        if (this.copier.options.referrers !== false)
          await copyReferrers(this, source, target, subjectsOf(await this.fetchManifest(target, wanted)));
        return { status: "present", digest: wanted, stats };
      }
    }
    // The one GET of upstream's top manifest (a Docker Hub pull); children are fetched by digest.
    const top = await this.fetchManifest(source, wanted ?? selector);
    await this.copyTree(source, target, top, targetSelector ?? top.digest);
    const check = await this.retry(`HEAD ${formatReference(target)}`, () => this.client.headManifest(target, targetSelector ?? top.digest));
    const landed = headerText(check.headers["docker-content-digest"]);
    if (check.status !== 200 || landed !== top.digest) {
      throw new CopyError(
        `after the copy ${formatReference(target)} has ${landed || `HTTP ${check.status}`}, not upstream's ${top.digest}`,
      );
    }
    this.log(`checked: ${formatReference(target)} has digest ${landed}, equal to upstream's`);
    if (this.copier.options.referrers !== false) await copyReferrers(this, source, target, subjectsOf(top));
    return { status: "copied", digest: top.digest, stats };
  }

  async fetchManifest(ref: Reference, selector: string): Promise<Fetched> {
    return this.retry(`GET manifest ${ref.registry}/${ref.path}@${selector}`, async () => {
      const got = await this.client.getManifest(ref, selector);
      if (got.status !== 200) throw unexpected(`GET manifest ${ref.path}@${selector}`, ref.registry, got);
      // Pushed byte for byte: bytes that are not the content their digest names are never copied.
      const digest = sha256Digest(got.body);
      const forged = manifestDigestFault(got.body, headerText(got.headers["docker-content-digest"]), selector, digest);
      if (forged) throw new CopyError(`${ref.registry}/${ref.path}: ${forged}; not copied`);
      const mediaType =
        headerText(got.headers["content-type"]) || ((JSON.parse(got.body.toString("utf8")) as { mediaType?: string }).mediaType ?? "");
      return { body: got.body, mediaType, digest };
    });
  }

  /** `top` and everything it references: the blobs first (all of them known before any moves), then child manifests, then `top`. */
  async copyTree(source: Reference, target: Reference, top: Fetched, selector: string): Promise<void> {
    const blobs = new Map<string, Descriptor>();
    const children: Fetched[] = [];
    await this.plan(source, target, top, blobs, children);
    for (const blob of blobs.values()) this.progress.addTotal(blob.size);
    // A few blobs at once, as skopeo does: one stream rarely fills a link (or a core, hashing on the registry's side).
    const limit = pLimit(BLOBS_AT_ONCE);
    const outcomes = await Promise.allSettled(
      [...blobs.values()].map((blob) => limit(() => copyBlob(this, source, target, blob, this.stats))),
    );
    const failed = outcomes.find((outcome) => outcome.status === "rejected");
    if (failed) throw failed.reason;
    for (const child of children) await this.pushManifest(target, child.digest, child.body, child.mediaType);
    await this.pushManifest(target, selector, top.body, top.mediaType);
  }

  /** What `manifest` needs in the target: platform manifests of an index that it lacks (fetched by digest), and their blobs. */
  private async plan(source: Reference, target: Reference, manifest: Fetched, blobs: Map<string, Descriptor>, children: Fetched[]) {
    const parsed = parseManifest(manifest.body, manifest.mediaType);
    if (parsed.kind === "image") {
      for (const blob of [parsed.image.config, ...parsed.image.layers]) blobs.set(blob.digest, blob);
      return;
    }
    for (const child of parsed.index.manifests) {
      const exists = await this.retry(`HEAD ${target.path}@${child.digest}`, () => this.client.headManifest(target, child.digest));
      if (exists.status === 200) continue;
      const got = await this.fetchManifest(source, child.digest);
      const fetched = { ...got, mediaType: got.mediaType || child.mediaType || "" };
      await this.plan(source, target, fetched, blobs, children);
      children.push(fetched);
    }
  }

  async pushManifest(target: Reference, selector: string, body: Buffer, mediaType: string): Promise<void> {
    await this.retry(`PUT manifest ${target.path}:${selector}`, async () => {
      const put = await this.client.call("PUT", target.registry, `/v2/${target.path}/manifests/${selector}`, {
        headers: { "Content-Type": mediaType, Accept: MANIFEST_ACCEPT },
        body,
        scopes: [pushScope(target)],
      });
      if (put.status === 401 || put.status === 403) throw await this.refused(target, put);
      if (put.status !== 201 && put.status !== 200) throw unexpected(`PUT manifest ${target.path}:${selector}`, target.registry, put);
    });
    this.stats.bytesMoved += body.length;
    this.stats.manifestsPushed++;
  }

  async refused(target: Reference, response: RegistryResponse): Promise<CopyError> {
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
}

/** The manifests whose referrers come with an image: the image (or index) itself and each real platform of an index. */
function subjectsOf(top: Fetched): string[] {
  const parsed = parseManifest(top.body, top.mediaType);
  if (parsed.kind === "image") return [top.digest];
  const platforms = parsed.index.manifests.filter((m) => m.platform?.os !== "unknown" && m.platform?.architecture !== "unknown");
  return [top.digest, ...platforms.map((m) => m.digest)];
}
