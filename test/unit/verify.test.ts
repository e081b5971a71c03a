import { describe, expect, it } from "vitest";
import { type VerifyFacts, verifyMirror } from "../../src/registry/verify.js";

const d = (c: string) => `sha256:${c.repeat(64)}`;

// DESIGN.md, verify: digest — "Equal: trusted. Different: trusted only if the mirror's digest is
// upstream's manifest for the target platform, or their image config digests match (a
// single-platform copy); otherwise the mirror is skipped with a warning that names both digests."
describe("verify: digest", () => {
  it.each<[string, VerifyFacts, boolean]>([
    ["equal digests", { mirrorDigest: d("a"), upstreamDigest: d("a") }, true],
    [
      "the mirror holds upstream's platform manifest",
      { mirrorDigest: d("b"), upstreamDigest: d("a"), upstreamPlatformDigest: d("b") },
      true,
    ],
    [
      "a copy through an engine of a single-platform image: same config, other layer bytes",
      { mirrorDigest: d("b"), upstreamDigest: d("a"), upstreamConfig: d("c"), mirrorConfig: d("c") },
      true,
    ],
    [
      "docker pull + tag + push of a BuildKit index (platform + attestation): same config as upstream's platform manifest",
      { mirrorDigest: d("b"), upstreamDigest: d("a"), upstreamPlatformDigest: d("e"), upstreamConfig: d("c"), mirrorConfig: d("c") },
      true,
    ],
    [
      "another image under the index",
      { mirrorDigest: d("b"), upstreamDigest: d("a"), upstreamPlatformDigest: d("e"), upstreamConfig: d("c"), mirrorConfig: d("f") },
      false,
    ],
    ["another image", { mirrorDigest: d("b"), upstreamDigest: d("a"), upstreamConfig: d("c"), mirrorConfig: d("f") }, false],
    ["configs unknown", { mirrorDigest: d("b"), upstreamDigest: d("a") }, false],
    ["the mirror's config unknown", { mirrorDigest: d("b"), upstreamDigest: d("a"), upstreamConfig: d("c") }, false],
  ])("%s → trusted: %s", (_, facts, trusted) => {
    const verdict = verifyMirror(facts, "linux/amd64");
    expect(verdict.trusted).toBe(trusted);
    if (!trusted) expect(verdict.why).toContain(facts.mirrorDigest);
    if (!trusted) expect(verdict.why).toContain(facts.upstreamDigest);
  });
});
