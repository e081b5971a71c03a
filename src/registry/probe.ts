// Registry-aware decisions before any pull: HEAD each source's manifest, verify a mirror's
// content against upstream, read Docker Hub's quota. Used by pull mode (as PullHooks) and
// by plan mode (which pulls nothing).

import { classifyHttp, parseQuota, type Quota, quotaText, registryErrorText } from "../pull/policy.js";
import type { Layer } from "../pull/progress.js";
import { type RetrySettings, retryTransient, TransientError } from "../pull/retry.js";
import type { ImageSpec } from "../resolve/inputs.js";
import { formatReference, manifestSelector, type Reference, repositoryOf } from "../resolve/reference.js";
import { headerText, type RegistryClient, type RegistryResponse } from "./client.js";
import {
  announcedDigestFault,
  isDigest,
  manifestDigestFault,
  type ParsedManifest,
  type PlatformSpec,
  parseManifest,
  pickPlatform,
  platformSpec,
  sha256Digest,
} from "./manifests.js";
import { type VerifyFacts, verifyMirror } from "./verify.js";

/** What a HEAD of one source's manifest said, after retries. */
export type HeadOutcome =
  | { readonly kind: "found"; readonly digest: string; readonly quota?: Quota }
  | { readonly kind: "missing"; readonly detail: string }
  | { readonly kind: "refused"; readonly detail: string }
  | { readonly kind: "rate-limited"; readonly detail: string; readonly quota?: Quota }
  | { readonly kind: "unreachable"; readonly detail: string };

/** How a mirror compares with upstream. */
export type MirrorState =
  | { readonly state: "ok"; readonly digest: string; readonly detail: string }
  | { readonly state: "unverified"; readonly digest: string; readonly detail: string }
  | { readonly state: "differs"; readonly digest: string; readonly detail: string }
  | { readonly state: "missing" | "refused" | "unreachable" | "rate-limited"; readonly detail: string };

export interface ProbeSettings extends RetrySettings {
  readonly verify: "digest" | "none";
  readonly platform: PlatformSpec;
}

/** The settings for one image: a platform its build file fixes (`FROM --platform=`) wins. */
export function forImage(settings: ProbeSettings, spec: ImageSpec): ProbeSettings {
  return spec.platform ? { ...settings, platform: platformSpec(spec.platform) } : settings;
}

/** Probes for one image; caches upstream's HEAD and GET so each is sent at most once. */
export class ImageProbe {
  /** manifests already fetched, by `repository@digest`: verification and the size estimate share them */
  private readonly manifests = new Map<string, Promise<ReadManifest>>();
  /** transient probe failures per reference: tries, like failed pulls */
  private readonly failures = new Map<string, number>();
  private headCount = 0;
  /** HEADs by reference, so the size estimate and the verification share one */
  private readonly headed = new Map<string, Promise<HeadOutcome>>();
  /** by repository: a manifest it answered did not hash to its digest (that source is not pulled) */
  private readonly forged = new Map<string, string>();

  constructor(
    private readonly client: RegistryClient,
    private readonly spec: ImageSpec,
    private readonly settings: ProbeSettings,
    private readonly log: (line: string) => void,
  ) {}

  /** The retry settings, stopped when the client is disposed (a probe nobody waits for must not hold the process). */
  private retrying(): ProbeSettings {
    return { ...this.settings, signal: this.client.signal };
  }

  /** HEADs asked, each retry counted: plan mode's `attempts` */
  tries(): number {
    return this.headCount + [...this.failures.values()].reduce((sum, n) => sum + n, 0);
  }

  failuresOf(ref: Reference): number {
    return this.failures.get(formatReference(ref)) ?? 0;
  }

  /** Upstream's HEAD; refused once a manifest it answered was forged (read for a verification or the size). */
  async upstream(): Promise<HeadOutcome> {
    const head = await this.head(this.spec.upstream);
    const forged = this.forged.get(repositoryOf(this.spec.upstream));
    return forged && head.kind === "found" ? { kind: "refused", detail: `${formatReference(this.spec.upstream)}: ${forged}` } : head;
  }

  /** HEAD with the retry policy, once per reference: no answer, 5xx and throttling 429s are retried; 404/401/403 are answers. */
  head(ref: Reference): Promise<HeadOutcome> {
    const key = formatReference(ref);
    let outcome = this.headed.get(key);
    if (!outcome) {
      outcome = this.headUncached(ref);
      this.headed.set(key, outcome);
    }
    return outcome;
  }

  private async headUncached(ref: Reference): Promise<HeadOutcome> {
    this.headCount++;
    const where = formatReference(ref);
    const failed = () => this.failures.set(where, this.failuresOf(ref) + 1);
    try {
      return await retryTransient(`probe ${where}`, () => this.headOnce(ref), this.retrying(), this.log, failed);
    } catch (error) {
      if (error instanceof TransientError) {
        return { kind: "unreachable", detail: `could not be probed after ${this.settings.attempts} attempts: ${error.message}` };
      }
      // A registry whose auth flow or answer cannot work (a malformed realm, a token that is not
      // JSON): this source is skipped with that reason; other sources and images go on.
      return { kind: "refused", detail: `could not be probed: ${(error as Error).message}` };
    }
  }

  private async headOnce(ref: Reference): Promise<HeadOutcome> {
    const where = formatReference(ref);
    const response = await this.client.headManifest(ref, manifestSelector(ref));
    const quota = parseQuota(response.headers);
    const { status } = response;
    if (status === 200) {
      const digest = headerText(response.headers["docker-content-digest"]);
      // A pin is pulled by the pin: a source that names other content for it is not pulled at all.
      const wrong = announcedDigestFault(digest, ref.digest);
      if (wrong) return { kind: "refused", detail: `${where}: ${wrong}` };
      if (isDigest(digest)) return { kind: "found", digest, ...(quota && { quota }) };
      // Some registries omit the header on HEAD; the GET's bytes are the digest's source.
      const got = await this.client.getManifest(ref, manifestSelector(ref));
      if (got.status !== 200) throw new TransientError(`GET after HEAD answered HTTP ${got.status}`);
      const actual = sha256Digest(got.body);
      const forged = manifestDigestFault(got.body, headerText(got.headers["docker-content-digest"]), ref.digest, actual);
      return forged ? { kind: "refused", detail: `${where}: ${forged}` } : { kind: "found", digest: actual, ...(quota && { quota }) };
    }
    const classified = classifyHttp(status, ref.registry, response.headers, response.body);
    const said = registryErrorText(response.body);
    const answer = `HTTP ${status}${status === 429 ? " toomanyrequests" : ""}${said ? ` ${said}` : ""}`;
    const detail = `${answer} for ${where}`;
    if (classified.errorClass === "transient") {
      throw new TransientError(status === 429 ? `${answer} (${classified.label})` : answer, classified.retryAfter);
    }
    if (classified.errorClass === "rate-limited") {
      return {
        kind: "rate-limited",
        detail: `rate limited (${detail}${quota ? `, ${quotaText(quota)}` : ""}): ${classified.label}, not retried, the window is hours`,
        ...(quota && { quota }),
      };
    }
    if (status === 404 || status === 410) return { kind: "missing", detail: `not found (${detail})` };
    if (status === 401 || status === 403) {
      return { kind: "refused", detail: `access refused (${detail}): a private repository without a usable token or credentials` };
    }
    return { kind: "refused", detail: `unexpected answer (${detail})` };
  }

  /**
   * Compares a mirror with upstream (verify: digest, rules in verify.ts). Upstream is asked for
   * its manifest and, under an index, its platform manifest only where the cheaper facts did
   * not settle it: a Docker Hub pull counts up to two manifest GETs as one pull. Fails closed:
   * once the digests are known to differ, a comparison that cannot be finished skips the mirror.
   */
  async assessMirror(mirror: Reference): Promise<MirrorState> {
    const head = await this.head(mirror);
    if (head.kind !== "found") return { state: head.kind, detail: head.detail };
    const mirrorDigest = head.digest;
    if (this.settings.verify === "none") return { state: "ok", digest: mirrorDigest, detail: "verify: none, trusted as is" };
    // The pin names the content; the mirror's HEAD by it named it too, and the engine checks what it pulls by digest.
    if (this.spec.upstream.digest === mirrorDigest)
      return { state: "ok", digest: mirrorDigest, detail: `it holds ${mirrorDigest}, the pin` };
    // Upstream's own HEAD, not its verdict: upstream's faults must not make the mirror unverified (and so let through).
    const upstream = await this.head(this.spec.upstream);
    if (upstream.kind !== "found") {
      const detail = `upstream could not be checked (${upstream.detail}); the mirror is used unverified`;
      return { state: "unverified", digest: mirrorDigest, detail };
    }
    const platform = platformText(this.settings.platform);
    const decide = (facts: Omit<VerifyFacts, "mirrorDigest" | "upstreamDigest">): MirrorState => {
      const verdict = verifyMirror({ mirrorDigest, upstreamDigest: upstream.digest, ...facts }, platform);
      return verdict.trusted
        ? { state: "ok", digest: mirrorDigest, detail: verdict.why }
        : { state: "differs", digest: mirrorDigest, detail: verdict.why };
    };
    const unsettled = (why: string): MirrorState => ({
      state: "differs",
      digest: mirrorDigest,
      detail: `mirror digest ${mirrorDigest} differs from upstream ${upstream.digest} and the comparison could not be finished (${why}): not verified`,
    });
    if (upstream.digest === mirrorDigest) return decide({});
    const upstreamTop = await this.manifest(this.spec.upstream, upstream.digest);
    if (upstreamTop.kind === "unreadable") return unsettled(`upstream's manifest could not be read: ${upstreamTop.why}`);
    let upstreamImage = upstreamTop.kind === "image" ? upstreamTop.image : undefined;
    let upstreamPlatformDigest: string | undefined;
    if (upstreamTop.kind === "index") {
      upstreamPlatformDigest = pickPlatform(upstreamTop.index, this.settings.platform)?.digest;
      if (upstreamPlatformDigest === undefined || upstreamPlatformDigest === mirrorDigest)
        return decide({ ...(upstreamPlatformDigest && { upstreamPlatformDigest }) });
      const child = await this.manifest(this.spec.upstream, upstreamPlatformDigest);
      if (child.kind === "unreadable") return unsettled(`upstream's ${platform} manifest could not be read: ${child.why}`);
      upstreamImage = child.kind === "image" ? child.image : undefined;
    }
    const mirrorImage = await this.platformManifest(mirror, mirrorDigest);
    if (mirrorImage?.kind === "unreadable" && mirrorImage.forged) {
      return { state: "differs", digest: mirrorDigest, detail: `the mirror is not to be trusted: ${mirrorImage.why}` };
    }
    const mirrorConfig = mirrorImage?.kind === "image" ? mirrorImage.image.config.digest : undefined;
    return decide({
      ...(upstreamPlatformDigest && { upstreamPlatformDigest }),
      ...(upstreamImage && { upstreamConfig: upstreamImage.config.digest }),
      ...(mirrorConfig && { mirrorConfig }),
    });
  }

  /** One GET per manifest and image, however many questions need it; transient failures retried like a probe. */
  private manifest(ref: Reference, digest: string): Promise<ReadManifest> {
    const key = `${ref.registry}/${ref.path}@${digest}`;
    let got = this.manifests.get(key);
    if (!got) {
      got = this.readManifest(ref, digest);
      this.manifests.set(key, got);
    }
    return got;
  }

  private async readManifest(ref: Reference, digest: string): Promise<ReadManifest> {
    const where = `${ref.registry}/${ref.path}@${digest}`;
    const failed = () => this.failures.set(formatReference(ref), this.failuresOf(ref) + 1);
    try {
      const got = await retryTransient(
        `GET manifest ${where}`,
        async () => {
          const response = await this.client.getManifest(ref, digest);
          if (response.status === 200) return response;
          const classified = classifyHttp(response.status, ref.registry, response.headers, response.body);
          const text = `HTTP ${response.status}${registryErrorText(response.body) ? ` ${registryErrorText(response.body)}` : ""}`;
          if (classified.errorClass === "transient") throw new TransientError(text, classified.retryAfter);
          throw new ManifestUnreadable(`${text} (${classified.label})`);
        },
        this.retrying(),
        this.log,
        failed,
      );
      // Every body read is hashed: what it says counts only if it is the content its digest names.
      const forged = manifestDigestFault(got.body, headerText(got.headers["docker-content-digest"]), digest);
      if (forged) {
        this.forged.set(repositoryOf(ref), forged);
        return { kind: "unreadable", why: forged, forged: true };
      }
      const parsed = safeParse(got);
      return parsed ?? { kind: "unreadable", why: "not a manifest prepull reads (schema 1, or not JSON)" };
    } catch (error) {
      return { kind: "unreadable", why: (error as Error).message };
    }
  }

  /** Config and layer bytes of `ref@digest` for the target platform (a GET already made is reused). */
  async compressedSize(ref: Reference, digest: string): Promise<SizeEstimate> {
    const parsed = await this.platformManifest(ref, digest);
    if (parsed === undefined) return { note: "its index lists no manifest for the target platform" };
    if (parsed.kind === "unreadable") return { note: `its manifest could not be read: ${parsed.why}` };
    if (parsed.kind !== "image") return { note: "its manifest could not be read" };
    const { config, layers } = parsed.image;
    return {
      bytes: layers.reduce((sum, layer) => sum + layer.size, config.size),
      layers: layers.map(({ digest, size }) => ({ digest, size })),
    };
  }

  /** The manifest of `ref@digest` for the target platform (through an index where it is one); undefined: the index has none. */
  private async platformManifest(ref: Reference, digest: string): Promise<ReadManifest | undefined> {
    const top = await this.manifest(ref, digest);
    if (top.kind !== "index") return top;
    const entry = pickPlatform(top.index, this.settings.platform);
    return entry ? this.manifest(ref, entry.digest) : undefined;
  }
}

class ManifestUnreadable extends Error {}

/** `forged`: the body did not hash to its digest (the registry's fault, not a failure to read). */
type ReadManifest = ParsedManifest | { readonly kind: "unreadable"; readonly why: string; readonly forged?: boolean };

const platformText = (p: PlatformSpec) => `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ""}`;

function safeParse(response: RegistryResponse) {
  try {
    return parseManifest(response.body, headerText(response.headers["content-type"]));
  } catch {
    return undefined;
  }
}

/** What is known of the bytes an image will bring, before it is pulled. */
export interface SizeEstimate {
  /** compressed bytes of config and layers for the target platform */
  readonly bytes?: number;
  readonly layers?: readonly Layer[];
  /** why it is unknown */
  readonly note?: string;
}
