// Issue 21 §2, §3 and §6 (first bullet), end to end: a hostile registry shows prepull forged
// manifest bodies and announced digests while the engine gets the registry's real content
// (FaultProxy.forge: prepull's requests only), credentials go only where they belong, and an
// error answer that never ends is bounded. HTTPS registries with token auth and an HTTPS token
// realm, as GHCR and Docker Hub are, reached by names and verified as a runner verifies
// ghcr.io's certificate (not loopback addresses, whose certificates prepull takes as the engine
// does); the user's login stored in the engine's config.
import { rmSync } from "node:fs";
import { dirname } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Fault } from "../world/fault-proxy.js";
import {
  dockerConfig,
  FaultProxy,
  runAction,
  seedImage,
  startRegistry,
  TokenServer,
  trustBundle,
  uniqueName,
  useWorld,
  worldUnavailable,
} from "../world/index.js";
import type { Registry } from "../world/registry.js";

const USER = { alice: "s3cret-password" };
const MIRROR_NAME = "ghcr.trust.prepull.test";
const configDir = (hosts: readonly string[]) => dockerConfig(Object.fromEntries(hosts.map((h) => [h, "alice:s3cret-password"])));

describe.skipIf(worldUnavailable !== "")("trust that a hostile registry cannot forge, end to end", () => {
  /** HTTPS in front of each registry (`upstream`, `mirror`): what prepull and the engine talk to */
  const {
    engine,
    trust,
    registry: { upstream: upstreamRegistry, mirror: mirrorRegistry },
    proxy: { upstream, mirror },
  } = useWorld({
    registries: {
      upstream: { tokenAuth: true, proxy: true, proxyTls: true, hostName: "hub.trust.prepull.test" },
      mirror: { tokenAuth: true, proxy: true, proxyTls: true, hostName: MIRROR_NAME },
    },
    tokens: { service: "trust", policy: { users: USER }, tls: true, hostName: "auth.trust.prepull.test" },
    cleanEngine: true,
  });
  /** what the action trusts: the world's certificates, and those of the parts a test starts itself */
  let trusted = () => trust();
  /** the user's logins: for the registries (seeding) and for the proxies (the action) */
  let seedConfig: string;
  let userConfig: string;

  beforeAll(() => {
    seedConfig = configDir([upstreamRegistry.host, mirrorRegistry.host]);
    userConfig = configDir([upstream.host, mirror.host]);
  });

  const run = (inputs: Record<string, string>, timeoutMs?: number) =>
    runAction(
      { backoff: "0.1", mirrors: `${mirror.host}/mirror`, ...inputs },
      { env: { ...engine.env, DOCKER_CONFIG: userConfig, NODE_EXTRA_CA_CERTS: trusted() }, ...(timeoutMs && { timeoutMs }) },
    );

  /**
   * Upstream `path:1` (and `path:other`, another image); the mirror's `mirror/<flat>:1` holds
   * upstream's image, another image, or nothing, and `:other` the other image.
   */
  const seed = async (name: string, mirrorHolds: "same" | "other" | "none") => {
    const path = uniqueName(name);
    const flat = `mirror/${path.replaceAll("/", "-")}`;
    const push = { dockerConfig: seedConfig };
    const image = await seedImage(
      engine,
      [`${upstreamRegistry.host}/${path}:1`, ...(mirrorHolds === "same" ? [`${mirrorRegistry.host}/${flat}:1`] : [])],
      push,
    );
    const other = await seedImage(
      engine,
      [
        `${upstreamRegistry.host}/${path}:other`,
        `${mirrorRegistry.host}/${flat}:other`,
        ...(mirrorHolds === "other" ? [`${mirrorRegistry.host}/${flat}:1`] : []),
      ],
      push,
    );
    return {
      up: `${upstream.host}/${path}:1`,
      id: image.id,
      digest: image.digests[`${upstreamRegistry.host}/${path}:1`] ?? "",
      otherId: other.id,
      otherDigest: other.digests[`${upstreamRegistry.host}/${path}:other`] ?? "",
    };
  };

  describe("§2 verification a hostile mirror cannot forge", () => {
    it("a mirror body that names upstream's image config under the mirror's own digest is refused; upstream's image lands", async () => {
      const { up, id, otherId } = await seed("forged-body", "other");
      // prepull is shown a manifest naming upstream's config; the engine gets the mirror's real one.
      mirror.forge({ method: "GET", path: /\/manifests\/sha256:/, body: (real) => Buffer.from(real.toString().replaceAll(otherId, id)) });
      const result = await run({ images: up });
      expect(result.results[0], result.stdout).toMatchObject({ status: "pulled", source: "upstream" });
      expect(result.results[0]?.reason).toMatch(/hashes to sha256:[a-f0-9]{64}: a forged or corrupt answer/);
      expect(mirror.forgedCount).toBeGreaterThan(0);
      expect(await engine.imageId(up)).toBe(id);
    });

    it("an upstream body forged to name the mirror's image config does not make the mirror trusted; upstream, forged, is skipped too", async () => {
      const { up, id, otherId } = await seed("forged-upstream", "other");
      upstream.forge({ method: "GET", path: /\/manifests\/sha256:/, body: (real) => Buffer.from(real.toString().replaceAll(id, otherId)) });
      const result = await run({ images: up });
      expect(result.results[0], result.stdout).toMatchObject({ status: "failed", source: "none" });
      expect(result.results[0]?.reason).toMatch(/mirror .*the comparison could not be finished .*a forged or corrupt answer/);
      expect(result.results[0]?.reason).toMatch(/upstream .*a forged or corrupt answer/);
      expect(await engine.imageId(up)).toBeUndefined();
      expect(await engine.imageId(otherId)).toBeUndefined();
    });

    it("a pin is pulled by the pin from a mirror that announces another digest for it (verify: none): skipped, upstream serves the pin", async () => {
      const { up, id, digest, otherDigest } = await seed("pin-mirror", "same");
      mirror.forge({ method: "HEAD", path: /\/manifests\//, digest: otherDigest });
      const result = await run({ images: `${up}@${digest}`, verify: "none" });
      expect(result.results[0], result.stdout).toMatchObject({ status: "pulled", source: "upstream", digest });
      expect(result.results[0]?.ref).toBe(`${up}@${digest}`);
      expect(result.results[0]?.reason).toContain(`announced ${otherDigest} for ${digest}`);
      expect(await engine.imageId(up)).toBe(id);
    });

    it("a pin is pulled by the pin where upstream announces another digest: from a mirror that holds it, and never by upstream's word", async () => {
      const { up, id, digest, otherDigest, otherId } = await seed("pin-upstream", "same");
      upstream.forge({ method: "HEAD", path: /\/manifests\//, digest: otherDigest });
      const served = await run({ images: `${up}@${digest}` });
      expect(served.results[0], served.stdout).toMatchObject({ status: "pulled", source: "mirror", digest });
      expect(served.results[0]?.ref).toMatch(new RegExp(`@${digest}$`));
      expect(await engine.imageId(up)).toBe(id);

      await engine.removeAllImages();
      const alone = await run({ images: `${up}@${digest}`, mirrors: "" });
      expect(alone.results[0], alone.stdout).toMatchObject({ status: "failed" });
      expect(alone.results[0]?.reason).toContain(`announced ${otherDigest} for ${digest}`);
      expect(await engine.imageId(up)).toBeUndefined();
      expect(await engine.imageId(otherId)).toBeUndefined();
    });

    it("mirror mode copies a pin by the pin: an upstream that announces another digest for it is not copied from", async () => {
      const { up, digest, otherDigest } = await seed("pin-copy", "none");
      upstream.forge({ method: "HEAD", path: /\/manifests\//, digest: otherDigest });
      const result = await run({ images: `${up}@${digest}`, mode: "mirror" });
      expect(result.results[0], result.stdout).toMatchObject({ status: "failed" });
      expect(result.results[0]?.reason).toContain(`announced ${otherDigest} for ${digest}`);
      // Nothing was pushed to the mirror.
      expect(mirror.count("PUT", /\/manifests\//)).toBe(0);
    });

    it.each<[string, Fault, RegExp]>([
      [
        "Hub's 429 toomanyrequests",
        { kind: "status", status: 429, body: '{"errors":[{"code":"TOOMANYREQUESTS","message":"pull rate limit"}]}' },
        /HTTP 429/,
      ],
      ["a 500 on every try", { kind: "status", status: 500, body: '{"errors":[{"code":"UNKNOWN","message":"boom"}]}' }, /HTTP 500/],
      ["a manifest over 4 MiB", { kind: "endless" }, /the answer is over 4 MiB/],
    ])(
      "upstream's HEAD answered, its manifest GET did not (%s): the differing mirror is skipped, upstream's image lands",
      async (_, fault, why) => {
        const { up, id } = await seed("fail-closed", "other");
        upstream.addRule({ method: "GET", agent: /^prepull/, path: /\/manifests\//, fault });
        const result = await run({ images: up, attempts: "2" });
        expect(result.results[0], result.stdout).toMatchObject({ status: "pulled", source: "upstream" });
        expect(result.results[0]?.reason).toMatch(/the comparison could not be finished \(upstream's manifest could not be read: /);
        expect(result.results[0]?.reason).toMatch(why);
        expect(await engine.imageId(up)).toBe(id);
      },
    );
  });

  describe("§3 credentials go only where they belong", () => {
    /**
     * Another registry with its own HTTPS token server that records what it was sent, in front of
     * it a proxy on another host (`elsewhere`) and one on another port of the mirror's host (`sameHost`).
     */
    let elsewhereTokens: TokenServer;
    let elsewhereRegistry: Registry;
    let elsewhere: FaultProxy;
    let sameHost: FaultProxy;
    let bundle: string | undefined;
    beforeAll(async () => {
      elsewhereTokens = await TokenServer.start("elsewhere", { isPrivate: () => false, users: {} }, { tls: true });
      elsewhereRegistry = await startRegistry({ tokenAuth: elsewhereTokens.registryConfig() });
      elsewhere = await FaultProxy.start(elsewhereRegistry.host, { tls: true });
      sameHost = await FaultProxy.start(elsewhereRegistry.host, { tls: true, hostName: MIRROR_NAME });
      bundle = trustBundle(trust(), sameHost.certFile);
      trusted = () => bundle ?? trust();
    });
    afterAll(async () => {
      await Promise.all([elsewhere?.stop(), sameHost?.stop()]);
      await Promise.all([elsewhereRegistry?.stop(), elsewhereTokens?.stop()]);
      if (bundle) rmSync(dirname(bundle), { recursive: true, force: true });
      trusted = () => trust();
    });

    it("a redirect to another host's 401 challenge does not get the registry's credentials", async () => {
      const { up, id } = await seed("redirected", "same");
      elsewhereTokens.requests.length = 0;
      mirror.addRule({
        agent: /^prepull/,
        path: /\/manifests\//,
        fault: { kind: "redirect", location: `https://${elsewhere.host}/v2/somewhere/manifests/1` },
      });
      const result = await run({ images: up });
      expect(elsewhere.count(undefined, /\/manifests\//), "the redirect was followed").toBeGreaterThan(0);
      expect(elsewhereTokens.requests).toEqual([]);
      expect(result.results[0], result.stdout).toMatchObject({ status: "pulled", source: "upstream" });
      expect(await engine.imageId(up)).toBe(id);
    });

    it("a redirect to another port of the same host goes without the token the request carried", async () => {
      const { up, id } = await seed("redirected-token", "same");
      elsewhereTokens.requests.length = 0;
      sameHost.resetLog();
      // The HEAD gets in (its token is cached); the GET of the manifest, which carries it, is sent elsewhere.
      mirror.addRule({
        method: "GET",
        agent: /^prepull/,
        path: /\/manifests\/sha256:/,
        fault: { kind: "redirect", location: `https://${sameHost.host}/v2/somewhere/manifests/1` },
      });
      const result = await run({ images: up });
      const redirected = mirror.requests.filter((r) => r.method === "GET" && r.status === 307);
      expect(redirected.length, "a GET with the mirror's token was redirected").toBeGreaterThan(0);
      expect(redirected.every((r) => String(r.headers.authorization).startsWith("Bearer "))).toBe(true);
      const arrived = sameHost.requests.filter((r) => r.method === "GET");
      expect(arrived.length).toBeGreaterThan(0);
      expect(arrived.map((r) => r.headers.authorization)).toEqual(arrived.map(() => undefined));
      expect(elsewhereTokens.requests).toEqual([]);
      expect(result.results[0], result.stdout).toMatchObject({ status: "pulled", source: "mirror" });
      expect(await engine.imageId(up)).toBe(id);
    });

    it("a TLS registry whose token realm is plain HTTP gets anonymous requests there, never the user's login", async () => {
      const plainTokens = await TokenServer.start("plain-realm", { isPrivate: () => false, users: USER });
      const registry = await startRegistry({ tokenAuth: plainTokens.registryConfig() });
      const front = await FaultProxy.start(registry.host, { tls: true });
      try {
        const path = uniqueName("plain-realm");
        const { id } = await seedImage(engine, [`${registry.host}/${path}:1`], { dockerConfig: configDir([registry.host]) });
        plainTokens.requests.length = 0;
        const up = `${front.host}/${path}:1`;
        const result = await runAction({ images: up, backoff: "0.1" }, { env: { ...engine.env, DOCKER_CONFIG: configDir([front.host]) } });
        expect(result.results[0], result.stdout).toMatchObject({ status: "pulled", source: "upstream" });
        expect(await engine.imageId(up)).toBe(id);
        // prepull's token requests (the engine's own are the user's engine's business) carried no user: neither alice nor the job token's.
        const ours = plainTokens.requests.filter((r) => r.agent.startsWith("prepull"));
        expect(ours.length).toBeGreaterThan(0);
        expect(ours.map((r) => r.user)).toEqual(ours.map(() => undefined));
      } finally {
        await front.stop();
        await Promise.all([registry.stop(), plainTokens.stop()]);
      }
    });

    it("mirror mode: an upload Location on another host gets no Authorization", async () => {
      const { up } = await seed("upload-elsewhere", "none");
      elsewhere.resetLog();
      mirror.addRule({
        method: "POST",
        path: /\/blobs\/uploads\//,
        fault: { kind: "status", status: 202, headers: { location: `https://${elsewhere.host}/v2/upload/here?_state=x` } },
      });
      const result = await run({ images: up, mode: "mirror", attempts: "1" });
      expect(result.results[0], result.stdout).toMatchObject({ status: "failed" });
      const puts = elsewhere.requests.filter((r) => r.method === "PUT");
      expect(puts.length, "the upload went to the other host").toBeGreaterThan(0);
      expect(puts.map((r) => r.headers.authorization)).toEqual(puts.map(() => undefined));
      // The registry's own requests did carry its token: the one withheld was one it had.
      expect(mirror.requests.some((r) => r.method === "POST" && String(r.headers.authorization).startsWith("Bearer "))).toBe(true);
    });
  });

  describe("§6 bounded everywhere", () => {
    it("mirror mode: a blob GET's 500 whose body never ends is read bounded, and the copy settles", async () => {
      const { up } = await seed("endless-500", "none");
      upstream.addRule({ method: "GET", agent: /^prepull/, path: /\/blobs\//, fault: { kind: "endless", status: 500 } });
      const result = await run({ images: up, mode: "mirror", attempts: "2" }, 90_000);
      expect(result.results[0], result.stdout).toMatchObject({ status: "failed" });
      expect(result.results[0]?.reason).toMatch(/GET blob sha256:[a-f0-9]{64}: HTTP 500/);
      expect(result.seconds).toBeLessThan(60);
      // Two tries, each read to its 1 MiB limit (and what the socket buffers held).
      expect(upstream.endlessBytes).toBeLessThan(64 * 2 ** 20);
    });
  });
});
