// Issue 5, end to end: mode: mirror copies over the registry API, digests preserved.
import { describe, expect, it } from "vitest";
import { runAction, seedImage, startRegistry, TokenServer, uniqueName, useWorld, worldUnavailable } from "../world/index.js";
import { getManifest, manifestDigest, pushIndex } from "../world/oci.js";

describe.skipIf(worldUnavailable !== "")("mirror mode, end to end", () => {
  const {
    engine,
    registry: { upstream, mirror },
    proxy: { upstream: upProxy, mirror: mirrorProxy },
  } = useWorld({ registries: { upstream: { proxy: true }, mirror: { proxy: true } } });

  const flat = (path: string) => `mirror/${path.replaceAll("/", "-")}`;
  const mirrorInputs = (images: string, extra: Record<string, string> = {}) => ({
    images,
    mirrors: `${mirrorProxy.host}/mirror`,
    mode: "mirror",
    backoff: "0.1",
    ...extra,
  });
  const uploads = () => mirrorProxy.count("POST", /\/blobs\/uploads\//);

  it("copies a single-platform image; the mirror's digest equals upstream's, and the run says it checked", async () => {
    const path = uniqueName("single");
    const { digests } = await seedImage(engine, [`${upstream.host}/${path}:1`], { layers: 3, layerBytes: 200_000 });
    const run = await runAction(mirrorInputs(`${upProxy.host}/${path}:1`), { env: engine.env });
    expect(run.exitCode, run.stdout).toBe(0);
    expect(run.results[0]).toMatchObject({ status: "copied", digest: digests[`${upstream.host}/${path}:1`] });
    expect(await manifestDigest(mirror.host, flat(path), "1")).toBe(digests[`${upstream.host}/${path}:1`]);
    expect(run.results[0]?.reason).toMatch(
      /4 blobs uploaded \([\d.]+ KB\), 0 mounted \(0 B\), 0 already there \(0 B\), 1 manifests pushed; mirror digest checked equal/,
    );
    expect(run.results[0]?.size).toBeGreaterThan(600_000);
    expect(run.stdout).toMatch(/checked: .* has digest sha256:[a-f0-9]{64}, equal to upstream's/);
    expect(uploads()).toBe(4);
  });

  it("copies a multi-platform index with every platform, attestation entry included, digests equal", async () => {
    const path = uniqueName("index");
    const amd = await seedImage(engine, [`${upstream.host}/${path}:amd64`]);
    const arm = await seedImage(engine, [`${upstream.host}/${path}:arm64`]);
    await seedImage(engine, [`${upstream.host}/${path}:att`]);
    const indexDigest = await pushIndex(upstream.host, path, "multi", [
      { tag: "amd64", platform: "linux/amd64" },
      { tag: "arm64", platform: "linux/arm64/v8" },
      { tag: "att", platform: "unknown/unknown" },
    ]);
    const run = await runAction(mirrorInputs(`${upProxy.host}/${path}:multi`), { env: engine.env });
    expect(run.results[0]).toMatchObject({ status: "copied", digest: indexDigest });
    expect(await manifestDigest(mirror.host, flat(path), "multi")).toBe(indexDigest);
    // Byte for byte: the same bytes, and every child by its digest.
    expect((await getManifest(mirror.host, flat(path), "multi"))?.body).toBe((await getManifest(upstream.host, path, "multi"))?.body);
    for (const child of [amd, arm]) {
      const digest = Object.values(child.digests)[0] ?? "";
      expect(await manifestDigest(mirror.host, flat(path), digest)).toBe(digest);
    }
  });

  it("a mirror that already holds some blobs: only the rest is uploaded", async () => {
    const path = uniqueName("partial");
    await seedImage(engine, [`${upstream.host}/${path}:amd64`, `${mirror.host}/${flat(path)}:amd64`], { layers: 2 });
    await seedImage(engine, [`${upstream.host}/${path}:arm64`], { layers: 2 });
    const indexDigest = await pushIndex(upstream.host, path, "multi", [
      { tag: "amd64", platform: "linux/amd64" },
      { tag: "arm64", platform: "linux/arm64" },
    ]);
    const run = await runAction(mirrorInputs(`${upProxy.host}/${path}:multi`), { env: engine.env });
    expect(run.results[0]).toMatchObject({ status: "copied", digest: indexDigest });
    // arm64: config + 2 layers uploaded; amd64's manifest (and so its blobs) already there, not even asked.
    expect(uploads()).toBe(3);
    expect(run.results[0]?.reason).toMatch(
      /3 blobs uploaded \([\d.]+ KB\), 0 mounted \(0 B\), 0 already there \(0 B\), 2 manifests pushed/,
    );
  });

  it("resets and truncations mid-blob: each blob starts again, the end result identical", async () => {
    const path = uniqueName("faults");
    const { digests } = await seedImage(engine, [`${upstream.host}/${path}:1`], { layers: 3, layerBytes: 300_000 });
    upProxy.addRule({ method: "GET", path: /\/blobs\//, fault: { kind: "truncate", bytes: 500 }, times: 1 });
    upProxy.addRule({ method: "GET", path: /\/blobs\//, fault: { kind: "reset" }, times: 1 });
    // Each once, on whichever blob meets it first (blobs go three at once): the upload cannot
    // start (503), a download is cut short, a connection is reset; each is retried.
    mirrorProxy.addRule({ method: "POST", path: /\/blobs\/uploads\//, fault: { kind: "status", status: 503 }, times: 1 });
    const run = await runAction(mirrorInputs(`${upProxy.host}/${path}:1`, { attempts: "5" }), { env: engine.env });
    expect(run.results[0]).toMatchObject({ status: "copied", digest: digests[`${upstream.host}/${path}:1`] });
    expect(await manifestDigest(mirror.host, flat(path), "1")).toBe(digests[`${upstream.host}/${path}:1`]);
    expect(upProxy.requests.filter((r) => r.fault === "truncate" || r.fault === "reset")).toHaveLength(2);
    expect(run.stdout).toMatch(
      /copy blob sha256:[a-f0-9]{64} \(\d+ bytes\): attempt [1-3]\/5 failed, transient: start upload to [\w/-]+: HTTP 503/,
    );
    expect(run.stdout).toMatch(/attempt [1-3]\/5 failed, transient: blob transfer interrupted after \d+ of \d+ bytes/);
    expect(run.stdout).toMatch(/attempt [1-3]\/5 failed, transient: no answer \(GET .*socket hang up/);
  });

  it("a second run over the same images moves zero bytes and reports present", async () => {
    const path = uniqueName("again");
    await seedImage(engine, [`${upstream.host}/${path}:1`]);
    const first = await runAction(mirrorInputs(`${upProxy.host}/${path}:1`), { env: engine.env });
    expect(first.results[0]?.status).toBe("copied");
    mirrorProxy.resetLog();
    upProxy.resetLog();
    const second = await runAction(mirrorInputs(`${upProxy.host}/${path}:1`), { env: engine.env });
    expect(second.results[0]).toMatchObject({ status: "present", size: 0 });
    expect(uploads()).toBe(0);
    expect(mirrorProxy.count("PUT", /./)).toBe(0);
    // No manifest or blob read upstream; the referrers are asked for (signatures made since come too).
    expect(upProxy.count("GET", /\/(manifests|blobs)\//)).toBe(0);
    expect(upProxy.count("GET", /\/referrers\//)).toBe(1);
  });

  it("within one registry, blobs are mounted across repositories, not copied", async () => {
    const path = uniqueName("mount");
    await seedImage(engine, [`${upstream.host}/${path}:1`], { layers: 2 });
    const run = await runAction(
      { images: `${upProxy.host}/${path}:1`, mirrors: `${upProxy.host}/copies`, mode: "mirror" },
      { env: engine.env },
    );
    expect(run.results[0]?.status).toBe("copied");
    expect(run.results[0]?.reason).toMatch(/0 blobs uploaded \(0 B\), 3 mounted/);
    expect(upProxy.count("GET", /\/blobs\//)).toBe(0);
  });

  it("a push refused by auth is a clear error naming the repository and the missing permission", async () => {
    const tokens = await TokenServer.start("locked", { isPrivate: () => false, users: {} });
    const locked = await startRegistry({ tokenAuth: tokens.registryConfig() });
    try {
      const path = uniqueName("refused");
      await seedImage(engine, [`${upstream.host}/${path}:1`]);
      const run = await runAction(
        { images: `${upstream.host}/${path}:1`, mirrors: `${locked.host}/mirror`, mode: "mirror", "on-failure": "fail" },
        { env: engine.env },
      );
      expect(run.exitCode).toBe(1);
      expect(run.results[0]?.status).toBe("failed");
      expect(run.results[0]?.reason).toMatch(
        new RegExp(
          `push to ${locked.host}/mirror/test-refused-[\\w-]+ refused \\(HTTP 401.*\\): no credentials for this registry, so no push permission`,
        ),
      );
    } finally {
      await locked.stop();
      await tokens.stop();
    }
  });

  it("plan mode over the same list reports drift: ok after a copy, differs after upstream moves", async () => {
    const path = uniqueName("drift");
    await seedImage(engine, [`${upstream.host}/${path}:1`]);
    await runAction(mirrorInputs(`${upProxy.host}/${path}:1`), { env: engine.env });
    const ok = await runAction(
      { images: `${upProxy.host}/${path}:1`, mirrors: `${mirrorProxy.host}/mirror`, mode: "plan" },
      { env: engine.env },
    );
    expect(ok.results[0]?.mirror).toMatch(/: ok$/);
    await seedImage(engine, [`${upstream.host}/${path}:1`]); // upstream's tag moves on
    const drift = await runAction(
      { images: `${upProxy.host}/${path}:1`, mirrors: `${mirrorProxy.host}/mirror`, mode: "plan" },
      { env: engine.env },
    );
    expect(drift.results[0]?.mirror).toMatch(/: differs \(mirror sha256:[a-f0-9]{64}, upstream sha256:[a-f0-9]{64}\)/);
  });
});
