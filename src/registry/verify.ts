// verify: digest, as DESIGN.md says it: a mirror is trusted where its manifest digest equals
// upstream's; or where it is upstream's manifest for the target platform (a single-platform
// copy of an index); or where its image config equals upstream's for that platform (a copy
// made through an engine, `docker pull` + `tag` + `push`, whose layers were compressed anew and
// whose attestations were dropped). Anything else is a stale or poisoned mirror. Pure: the
// probe gathers the facts.

export interface VerifyFacts {
  readonly mirrorDigest: string;
  readonly upstreamDigest: string;
  /** upstream is an index: its entry for the target platform, where it has one */
  readonly upstreamPlatformDigest?: string;
  /** image config digest of upstream's manifest for the target platform, where read */
  readonly upstreamConfig?: string;
  /** image config digest of the mirror's manifest for the target platform, where read */
  readonly mirrorConfig?: string;
}

export type VerifyVerdict = { readonly trusted: true; readonly why: string } | { readonly trusted: false; readonly why: string };

export function verifyMirror(facts: VerifyFacts, platform: string): VerifyVerdict {
  const { mirrorDigest, upstreamDigest, upstreamPlatformDigest, upstreamConfig, mirrorConfig } = facts;
  if (mirrorDigest === upstreamDigest) return { trusted: true, why: `digest ${mirrorDigest} equals upstream's` };
  if (upstreamPlatformDigest !== undefined && mirrorDigest === upstreamPlatformDigest) {
    return { trusted: true, why: `the mirror holds upstream's ${platform} manifest ${mirrorDigest} (a single-platform copy)` };
  }
  if (upstreamConfig !== undefined && mirrorConfig === upstreamConfig) {
    return { trusted: true, why: `image config ${upstreamConfig} equals upstream's for ${platform} (a copy through an engine)` };
  }
  const upstreamSide = upstreamPlatformDigest ? `upstream's ${platform} manifest ${upstreamPlatformDigest}` : "upstream's manifest";
  return {
    trusted: false,
    why: `mirror digest ${mirrorDigest} differs from upstream ${upstreamDigest}: neither ${upstreamSide} nor its image config (${upstreamConfig ?? "unknown"} upstream, ${mirrorConfig ?? "unknown"} in the mirror): a stale or poisoned mirror`,
  };
}
