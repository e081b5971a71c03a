// What refers to an image comes with it (mode: mirror): its OCI 1.1 referrers (signatures,
// SBOMs, attestations), found through the referrers API where the source has it, else through
// the `sha256-<hex>` fallback tag, and written the same way into a mirror without the API;
// and cosign's `sha256-<hex>.sig`, `.att` and `.sbom` tags. Every manifest keeps its digest.
import * as z from "zod/mini";
import type { Reference } from "../resolve/reference.js";
import { CopyError, unexpected } from "./blobs.js";
import { headerText, type RegistryClient, type RegistryResponse } from "./client.js";
import { pullScope } from "./http.js";
import { DIGEST, MEDIA_TYPES, sha256Digest } from "./manifests.js";

/** cosign's tags beside an image: signatures, attestations, SBOMs (cosign before v3). */
const COSIGN_SUFFIXES = ["sig", "att", "sbom"] as const;
/** Referrers of the image, and referrers of those (a signature of an SBOM); no deeper. */
const REFERRER_DEPTH = 2;
/** Pages of a referrers API answer followed at most. */
const MAX_PAGES = 10;

const ReferrerDescriptor = z.object({
  mediaType: z.string(),
  digest: DIGEST,
  size: z.int().check(z.nonnegative()),
  artifactType: z.optional(z.string()),
  annotations: z.optional(z.record(z.string(), z.string())),
});
const ReferrersIndex = z.object({ schemaVersion: z.literal(2), manifests: z.array(ReferrerDescriptor) });
type ReferrerDescriptor = z.infer<typeof ReferrerDescriptor>;

export interface Fetched {
  readonly body: Buffer;
  readonly mediaType: string;
  readonly digest: string;
}

/** What the referrer copy needs of the copier (registry/copier.ts). */
export interface ReferrerCopier {
  readonly client: RegistryClient;
  retry<T>(what: string, operation: () => Promise<T>): Promise<T>;
  log(line: string): void;
  fetchManifest(ref: Reference, selector: string): Promise<Fetched>;
  /** `top` and all it references into `target`, pushed under `selector` */
  copyTree(source: Reference, target: Reference, top: Fetched, selector: string): Promise<void>;
  pushManifest(target: Reference, selector: string, body: Buffer, mediaType: string): Promise<void>;
  /** a referrer or a cosign tag written into the mirror */
  counted(): void;
  /** fill-mirror: a tag that exists with other content is left as it is (said here), never replaced */
  readonly keepTags?: { notice(line: string): void } | undefined;
}

/** `sha256:abc…` → `sha256-abc…`, the fallback tag of OCI 1.1 and the stem of cosign's tags. */
export const fallbackTag = (digest: string) => digest.replace(":", "-");

/** Copies what refers to each of `subjects` (manifest digests already in `target`). */
export async function copyReferrers(
  copier: ReferrerCopier,
  source: Reference,
  target: Reference,
  subjects: readonly string[],
  depth = 0,
): Promise<void> {
  for (const subject of subjects) {
    // The referrers and cosign's three tags are asked at once: most images have none, and each is a round trip.
    await allOf([
      copyListed(copier, source, target, subject, depth),
      ...COSIGN_SUFFIXES.map((suffix) => copyCosignTag(copier, source, target, `${fallbackTag(subject)}.${suffix}`)),
    ]);
  }
}

/** Waits for all (nothing goes on behind a failure's back), then fails with the first failure. */
async function allOf(work: Promise<void>[]): Promise<void> {
  const failed = (await Promise.allSettled(work)).find((outcome) => outcome.status === "rejected");
  if (failed) throw failed.reason;
}

/** The OCI referrers of `subject`, their fallback tag where the mirror needs one, and their own referrers. */
async function copyListed(copier: ReferrerCopier, source: Reference, target: Reference, subject: string, depth: number) {
  const found = await discover(copier, source, subject);
  if (found.descriptors.length === 0) return;
  for (const descriptor of found.descriptors) {
    const there = await headManifest(copier, target, descriptor.digest);
    if (there.status === 200) continue;
    await copier.copyTree(source, target, await copier.fetchManifest(source, descriptor.digest), descriptor.digest);
    copier.counted();
    copier.log(`referrer ${descriptor.digest} (${descriptor.artifactType ?? descriptor.mediaType}) of ${subject} copied`);
  }
  await writeFallback(copier, target, subject, found);
  const digests = found.descriptors.map((d) => d.digest);
  if (depth + 1 < REFERRER_DEPTH) await copyReferrers(copier, source, target, digests, depth + 1);
}

function headManifest(copier: ReferrerCopier, ref: Reference, selector: string): Promise<RegistryResponse> {
  return copier.retry(`HEAD ${ref.registry}/${ref.path}:${selector}`, () => copier.client.headManifest(ref, selector));
}

interface Found {
  readonly descriptors: readonly ReferrerDescriptor[];
  /** the source's fallback tag index, where that is how they were found: copied byte for byte where it can be */
  readonly tagIndex?: Fetched;
}

/** The referrers API's answer (all pages), or undefined where the registry has no such API (anything but 200). */
async function referrersApi(copier: ReferrerCopier, ref: Reference, subject: string): Promise<ReferrerDescriptor[] | undefined> {
  const found: ReferrerDescriptor[] = [];
  let path = `/v2/${ref.path}/referrers/${subject}`;
  for (let page = 0; page < MAX_PAGES; page++) {
    const answer = await copier.retry(`GET referrers ${ref.registry}${path}`, async () => {
      const got = await copier.client.call("GET", ref.registry, path, {
        headers: { Accept: MEDIA_TYPES.ociIndex },
        scopes: [pullScope(ref)],
      });
      // No API (distribution's 404, a 400 or 405 elsewhere): the fallback tag. A 5xx is retried.
      if (got.status >= 500) throw unexpected(`GET referrers of ${subject}`, ref.registry, got);
      return got;
    });
    // Anything but an index (a proxy's HTML page) is no API either.
    const listing = answer.status === 200 ? ReferrersIndex.safeParse(parseJson(answer.body)) : undefined;
    if (!listing?.success) return page === 0 ? undefined : found;
    found.push(...listing.data.manifests);
    const next = /<([^>]+)>\s*;\s*rel="?next"?/.exec(headerText(answer.headers.link))?.[1];
    if (!next) break;
    const url = new URL(next, copier.client.baseUrl(ref.registry));
    path = `${url.pathname}${url.search}`;
  }
  return found;
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString("utf8"));
  } catch {
    return undefined;
  }
}

async function discover(copier: ReferrerCopier, source: Reference, subject: string): Promise<Found> {
  const api = await referrersApi(copier, source, subject);
  if (api) return { descriptors: api };
  const head = await headManifest(copier, source, fallbackTag(subject));
  if (head.status === 404) return { descriptors: [] };
  if (head.status !== 200) throw unexpected(`HEAD ${source.path}:${fallbackTag(subject)}`, source.registry, head);
  const tagIndex = await copier.fetchManifest(source, headerText(head.headers["docker-content-digest"]) || fallbackTag(subject));
  return { descriptors: indexManifests(tagIndex, `${source.registry}/${source.path}:${fallbackTag(subject)}`), tagIndex };
}

/** A fallback tag's referrers; a tag that holds no referrers index fails the copy, said as such. */
function indexManifests(fetched: Fetched, where: string): ReferrerDescriptor[] {
  const index = ReferrersIndex.safeParse(parseJson(fetched.body));
  if (!index.success) throw new CopyError(`${where} is not a referrers index (an OCI image index of sha256 descriptors)`);
  return index.data.manifests;
}

/** Whether the target's registry keeps referrers itself (the API answers), per registry and run. */
const apiKnown = new WeakMap<RegistryClient, Map<string, boolean>>();

async function targetHasApi(copier: ReferrerCopier, target: Reference, subject: string): Promise<boolean> {
  const known = apiKnown.get(copier.client) ?? new Map<string, boolean>();
  apiKnown.set(copier.client, known);
  const cached = known.get(target.registry);
  if (cached !== undefined) return cached;
  const has = (await referrersApi(copier, target, subject)) !== undefined;
  known.set(target.registry, has);
  return has;
}

/**
 * A mirror without the referrers API gets the fallback tag: upstream's own index, byte for
 * byte, where the mirror's tag holds nothing upstream's lacks; else the union of both.
 */
async function writeFallback(copier: ReferrerCopier, target: Reference, subject: string, found: Found): Promise<void> {
  if (await targetHasApi(copier, target, subject)) return;
  const tag = fallbackTag(subject);
  const head = await headManifest(copier, target, tag);
  const existing =
    head.status === 200 ? indexManifests(await copier.fetchManifest(target, tag), `${target.registry}/${target.path}:${tag}`) : [];
  const wanted = new Set(found.descriptors.map((d) => d.digest));
  const have = new Set(existing.map((d) => d.digest));
  if ([...wanted].every((digest) => have.has(digest))) return;
  // Upstream's own index replaces the tag only where nothing is there or (mirror mode) it lists nothing else;
  // fill-mirror only adds to a tag that exists (the union below).
  const replaceable = head.status !== 200 || !copier.keepTags;
  if (found.tagIndex && replaceable && existing.every((d) => wanted.has(d.digest))) {
    await copier.pushManifest(target, tag, found.tagIndex.body, found.tagIndex.mediaType || MEDIA_TYPES.ociIndex);
    return;
  }
  const manifests = [...existing, ...found.descriptors.filter((d) => !have.has(d.digest))];
  const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests }));
  await copier.pushManifest(target, tag, body, MEDIA_TYPES.ociIndex);
  copier.log(`fallback tag ${target.path}:${tag} written (${manifests.length} referrers, ${sha256Digest(body)})`);
}

/** A cosign tag: copied under the same tag where upstream has it and the mirror's differs. */
async function copyCosignTag(copier: ReferrerCopier, source: Reference, target: Reference, tag: string): Promise<void> {
  const head = await headManifest(copier, source, tag);
  if (head.status === 404) return;
  if (head.status !== 200) throw unexpected(`HEAD ${source.path}:${tag}`, source.registry, head);
  const digest = headerText(head.headers["docker-content-digest"]);
  const there = await headManifest(copier, target, tag);
  const thereDigest = headerText(there.headers["docker-content-digest"]);
  if (digest && there.status === 200 && thereDigest === digest) return;
  if (there.status === 200 && copier.keepTags) {
    copier.keepTags.notice(`${target.path}:${tag} holds ${thereDigest || "other content"}, not upstream's ${digest}; left as it is`);
    return;
  }
  await copier.copyTree(source, target, await copier.fetchManifest(source, digest || tag), tag);
  copier.counted();
  copier.log(`cosign tag ${tag} copied (${digest})`);
}
