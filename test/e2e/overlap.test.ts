// Issue 24, end to end: the engine's pull of a mirror starts as soon as the mirror's HEAD names
// its digest, while upstream's verification runs; only a verified image is tagged under the
// upstream name, and what a refused mirror brought is removed. Registries speak TLS with token
// auth (as GHCR and Docker Hub); upstream's answers to prepull are held back, so that the
// engine's pull of the mirror is well under way (here: done) before the verdict is in.
import { rmSync } from "node:fs";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  dockerConfig,
  podmanMissing,
  runAction,
  seedImage,
  uniqueName,
  usePodmanStore,
  useWorld,
  worldUnavailable,
} from "../world/index.js";

const ENGINE = /^docker\//;
/** prepull's own manifest requests to upstream wait this long: the verdict comes after the pull */
const HOLD_MS = 2500;

describe.skipIf(worldUnavailable !== "")("a mirror's pull overlapped with its verification (issue 24)", () => {
  // Registries behind TLS proxies, token auth with an HTTPS realm (as Docker Hub's and GHCR's);
  // `private/*` needs alice's login.
  const {
    engine,
    tokens,
    registry: { hub, ghcr },
    proxy: { hub: hubProxy, ghcr: ghcrProxy },
  } = useWorld({
    registries: { hub: { tokenAuth: true, proxy: true, proxyTls: true }, ghcr: { tokenAuth: true, proxy: true, proxyTls: true } },
    tokens: { service: "overlap", tls: true, policy: { users: { alice: "s3cret" } } },
    cleanEngine: true,
  });
  /** the seeding's login (the registries directly) */
  let seedConfig: string;
  /** the engine user's own docker config: alice's login for the mirror, as `docker login` stores it */
  let loginConfig: string;

  beforeAll(() => {
    seedConfig = dockerConfig({ [hub.host]: "alice:s3cret", [ghcr.host]: "alice:s3cret" });
    loginConfig = dockerConfig({ [ghcrProxy.host]: "alice:s3cret" });
  });
  afterAll(() => {
    for (const dir of [seedConfig, loginConfig]) if (dir) rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    hubProxy.addRule({ agent: /^prepull/, path: /\/manifests\//, fault: { kind: "delay", ms: HOLD_MS } });
  });

  /** Upstream `hub/path:1`; the mirror `ghcr/mirror/<flat>:1` with the same image or another one. */
  const seed = async (name: string, mirror: "same" | "other", otherBytes?: number, prefix = "mirror") => {
    const path = uniqueName(name);
    const mirrorPath = `${prefix}/${path.replaceAll("/", "-")}`;
    const pushUp = `${hub.host}/${path}:1`;
    const pushMirror = `${ghcr.host}/${mirrorPath}:1`;
    const upstream = await seedImage(engine, mirror === "same" ? [pushUp, pushMirror] : [pushUp], { dockerConfig: seedConfig });
    const other =
      mirror === "other"
        ? await seedImage(engine, [pushMirror], { dockerConfig: seedConfig, ...(otherBytes && { layerBytes: otherBytes }) })
        : undefined;
    return {
      up: `${hubProxy.host}/${path}:1`,
      mirrorRepo: `${ghcrProxy.host}/${mirrorPath}`,
      id: upstream.id,
      upDigest: upstream.digests[pushUp] ?? "",
      other: other && { id: other.id, digest: other.digests[pushMirror] ?? "" },
    };
  };
  /** The engine's `tag` events since `since` (unix seconds) under the names a run uses, as `image-id name`. */
  const tagEvents = async (since: number) => {
    const out = await engine.ok([
      "events",
      "--since",
      String(since),
      "--until",
      String(Math.ceil(Date.now() / 1000) + 1),
      "--filter",
      "event=tag",
      "--format",
      "{{.Actor.ID}} {{.Actor.Attributes.name}}",
    ]);
    // The seeding's own tags name the registries directly; the run's name them through the proxies.
    return out.split("\n").filter((line) => [hubProxy.host, ghcrProxy.host].some((host) => line.includes(` ${host}/`)));
  };

  /**
   * Runs the action and watches the engine meanwhile: the first moment `mirrorRef` is here,
   * whether upstream had answered any of prepull's held-back requests yet, and what the
   * upstream name was then.
   */
  const raced = async (inputs: Record<string, string>, mirrorRef: string, up: string) => {
    const running = runAction(inputs, { env: engine.env });
    let finished = false;
    running.finally(() => {
      finished = true;
    });
    let seen: { upstreamAnswered: boolean; upstreamName: string | undefined } | undefined;
    while (!finished && !seen) {
      if ((await engine.imageId(mirrorRef)) !== undefined) {
        const answered = hubProxy.requests.some((r) => /^prepull/.test(String(r.headers["user-agent"])) && r.status === 200);
        seen = { upstreamAnswered: answered, upstreamName: await engine.imageId(up) };
      } else await new Promise((r) => setTimeout(r, 50));
    }
    return { run: await running, seen };
  };

  it("a mirror whose content fails verification, raced against the pull: nothing of it under the upstream name, no mirror tag, its image removed; upstream's lands", async () => {
    const { up, mirrorRepo, id, upDigest, other } = await seed("refused", "other");
    if (!other) throw new Error("no other image");
    expect(other.id).not.toBe(id); // the mirror's config (image ID) differs as well as its digest
    const since = Math.floor(Date.now() / 1000) - 1;
    const { run, seen } = await raced({ images: up, mirrors: `${ghcrProxy.host}/mirror` }, `${mirrorRepo}@${other.digest}`, up);
    expect(run.results[0]).toMatchObject({ status: "pulled", source: "upstream", digest: upDigest });
    // The mirror's image was here (by its digest, under no tag) before upstream had said anything.
    expect(seen).toEqual({ upstreamAnswered: false, upstreamName: undefined });
    expect(run.stdout).toMatch(new RegExp(`mirror digest ${other.digest} differs from upstream ${upDigest}`));
    // The race was run: the engine fetched the mirror's manifest by its digest and its blobs
    // (a pull that waited for the verdict would have asked the mirror for nothing).
    const engineRequests = ghcrProxy.requests.filter((r) => ENGINE.test(String(r.headers["user-agent"])) && r.status === 200);
    expect(engineRequests.some((r) => r.method === "GET" && r.path.endsWith(`/manifests/${other.digest}`))).toBe(true);
    expect(engineRequests.some((r) => r.method === "GET" && r.path.includes("/blobs/"))).toBe(true);
    expect(run.stdout).toContain(`removed ${mirrorRepo}@${other.digest}, which the pull started before verification brought`);
    // Upstream's image under the upstream name; nothing of the mirror's left, by any name.
    expect(await engine.imageId(up)).toBe(id);
    expect(await engine.imageId(`${mirrorRepo}@${other.digest}`)).toBeUndefined();
    expect(await engine.imageId(`${mirrorRepo}:1`)).toBeUndefined();
    expect(await engine.imageId(other.id)).toBeUndefined();
    expect((await engine.ok(["image", "ls", "-aq", "--no-trunc"])).split("\n")).toEqual([id]);
    // Nor was it ever tagged under the upstream name, even for a moment: the engine's own events.
    const tags = await tagEvents(since);
    expect(tags.filter((line) => line.startsWith(other.id))).toEqual([]);
    expect(tags.filter((line) => line.endsWith(up))).toEqual([`${id} ${up}`]);
  });

  it("a refused mirror whose digest reference the engine held before the run: it stays (the user's), upstream's lands", async () => {
    const { up, mirrorRepo, id, upDigest, other } = await seed("heldbefore", "other");
    if (!other) throw new Error("no other image");
    // The user had pulled the mirror's image by its digest before the step ran.
    await engine.ok(["pull", `${mirrorRepo}@${other.digest}`]);
    const run = await runAction({ images: up, mirrors: `${ghcrProxy.host}/mirror` }, { env: engine.env });
    expect(run.results[0]).toMatchObject({ status: "pulled", source: "upstream", digest: upDigest });
    expect(run.stdout).toMatch(new RegExp(`mirror digest ${other.digest} differs from upstream ${upDigest}`));
    expect(run.stdout).not.toContain(`removed ${mirrorRepo}@${other.digest}`);
    expect(await engine.imageId(`${mirrorRepo}@${other.digest}`)).toBe(other.id);
    expect(await engine.imageId(up)).toBe(id);
  });

  it("a refused mirror whose pull is still under way when the verdict comes: the pull is stopped, nothing of it stays, upstream's lands", async () => {
    const { up, mirrorRepo, id, upDigest, other } = await seed("stopped", "other", 1_500_000);
    if (!other) throw new Error("no other image");
    // The mirror's 1.5 MB of blobs come at 100 kB/s: its pull would take fifteen seconds.
    ghcrProxy.addRule({ method: "GET", agent: ENGINE, path: /\/blobs\//, fault: { kind: "throttle", bytesPerSecond: 100_000 } });
    hubProxy.clearRules();
    hubProxy.addRule({ agent: /^prepull/, path: /\/manifests\//, fault: { kind: "delay", ms: 300 } });
    const since = Math.floor(Date.now() / 1000) - 1;
    const run = await runAction({ images: up, mirrors: `${ghcrProxy.host}/mirror` }, { env: engine.env });
    expect(run.results[0]).toMatchObject({ status: "pulled", source: "upstream", digest: upDigest });
    expect(run.stdout).toContain(`pulling ${mirrorRepo}:1@${other.digest} while its verification runs`);
    // The engine had begun on the mirror's blobs, and was stopped well before it could finish.
    expect(ghcrProxy.requests.some((r) => ENGINE.test(String(r.headers["user-agent"])) && r.path.includes("/blobs/"))).toBe(true);
    // Stopped, not finished: the mirror sent less than its one layer's 1.5 MB (random, so its gzip is no smaller).
    expect(ghcrProxy.bytes.down).toBeLessThan(1_500_000);
    expect(await engine.imageId(up)).toBe(id);
    expect(await engine.imageId(`${mirrorRepo}@${other.digest}`)).toBeUndefined();
    expect(await engine.imageId(other.id)).toBeUndefined();
    expect((await tagEvents(since)).filter((line) => line.startsWith(other.id))).toEqual([]);
    // Later too (an engine that finished the stopped pull after its client left would show here).
    await new Promise((r) => setTimeout(r, 1000));
    expect((await engine.ok(["image", "ls", "-aq", "--no-trunc"])).split("\n")).toEqual([id]);
    expect(ghcrProxy.bytes.down).toBeLessThan(1_500_000);
  });

  it("a verified mirror hit: pulled while upstream was asked, tagged under the upstream name once verified, no mirror tag", async () => {
    const { up, mirrorRepo, id, upDigest } = await seed("verified", "same");
    const since = Math.floor(Date.now() / 1000) - 1;
    const { run, seen } = await raced({ images: up, mirrors: `${ghcrProxy.host}/mirror` }, `${mirrorRepo}@${upDigest}`, up);
    expect(run.results[0]).toMatchObject({ status: "pulled", source: "mirror", digest: upDigest, ref: `${mirrorRepo}:1@${upDigest}` });
    // Pulled before upstream answered; not under the upstream name until verified.
    expect(seen).toEqual({ upstreamAnswered: false, upstreamName: undefined });
    expect(await engine.imageId(up)).toBe(id);
    expect(await engine.imageId(`${mirrorRepo}:1`)).toBeUndefined();
    expect(await tagEvents(since)).toEqual([`${id} ${up}`]);
  });

  it("the disk guard's size read is off a hit's path under on-failure: warn, and on it under on-failure: fail (nothing pulled before it judged)", async () => {
    const { up, mirrorRepo, upDigest } = await seed("sizeread", "same");
    // The size read: prepull's GET of the mirror's manifest by digest, held back.
    const sizeRead = /\/manifests\/sha256:/;
    ghcrProxy.addRule({ method: "GET", agent: /^prepull/, path: sizeRead, fault: { kind: "delay", ms: HOLD_MS } });
    const sizeAnswered = () =>
      ghcrProxy.requests.some(
        (r) => /^prepull/.test(String(r.headers["user-agent"])) && r.method === "GET" && sizeRead.test(r.path) && r.status !== undefined,
      );
    try {
      for (const [onFailure, answeredFirst] of [
        ["warn", false],
        ["fail", true],
      ] as const) {
        await engine.removeAllImages();
        ghcrProxy.resetLog();
        const running = runAction({ images: up, mirrors: `${ghcrProxy.host}/mirror`, "on-failure": onFailure }, { env: engine.env });
        let finished = false;
        running.finally(() => {
          finished = true;
        });
        let answeredWhenPulled: boolean | undefined;
        while (!finished && answeredWhenPulled === undefined) {
          if ((await engine.imageId(`${mirrorRepo}@${upDigest}`)) !== undefined) answeredWhenPulled = sizeAnswered();
          else await new Promise((r) => setTimeout(r, 50));
        }
        const run = await running;
        expect(run.results[0]).toMatchObject({ status: "pulled", source: "mirror", digest: upDigest });
        expect({ onFailure, answeredWhenPulled }).toEqual({ onFailure, answeredWhenPulled: answeredFirst });
        expect(run.stdout).toMatch(/disk space: needs about/);
      }
    } finally {
      ghcrProxy.clearRules();
    }
  });

  it("two images on one mirror digest, one verified and one refused: the refusal leaves the verified image's pull alone; both land", async () => {
    // A => M/shared:1 (M holds A's content), B => M/shared:1 (B's upstream differs). B's verdict
    // (1.5 s) comes while A's verified pull waits for its own (4 s): B's refusal must not remove
    // the `M/shared@X` A is about to tag from.
    const [pathA, pathB, shared] = [uniqueName("shared-a"), uniqueName("shared-b"), `mirror/${uniqueName("shared").replaceAll("/", "-")}`];
    const [pushA, pushB, pushShared] = [`${hub.host}/${pathA}:1`, `${hub.host}/${pathB}:1`, `${ghcr.host}/${shared}:1`];
    const a = await seedImage(engine, [pushA, pushShared], { dockerConfig: seedConfig });
    const b = await seedImage(engine, [pushB], { dockerConfig: seedConfig });
    const digest = a.digests[pushShared] ?? "";
    const [upA, upB, mirror] = [`${hubProxy.host}/${pathA}:1`, `${hubProxy.host}/${pathB}:1`, `${ghcrProxy.host}/${shared}`];
    hubProxy.clearRules();
    hubProxy.addRule({ agent: /^prepull/, path: new RegExp(`/${pathA}/manifests/`), fault: { kind: "delay", ms: 4000 } });
    hubProxy.addRule({ agent: /^prepull/, path: new RegExp(`/${pathB}/manifests/`), fault: { kind: "delay", ms: 1500 } });
    const run = await runAction({ images: `${upA} => ${mirror}:1\n${upB} => ${mirror}:1` }, { env: engine.env });
    const byImage = new Map(run.results.map((r) => [r.image, r]));
    expect(byImage.get(upA)).toMatchObject({ status: "pulled", source: "mirror", digest, ref: `${mirror}:1@${digest}` });
    expect(byImage.get(upB)).toMatchObject({ status: "pulled", source: "upstream", digest: b.digests[pushB] });
    expect(await engine.imageId(upA)).toBe(a.id);
    expect(await engine.imageId(upB)).toBe(b.id);
    // The verified pull's digest reference stays (as every verified mirror pull's does).
    expect(await engine.imageId(`${mirror}@${digest}`)).toBe(a.id);
    expect(run.stdout).not.toContain(`removed ${mirror}@${digest}`);
  });

  describe.skipIf(podmanMissing !== "" && process.env.CI !== "true")("engine: podman", () => {
    const { env, podman } = usePodmanStore("prepull-overlap-podman-");

    it("a refused mirror's image, pulled while verification ran, is gone from podman's store (by its ID, not only its name); upstream's lands", async () => {
      const { up, mirrorRepo, id, upDigest, other } = await seed("refused-podman", "other");
      if (!other) throw new Error("no other image");
      const run = await runAction({ images: up, mirrors: `${ghcrProxy.host}/mirror`, engine: "podman" }, { env });
      expect(run.results[0], run.stdout).toMatchObject({ status: "pulled", source: "upstream", digest: upDigest });
      // podman pulled the mirror's image while upstream was held back.
      const engineGets = ghcrProxy.requests.filter((r) => r.method === "GET" && /podman|containers/i.test(String(r.headers["user-agent"])));
      expect(engineGets.some((r) => r.path.endsWith(`/manifests/${other.digest}`))).toBe(true);
      expect(run.stdout).toContain(`removed ${mirrorRepo}@${other.digest}, which the pull started before verification brought`);
      expect(run.stdout).toContain(`removed image ${other.id.replace(/^sha256:/, "")}`);
      const ids = (await podman(["image", "ls", "-aq", "--no-trunc"])).stdout.split("\n").filter(Boolean);
      expect(ids.map((i) => `sha256:${i.replace(/^sha256:/, "")}`)).toEqual([id]);
    });
  });

  /** The tokens the token server issued to the engine itself (its User-Agent), and to prepull. */
  const tokenAsks = (agent: RegExp) => tokens.requests.filter((r) => agent.test(r.agent) && r.status === 200);
  /** The bearer tokens the engine sent the mirror with. */
  const engineBearers = () =>
    ghcrProxy.requests
      .filter((r) => ENGINE.test(String(r.headers["user-agent"])))
      .map((r) => String(r.headers.authorization ?? ""))
      .filter((a) => a.startsWith("Bearer "))
      .map((a) => a.slice("Bearer ".length));

  it("a verified mirror hit: the engine pulls with the token prepull got for the mirror's repository, and asks the token server for none", async () => {
    const { up, mirrorRepo, id, upDigest } = await seed("handoff", "same");
    hubProxy.clearRules();
    tokens.requests.length = 0;
    tokens.issued.length = 0;
    const run = await runAction({ images: up, mirrors: `${ghcrProxy.host}/mirror` }, { env: engine.env });
    expect(run.results[0]).toMatchObject({ status: "pulled", source: "mirror", digest: upDigest, ref: `${mirrorRepo}:1@${upDigest}` });
    expect(await engine.imageId(up)).toBe(id);
    // No token dance of the engine's own: every token was asked by prepull.
    expect(tokenAsks(ENGINE)).toEqual([]);
    const mirrorScope = `repository:${mirrorRepo.slice(ghcrProxy.host.length + 1)}:pull`;
    expect(tokenAsks(/^prepull/).some((r) => r.scope.includes(mirrorScope))).toBe(true);
    // The engine's manifest and blob requests carried a token prepull was issued; none is printed.
    const bearers = engineBearers();
    expect(bearers.length).toBeGreaterThan(0);
    for (const bearer of bearers) expect(tokens.issued).toContain(bearer);
    for (const token of tokens.issued) expect(run.stdout).not.toContain(token);
  });

  /** The mirror answers the engine's next manifest request 401 with its challenge (a handed token expired); the token logs start afresh. */
  const refuseEnginesTokenOnce = () => {
    ghcrProxy.refuseEngineToken(tokens);
    tokens.requests.length = 0;
    tokens.issued.length = 0;
  };

  it("a handed token the mirror refuses: pulled again with the engine's own token dance, the mirror's image lands", async () => {
    const { up, mirrorRepo, id, upDigest } = await seed("handoff-refused", "same");
    hubProxy.clearRules();
    // The engine's first manifest request (with the handed token) is refused, as an expired token would be.
    refuseEnginesTokenOnce();
    const run = await runAction({ images: up, mirrors: `${ghcrProxy.host}/mirror` }, { env: engine.env });
    expect(run.results[0]).toMatchObject({ status: "pulled", source: "mirror", digest: upDigest, ref: `${mirrorRepo}:1@${upDigest}` });
    expect(await engine.imageId(up)).toBe(id);
    expect(run.stdout).toContain("the engine was refused with the token prepull handed it");
    // The refused request carried prepull's token; the second pull asked for a token of its own.
    const refused = ghcrProxy.requests.find((r) => r.fault === "status");
    const prepullTokens = tokens.issued.slice();
    expect(String(refused?.headers.authorization).slice("Bearer ".length)).toSatisfy((t: string) => prepullTokens.includes(t));
    expect(tokenAsks(ENGINE).length).toBeGreaterThan(0);
    for (const token of tokens.issued) expect(run.stdout).not.toContain(token);
  });
  it("a private mirror behind the login in the engine user's docker config: probed and pulled with it; a refused handed token, pulled again with the login (the config's X-Registry-Auth)", async () => {
    const { up, mirrorRepo, id, upDigest } = await seed("private", "same", undefined, "private");
    hubProxy.clearRules();
    // The handed token refused once: the engine's second pull carries the config's login, and its own token dance spends it.
    refuseEnginesTokenOnce();
    const mirrorScope = `repository:${mirrorRepo.slice(ghcrProxy.host.length + 1)}:pull`;
    const run = await runAction(
      { images: up, mirrors: `${ghcrProxy.host}/private` },
      { env: { ...engine.env, DOCKER_CONFIG: loginConfig } },
    );
    expect(run.results[0], run.stdout).toMatchObject({
      status: "pulled",
      source: "mirror",
      digest: upDigest,
      ref: `${mirrorRepo}:1@${upDigest}`,
    });
    expect(await engine.imageId(up)).toBe(id);
    expect(run.stdout).toContain("the engine was refused with the token prepull handed it");
    // prepull's probes logged in as alice; so did the engine, with the login its config holds (over the HTTPS realm).
    const asked = (agent: RegExp) => tokens.requests.filter((r) => agent.test(r.agent) && r.scope.includes(mirrorScope));
    expect(asked(/^prepull/).some((r) => r.user === "alice" && r.status === 200)).toBe(true);
    expect(
      asked(ENGINE)
        .filter((r) => r.status === 200)
        .map((r) => r.user),
    ).toEqual(["alice"]);
    expect(tokens.realm).toMatch(/^https:/);
    for (const token of tokens.issued) expect(run.stdout).not.toContain(token);
    expect(run.stdout).not.toContain("s3cret");
  });
});
