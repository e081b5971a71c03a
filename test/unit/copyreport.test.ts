// Mirror mode's progress text and run totals (src/report/copyreport.ts), and the ledger that
// makes a blob go up once per registry (src/registry/blobs.ts), and a referrers fallback tag that
// holds something else (src/registry/referrers.ts).
import { describe, expect, it } from "vitest";
import { BlobLedger, CopyError, MAX_PEERS } from "../../src/registry/blobs.js";
import type { RegistryClient, RegistryResponse } from "../../src/registry/client.js";
import { copyReferrers, type ReferrerCopier } from "../../src/registry/referrers.js";
import { CopyProgress, copyTotals } from "../../src/report/copyreport.js";
import { makeResult } from "../../src/report/results.js";
import { summaryMarkdown } from "../../src/report/summary.js";
import { parseReference } from "../../src/resolve/reference.js";

describe("CopyProgress", () => {
  it("says bytes done of the total, the rate of what was streamed, and what is left", () => {
    const progress = new CopyProgress(0);
    progress.addTotal(10_000_000);
    progress.onBytes("sha256:a", 2_000_000, true); // mounted: done, but not streamed
    progress.onBytes("sha256:b", 3_000_000, false); // under way
    expect(progress.text(3000)).toBe("5.0 MB of 10.0 MB, 1.0 MB/s, 5.0 MB left (about 5 s), 3 s");
    progress.onBytes("sha256:b", 0, false); // its try starts again: nothing of it counts
    expect(progress.text(3000)).toBe("2.0 MB of 10.0 MB, 0 B/s, 8.0 MB left, 3 s");
    progress.onBytes("sha256:b", 8_000_000, true);
    expect(progress.text(4000)).toBe("10.0 MB of 10.0 MB, 2.0 MB/s, 0 B left, 4 s");
  });
});

describe("copyTotals", () => {
  const copied = (uploaded: number, mounted: number) =>
    makeResult("a", { status: "copied", copy: { uploaded, mounted, present: 0, referrers: 1 } });
  it("sums images by status and bytes by how they came; the summary gains the table", () => {
    const results = [
      copied(3_000_000, 0),
      copied(100_000, 3_000_000),
      makeResult("c", { status: "present", copy: { uploaded: 0, mounted: 0, present: 0, referrers: 0 } }),
      makeResult("d", { status: "failed" }),
    ];
    const totals = copyTotals(results);
    expect(totals?.text).toBe(
      [
        "copied: 2 image(s), 3.1 MB uploaded",
        "mounted: 3.0 MB mounted from another repository of the mirror's registry",
        "present: 1 image(s), 0 B already in the mirror",
        "failed: 1 image(s)",
        "referrers: 2 copied (OCI referrers and cosign tags)",
      ].join("\n"),
    );
    expect(summaryMarkdown(results)).toContain("| mounted |  | 3.0 MB | mounted from another repository of the mirror's registry |");
  });
  it("is absent where nothing was copied (pull and plan modes)", () => {
    expect(copyTotals([makeResult("a", { status: "pulled" })])).toBeUndefined();
    expect(summaryMarkdown([makeResult("a", { status: "pulled" })])).not.toContain("mirror copy");
  });
});

describe("BlobLedger", () => {
  it("peers: the other repositories of the same registry, bounded", () => {
    const ledger = new BlobLedger();
    const ref = (text: string) => parseReference(text);
    for (let i = 0; i < 12; i++) ledger.addRepository(ref(`ghcr.io/org/r${i}:1`));
    ledger.addRepository(ref("quay.io/org/other:1"));
    ledger.addRepository(ref("ghcr.io/org/r0:2"));
    const peers = ledger.peers(ref("ghcr.io/org/r0:1"));
    expect(peers).toHaveLength(MAX_PEERS);
    expect(peers).not.toContain("org/r0");
    expect(peers).not.toContain("org/other");
    // The image's own other mirror line comes first, however many repositories the run has.
    ledger.relate(ref("ghcr.io/org/r0:1"), [ref("ghcr.io/old/r0:1"), ref("quay.io/old/r0:1")]);
    expect(ledger.peers(ref("ghcr.io/org/r0:1"))[0]).toBe("old/r0");
    expect(ledger.peers(ref("ghcr.io/org/r0:1"))).toHaveLength(MAX_PEERS);
  });
  it("a claimed blob: the others wait for where it went (undefined when its upload failed)", async () => {
    const ledger = new BlobLedger();
    expect(ledger.holder("r", "sha256:x")).toBeUndefined();
    const settle = ledger.claim("r", "sha256:x");
    const waiting = ledger.holder("r", "sha256:x");
    settle("org/a");
    expect(await waiting).toBe("org/a");
    ledger.claim("r", "sha256:y")(undefined);
    expect(await ledger.holder("r", "sha256:y")).toBeUndefined();
  });
});

describe("a referrers fallback tag", () => {
  const answer = (status: number, headers: Record<string, string> = {}): RegistryResponse =>
    ({ status, headers, body: Buffer.from("") }) as unknown as RegistryResponse;
  const subject = `sha256:${"a".repeat(64)}`;

  it.each([
    ["not JSON", "<html>a proxy's page</html>"],
    ["JSON of another shape", JSON.stringify({ schemaVersion: 2, manifests: [{ digest: "sha256:short" }] })],
  ])("holding %s fails the copy with a CopyError naming the tag, not a SyntaxError or ZodError", async (_, body) => {
    const client = {
      // No referrers API: the fallback tag is read.
      call: async () => answer(404),
      headManifest: async (_ref: unknown, selector: string) =>
        selector === subject.replace(":", "-") ? answer(200, { "docker-content-digest": `sha256:${"b".repeat(64)}` }) : answer(404),
    } as unknown as RegistryClient;
    const copier: ReferrerCopier = {
      client,
      retry: (_what, operation) => operation(),
      log: () => undefined,
      fetchManifest: async () => ({ body: Buffer.from(body), mediaType: "application/vnd.oci.image.index.v1+json", digest: "" }),
      copyTree: async () => undefined,
      pushManifest: async () => undefined,
      counted: () => undefined,
    };
    const copy = copyReferrers(copier, parseReference("localhost:5000/up/app"), parseReference("localhost:5001/down/app"), [subject]);
    await expect(copy).rejects.toThrow(CopyError);
    await expect(copy).rejects.toThrow(`localhost:5000/up/app:sha256-${"a".repeat(64)} is not a referrers index`);
  });
});
