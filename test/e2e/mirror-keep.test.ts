// Issue 23, end to end: blobs uploaded once per registry and run and mounted elsewhere (also from
// an earlier run's repositories); referrers and cosign tags with their digests; progress; totals.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  type Docker,
  dockerConfig,
  loopbackRequest,
  runAction,
  seedImage,
  uniqueName,
  useWorld,
  worldUnavailable,
} from "../world/index.js";
import { ACCEPT, getManifest, manifestDigest, pushCosignSignature, pushIndex, pushReferrer } from "../world/oci.js";

/**
 * `count` images in `upstream`, each FROM one base image (one layer of `baseBytes`) plus a layer
 * of its own: they share the base layer's blob, as images built on one distribution do.
 */
async function seedFamily(engine: Docker, upstream: string, count: number, baseBytes: number) {
  const dir = mkdtempSync(join(tmpdir(), "prepull-family-"));
  const base = `prepull-base-${randomBytes(4).toString("hex")}:1`;
  try {
    writeFileSync(join(dir, "base.bin"), randomBytes(baseBytes));
    writeFileSync(join(dir, "Dockerfile.base"), "FROM scratch\nCOPY base.bin /base.bin\n");
    await engine.ok(["build", "-q", "-f", join(dir, "Dockerfile.base"), "-t", base, dir], { DOCKER_BUILDKIT: "0" });
    const images: { path: string; ref: string; digest: string }[] = [];
    for (let i = 0; i < count; i++) {
      writeFileSync(join(dir, `own${i}.bin`), randomBytes(100_000));
      writeFileSync(join(dir, `Dockerfile.${i}`), `FROM ${base}\nCOPY own${i}.bin /own.bin\n`);
      const path = uniqueName(`family${i}`);
      const ref = `${upstream}/${path}:1`;
      await engine.ok(["build", "-q", "-f", join(dir, `Dockerfile.${i}`), "-t", ref, dir], { DOCKER_BUILDKIT: "0" });
      const out = await engine.ok(["push", ref]);
      images.push({ path, ref, digest: out.match(/digest: (sha256:[a-f0-9]{64})/)?.[1] ?? "" });
      await engine.ok(["image", "rm", "-f", ref]);
    }
    await engine.ok(["image", "rm", "-f", base]);
    return images;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe.skipIf(worldUnavailable !== "")("mirror mode keeps a mirror: mounts, referrers, progress", () => {
  /**
   * `mirror`: open, plain HTTP; `ghcr`: as GHCR is, HTTPS (its fault proxy too) with
   * token auth and an HTTPS realm, every repository private, alice's login allowed to push.
   */
  const {
    engine,
    tokens,
    registry: { upstream, mirror, ghcr },
    proxy: { upstream: upProxy, mirror: mirrorProxy, ghcr: ghcrProxy },
  } = useWorld({
    registries: { upstream: { proxy: true }, mirror: { proxy: true }, ghcr: { tokenAuth: true, tls: true, proxy: true, proxyTls: true } },
    tokens: { service: "keep", tls: true, policy: { isPrivate: () => true, users: { alice: "secret" } } },
  });

  const flat = (prefix: string, path: string) => `${prefix}/${path.replaceAll("/", "-")}`;

  /** A target mirror as the tests use it: where the action reaches it, its log, how a test reads it. */
  interface Target {
    readonly proxy: typeof mirrorProxy;
    /** the action's environment: the engine's, and alice's login where the mirror wants one */
    env(): Record<string, string>;
    digest(path: string, selector: string): Promise<string | undefined>;
  }
  const open: Target = {
    proxy: mirrorProxy,
    env: () => engine.env,
    digest: (path, selector) => manifestDigest(mirror.host, path, selector),
  };
  let aliceConfig = "";
  const locked: Target = {
    proxy: ghcrProxy,
    env: () => {
      if (!aliceConfig) {
        aliceConfig = dockerConfig({ [ghcrProxy.host]: "alice:secret" });
      }
      return { ...engine.env, DOCKER_CONFIG: aliceConfig };
    },
    async digest(path, selector) {
      const { token = "" } = await tokens.grant(`repository:${path}:pull`, "alice:secret");
      const head = await loopbackRequest(`https://${ghcr.host}/v2/${path}/manifests/${selector}`, {
        method: "HEAD",
        headers: { Accept: ACCEPT, Authorization: `Bearer ${token}` },
      });
      const digest = head.headers["docker-content-digest"];
      return head.status === 200 && typeof digest === "string" ? digest : undefined;
    },
  };
  /** blob uploads that carried `digest` (the PUT that ends an upload names it), and their bytes */
  const uploadsOf = (target: Target, digest: string) =>
    target.proxy.requests.filter((r) => r.method === "PUT" && r.path.includes(`digest=${encodeURIComponent(digest)}`));
  const mountsOf = (target: Target, digest: string) =>
    target.proxy.requests.filter((r) => r.method === "POST" && r.path.includes(`mount=${encodeURIComponent(digest)}`) && r.status === 201);
  /** the token requests alice's login made for push on `repository` and pull on another of `prefix`'s */
  const mountGrants = (repository: string, prefix: string) =>
    tokens.requests.filter(
      (r) =>
        r.user === "alice" &&
        r.status === 200 &&
        r.scope.includes(`repository:${repository}:pull,push`) &&
        r.scope.some(
          (scope) => scope !== `repository:${repository}:pull,push` && scope.startsWith(`repository:${prefix}/`) && scope.endsWith(":pull"),
        ),
    );

  for (const [kind, target] of [
    ["an open plain-HTTP mirror", open],
    ["a GHCR-like mirror (HTTPS, token auth, HTTPS realm, a login that may push)", locked],
  ] as const) {
    it(`three images sharing a base layer, three new repositories, concurrency 3: the base goes up once; a second run into other repositories mounts (${kind})`, async () => {
      const family = await seedFamily(engine, upstream.host, 3, 3_000_000);
      const manifest = JSON.parse((await getManifest(upstream.host, family[0]?.path ?? "", "1"))?.body ?? "{}") as {
        layers: { digest: string; size: number }[];
      };
      const base = manifest.layers[0] ?? { digest: "", size: 0 };
      expect(base.size).toBeGreaterThan(2_900_000);
      const images = family.map((f) => `${upProxy.host}/${f.path}:1`).join("\n");
      const tokensBefore = target === locked ? tokens.requests.length : 0;
      const first = await runAction(
        { images, mirrors: `${target.proxy.host}/keep`, mode: "mirror", concurrency: "3" },
        { env: target.env() },
      );
      expect(first.exitCode, first.stdout).toBe(0);
      for (const [i, f] of family.entries()) {
        expect(first.results[i]).toMatchObject({ status: "copied", digest: f.digest });
        expect(await target.digest(flat("keep", f.path), "1")).toBe(f.digest);
      }
      // The shared layer: one upload of its bytes, mounted into the two other repositories.
      expect(uploadsOf(target, base.digest)).toHaveLength(1);
      expect(uploadsOf(target, base.digest)[0]?.bytesUp).toBe(base.size);
      expect(mountsOf(target, base.digest)).toHaveLength(2);
      // Everything that went up: the base once, three own layers, configs and manifests; never the base twice.
      expect(target.proxy.bytes.up).toBeGreaterThan(base.size + 300_000);
      expect(target.proxy.bytes.up).toBeLessThan(base.size + 400_000);
      const counts = first.results.map((r) => r.copy as { uploaded: number; mounted: number });
      expect(counts.map((c) => c.mounted).sort()).toEqual([0, base.size, base.size]);
      expect(counts.reduce((sum, c) => sum + c.uploaded, 0)).toBeLessThan(base.size + 400_000);
      expect(first.stdout).toMatch(/mirror totals:/);
      expect(first.summary).toMatch(/\| copied \| 3 \| [\d.]+ MB \| uploaded \|/);
      expect(first.summary).toMatch(/\| mounted \| {2}\| 6\.0 MB \|/);
      if (target === locked) {
        // Each mount within the run: one token for push on its repository and pull on the peer's it mounts from.
        const mounted = family.filter((_, i) => (counts[i]?.mounted ?? 0) > 0);
        expect(mounted).toHaveLength(2);
        for (const f of mounted) expect(mountGrants(flat("keep", f.path), "keep")).not.toEqual([]);
        expect(tokens.requests.slice(tokensBefore).filter((r) => r.status !== 200)).toEqual([]);
      }

      // A second run into other repositories (a new first mirror line; the old one second): nothing
      // goes up but manifests, every blob is mounted from where the first run put it.
      target.proxy.resetLog();
      upProxy.resetLog();
      const second = await runAction(
        { images, mirrors: `${target.proxy.host}/again\n${target.proxy.host}/keep`, mode: "mirror", concurrency: "3" },
        { env: target.env() },
      );
      expect(second.exitCode, second.stdout).toBe(0);
      for (const [i, f] of family.entries()) {
        expect(second.results[i]).toMatchObject({ status: "copied", digest: f.digest });
        expect(second.results[i]?.reason).toMatch(/0 blobs uploaded \(0 B\), 3 mounted/);
        expect(await target.digest(flat("again", f.path), "1")).toBe(f.digest);
        // Through token auth: push on the new repository and pull on the one the first run filled, in one token.
        if (target === locked)
          expect(tokens.requests).toContainEqual(
            expect.objectContaining({
              user: "alice",
              status: 200,
              scope: expect.arrayContaining([`repository:${flat("again", f.path)}:pull,push`, `repository:${flat("keep", f.path)}:pull`]),
            }),
          );
      }
      expect(target.proxy.count("PUT", /\/blobs\/uploads\//)).toBe(0);
      expect(upProxy.count("GET", /\/blobs\//)).toBe(0);
      expect(target.proxy.bytes.up).toBeLessThan(10_000); // three manifests
    });

    it(`a new image beside earlier ones: its shared layer is mounted from a repository an earlier run filled (${kind})`, async () => {
      const [a, b] = await seedFamily(engine, upstream.host, 2, 1_000_000);
      if (!a || !b) throw new Error("no family");
      const mirrors = `${target.proxy.host}/daily`;
      await runAction({ images: `${upProxy.host}/${a.path}:1`, mirrors, mode: "mirror" }, { env: target.env() });
      target.proxy.resetLog();
      const run = await runAction(
        { images: `${upProxy.host}/${a.path}:1\n${upProxy.host}/${b.path}:1`, mirrors, mode: "mirror" },
        { env: target.env() },
      );
      expect(run.results[0]).toMatchObject({ status: "present" });
      expect(run.results[1]).toMatchObject({ status: "copied", digest: b.digest });
      expect(run.results[1]?.reason).toMatch(/2 blobs uploaded \([\d.]+ KB\), 1 mounted \(1\.0 MB\)/);
      expect(target.proxy.bytes.up).toBeLessThan(200_000);
      expect(await target.digest(flat("daily", b.path), "1")).toBe(b.digest);
      if (target === locked) expect(mountGrants(flat("daily", b.path), "daily")).not.toEqual([]);
    });
  }

  it("an image with a cosign .sig tag and an OCI referrer behind the fallback tag arrives whole, every digest kept", async () => {
    const path = uniqueName("signed");
    const { digests } = await seedImage(engine, [`${upstream.host}/${path}:1`]);
    const digest = digests[`${upstream.host}/${path}:1`] ?? "";
    const sig = await pushCosignSignature(upstream.host, path, "1");
    const sbom = await pushReferrer(upstream.host, path, "1", { artifactType: "application/spdx+json", payload: randomBytes(5000) });
    const fallbackUpstream = await manifestDigest(upstream.host, path, sbom.fallback);
    const run = await runAction(
      { images: `${upProxy.host}/${path}:1`, mirrors: `${mirrorProxy.host}/mirror`, mode: "mirror" },
      { env: engine.env },
    );
    expect(run.exitCode, run.stdout).toBe(0);
    expect(run.results[0]).toMatchObject({ status: "copied", digest });
    expect(run.results[0]?.reason).toMatch(/2 referrers copied/);
    const target = flat("mirror", path);
    expect(await manifestDigest(mirror.host, target, "1")).toBe(digest);
    expect(await manifestDigest(mirror.host, target, sig.tag)).toBe(sig.digest);
    expect(await manifestDigest(mirror.host, target, sbom.digest)).toBe(sbom.digest);
    expect(await manifestDigest(mirror.host, target, sbom.fallback)).toBe(fallbackUpstream); // no referrers API there either: the same tag
    expect((await getManifest(mirror.host, target, sbom.digest))?.body).toMatch(new RegExp(`"subject":\\{[^}]*"digest":"${digest}"`));
    // Blobs of the referrers came too: the mirror serves the SBOM's layer.
    const layer = (JSON.parse((await getManifest(mirror.host, target, sbom.digest))?.body ?? "{}") as { layers: { digest: string }[] })
      .layers[0];
    expect((await fetch(`http://${mirror.host}/v2/${target}/blobs/${layer?.digest}`)).status).toBe(200);

    // Later, upstream gets a second referrer: a run over the present image brings it, and the
    // mirror's fallback tag grows to upstream's.
    const att = await pushReferrer(upstream.host, path, "1", { artifactType: "application/vnd.in-toto+json", payload: randomBytes(800) });
    const again = await runAction(
      { images: `${upProxy.host}/${path}:1`, mirrors: `${mirrorProxy.host}/mirror`, mode: "mirror" },
      { env: engine.env },
    );
    expect(again.results[0]).toMatchObject({ status: "present" });
    expect(again.results[0]?.reason).toMatch(/1 referrers copied/);
    expect(await manifestDigest(mirror.host, target, att.digest)).toBe(att.digest);
    expect(await manifestDigest(mirror.host, target, sbom.fallback)).toBe(await manifestDigest(upstream.host, path, sbom.fallback));
  });

  it("referrers found through a source's referrers API are written into a mirror without it as the fallback tag", async () => {
    const path = uniqueName("api");
    const { digests } = await seedImage(engine, [`${upstream.host}/${path}:1`]);
    const digest = digests[`${upstream.host}/${path}:1`] ?? "";
    const ref = await pushReferrer(upstream.host, path, "1", {
      artifactType: "application/vnd.dev.sigstore.bundle.v0.3+json",
      payload: randomBytes(900),
      fallbackTag: false,
    });
    // Upstream answers the referrers API (as GHCR or Docker Hub would); nothing in its fallback tag.
    const listing = {
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.index.v1+json",
      manifests: [
        {
          mediaType: "application/vnd.oci.image.manifest.v1+json",
          digest: ref.digest,
          size: ref.size,
          artifactType: "application/vnd.dev.sigstore.bundle.v0.3+json",
        },
      ],
    };
    upProxy.addRule({
      method: "GET",
      path: new RegExp(`/referrers/${digest}`),
      fault: {
        kind: "status",
        status: 200,
        headers: { "content-type": "application/vnd.oci.image.index.v1+json" },
        body: JSON.stringify(listing),
      },
    });
    const run = await runAction(
      { images: `${upProxy.host}/${path}:1`, mirrors: `${mirrorProxy.host}/mirror`, mode: "mirror" },
      { env: engine.env },
    );
    expect(run.results[0]).toMatchObject({ status: "copied", digest });
    expect(upProxy.count("HEAD", new RegExp(`/manifests/${ref.fallback}$`))).toBe(0); // the API answered: no fallback asked
    const target = flat("mirror", path);
    expect(await manifestDigest(mirror.host, target, ref.digest)).toBe(ref.digest);
    const fallback = JSON.parse((await getManifest(mirror.host, target, ref.fallback))?.body ?? "{}") as { manifests: unknown[] };
    expect(fallback.manifests).toEqual(listing.manifests);
  });

  it("an index: referrers of the index and of a platform manifest come with it", async () => {
    const path = uniqueName("signedindex");
    const amd = await seedImage(engine, [`${upstream.host}/${path}:amd64`]);
    await seedImage(engine, [`${upstream.host}/${path}:arm64`]);
    const indexDigest = await pushIndex(upstream.host, path, "multi", [
      { tag: "amd64", platform: "linux/amd64" },
      { tag: "arm64", platform: "linux/arm64" },
    ]);
    const amdDigest = Object.values(amd.digests)[0] ?? "";
    const sig = await pushCosignSignature(upstream.host, path, indexDigest);
    const sbom = await pushReferrer(upstream.host, path, amdDigest, { artifactType: "application/spdx+json", payload: randomBytes(700) });
    const run = await runAction(
      { images: `${upProxy.host}/${path}:multi`, mirrors: `${mirrorProxy.host}/mirror`, mode: "mirror" },
      { env: engine.env },
    );
    expect(run.results[0]).toMatchObject({ status: "copied", digest: indexDigest });
    const target = flat("mirror", path);
    expect(await manifestDigest(mirror.host, target, sig.tag)).toBe(sig.digest);
    expect(await manifestDigest(mirror.host, target, sbom.digest)).toBe(sbom.digest);
    expect(await manifestDigest(mirror.host, target, sbom.fallback)).toBe(await manifestDigest(upstream.host, path, sbom.fallback));
  });

  it("a copy that takes longer than the progress interval reports bytes, rate and what is left", async () => {
    const path = uniqueName("slow");
    await seedImage(engine, [`${upstream.host}/${path}:1`], { layers: 2, layerBytes: 3_000_000 });
    // Two 3 MB layers at once, 400 KB/s each: about 7.5 s, past the 5 s interval.
    upProxy.addRule({ method: "GET", path: /\/blobs\//, fault: { kind: "throttle", bytesPerSecond: 400_000 } });
    const run = await runAction(
      { images: `${upProxy.host}/${path}:1`, mirrors: `${mirrorProxy.host}/mirror`, mode: "mirror" },
      { env: engine.env },
    );
    expect(run.results[0]?.status).toBe("copied");
    expect(run.stdout).toMatch(
      new RegExp(
        `copying ${upProxy.host}/${path}:1 → ${mirrorProxy.host}/mirror/[\\w-]+:1: [\\d.]+ [KM]B of 6\\.0 MB, [\\d.]+ KB/s, [\\d.]+ [KM]B left \\(about \\d+ s\\), \\d+ s`,
      ),
    );
  });
});
