// Issue 10, end to end: where real runners differ from a kind test world. Every run here carries
// the job token (as `${{ github.token }}` always does); the engine is reached through a CLI
// context; a TLS registry sits beside plain-HTTP ones; credentials live in a credential helper;
// mirrors are made by `docker pull` + `tag` + `push` of BuildKit images.
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { type AddressInfo, connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { isAlive, readState } from "../../src/background.js";
import {
  ConnectProxy,
  FaultProxy,
  JOB_TOKEN,
  PACKAGES_TOKEN,
  runAction,
  seedImage,
  startRegistry,
  TokenServer,
  uniqueName,
  useWorld,
  worldUnavailable,
} from "../world/index.js";
import { pushBuildKitIndex } from "../world/oci.js";

describe.skipIf(worldUnavailable !== "")("real-runner differences, end to end", () => {
  const {
    engine,
    tokens,
    registry: {
      /** HTTPS, token auth: stands for Docker Hub or Quay */
      tlsHub,
      /** plain HTTP, no auth: a pull-through cache on the runner host */
      cache,
      /** plain HTTP, token auth, private/ needs credentials: stands for GHCR */
      ghcr,
      /** plain HTTP, no auth */
      plain,
    },
    proxy: { ghcr: ghcrProxy, plain: plainProxy },
  } = useWorld({
    registries: { tlsHub: { tokenAuth: true, tls: true }, cache: {}, ghcr: { tokenAuth: true, proxy: true }, plain: { proxy: true } },
    tokens: { policy: { users: { alice: "s3cret-password", "octo-runner": PACKAGES_TOKEN } } },
    cleanEngine: true,
  });
  let seedConfig: string;

  const configDir = (config: Record<string, unknown>) => {
    const dir = mkdtempSync(join(tmpdir(), "prepull-user-docker-"));
    writeFileSync(join(dir, "config.json"), JSON.stringify(config));
    return dir;
  };
  const basic = (pair: string) => ({ auth: Buffer.from(pair).toString("base64") });

  beforeAll(() => {
    seedConfig = configDir({ auths: { [tlsHub.host]: basic("alice:s3cret-password"), [ghcr.host]: basic("alice:s3cret-password") } });
  });

  describe("§1 the world is a runner's", () => {
    it("every step gets the job token and the runner's command files", async () => {
      const path = uniqueName("world");
      const up = `${plain.host}/${path}:1`;
      await seedImage(engine, [up]);
      const run = await runAction({ images: up }, { env: engine.env });
      expect(run.exitCode, run.stdout).toBe(0);
      expect(run.results[0]).toMatchObject({ status: "pulled" });
      // The token is masked (the runner hides it from then on) and appears nowhere else.
      expect(run.stdout.split("\n").filter((line) => line.includes(JOB_TOKEN))).toEqual([`::add-mask::${JOB_TOKEN}`]);
    });
  });

  describe("§2 the user's engine and credentials, untouched", () => {
    /** A config directory whose current context is the test engine; no DOCKER_HOST in the step. */
    const contextConfig = async (extra: Record<string, unknown> = {}) => {
      const dir = configDir(extra);
      await engine.ok(["--config", dir, "context", "create", "runner-engine", "--docker", `host=${engine.dockerHost}`]);
      await engine.ok(["--config", dir, "context", "use", "runner-engine"]);
      return dir;
    };

    /** A docker on PATH that notes each call's subcommand and config directory, then runs the real one. */
    const recordingDocker = () => {
      const bin = mkdtempSync(join(tmpdir(), "prepull-docker-wrapper-"));
      const realDocker = execFileSync("sh", ["-c", "command -v docker"], { encoding: "utf8" }).trim();
      writeFileSync(join(bin, "docker"), `#!/bin/sh\necho "$1 \${DOCKER_CONFIG:-unset}" >> "${bin}/calls"\nexec "${realDocker}" "$@"\n`);
      chmodSync(join(bin, "docker"), 0o755);
      const calls = () => (existsSync(join(bin, "calls")) ? readFileSync(join(bin, "calls"), "utf8").split("\n").filter(Boolean) : []);
      return { PATH: `${bin}:${process.env.PATH}`, calls, subcommands: () => calls().map((line) => line.split(" ")[0]) };
    };

    it("a CLI context selected by an earlier step is the engine prepull uses, with the job token and with a token that must reach the engine", async () => {
      const contextDir = await contextConfig();
      const userConfigBefore = readFileSync(join(contextDir, "config.json"), "utf8");
      const publicPath = uniqueName("ctx-public");
      const publicUp = `${plain.host}/${publicPath}:1`;
      const { id: publicId } = await seedImage(engine, [publicUp]);
      const env = { DOCKER_CONFIG: contextDir }; // no DOCKER_HOST: the context says where the engine is
      const publicRun = await runAction({ images: publicUp }, { env });
      expect(publicRun.exitCode, publicRun.stdout).toBe(0);
      expect(publicRun.results[0]).toMatchObject({ status: "pulled", source: "upstream" });
      expect(publicRun.stdout).not.toContain("not found");
      expect(await engine.imageId(publicUp)).toBe(publicId);

      // A private mirror that only github-token opens: the engine gets the token in a
      // temporary config, and still talks to the context's engine.
      const path = uniqueName("ctx-private");
      const up = `${plain.host}/${path}:1`;
      const { id } = await seedImage(engine, [up, `${ghcr.host}/private/${path.replaceAll("/", "-")}:1`], { dockerConfig: seedConfig });
      const run = await runAction({ images: up, mirrors: `${ghcr.host}/private`, "github-token": PACKAGES_TOKEN }, { env });
      expect(run.exitCode, run.stdout).toBe(0);
      expect(run.results[0]).toMatchObject({ status: "pulled", source: "mirror", reason: "" });
      expect(await engine.imageId(up)).toBe(id);
      // The user's own config is as it was.
      expect(readFileSync(join(contextDir, "config.json"), "utf8")).toBe(userConfigBefore);
    });

    it("a context with a unix socket: no CLI process at all; the engine check, inspect, pull, tag and info go over the engine's API", async () => {
      const contextDir = await contextConfig();
      const wrapper = recordingDocker();
      const path = uniqueName("api");
      const up = `${plain.host}/${path}:1`;
      const { id } = await seedImage(engine, [up, `${cache.host}/mirror/${path.replaceAll("/", "-")}:1`]);
      const env = { DOCKER_CONFIG: contextDir, PATH: wrapper.PATH }; // no DOCKER_HOST: the context names the socket
      const hit = await runAction({ images: up, mirrors: `${cache.host}/mirror` }, { env });
      expect(hit.exitCode, hit.stdout).toBe(0);
      expect(hit.results[0]).toMatchObject({ status: "pulled", source: "mirror", reason: "" });
      expect(await engine.imageId(up)).toBe(id);
      expect(hit.stdout).toMatch(/disk space: .*free/); // the engine's data root came from /info
      // No credential helper for the mirror: the pull too went over the API (issue 24).
      expect(wrapper.subcommands()).toEqual([]);
      // Present already: the engine is asked through its API alone, no CLI process at all.
      const present = await runAction({ images: up, mirrors: `${cache.host}/mirror` }, { env });
      expect(present.results[0]).toMatchObject({ status: "present" });
      expect(wrapper.subcommands()).toEqual([]);
    });

    it("an engine the API cannot reach (a tcp:// DOCKER_HOST) is driven through the CLI for every call", async () => {
      // The test engine listens on a unix socket only: a TCP port in front of it, as a remote engine.
      const socketPath = engine.dockerHost.replace(/^unix:\/\//, "");
      const forwarder = createServer((client) => {
        const upstream = connect(socketPath);
        client.pipe(upstream).pipe(client);
        client.on("error", () => upstream.destroy());
        upstream.on("error", () => client.destroy());
      });
      await new Promise<void>((resolve) => forwarder.listen(0, "127.0.0.1", resolve));
      try {
        const { port } = forwarder.address() as AddressInfo;
        const wrapper = recordingDocker();
        const path = uniqueName("tcp");
        const up = `${plain.host}/${path}:1`;
        const { id } = await seedImage(engine, [up, `${cache.host}/mirror/${path.replaceAll("/", "-")}:1`]);
        const env = { DOCKER_HOST: `tcp://127.0.0.1:${port}`, PATH: wrapper.PATH };
        const hit = await runAction({ images: up, mirrors: `${cache.host}/mirror` }, { env });
        expect(hit.exitCode, hit.stdout).toBe(0);
        expect(hit.results[0]).toMatchObject({ status: "pulled", source: "mirror", reason: "" });
        expect(await engine.imageId(up)).toBe(id);
        expect(hit.stdout).toMatch(/disk space: .*free/); // the data root came from `docker info`
        expect(new Set(wrapper.subcommands())).toEqual(new Set(["version", "image", "info", "pull", "tag"]));
        const inspects = () => wrapper.calls().filter((line) => line.startsWith("image ")).length;
        const before = inspects();
        const present = await runAction({ images: up, mirrors: `${cache.host}/mirror` }, { env });
        expect(present.results[0]).toMatchObject({ status: "present" });
        expect(inspects()).toBeGreaterThan(before); // found present by the CLI's inspect
      } finally {
        await new Promise((resolve) => forwarder.close(resolve));
      }
    });

    it("a public mirror takes the job token, as GHCR does, but anonymous access is enough: the token never reaches the engine", async () => {
      const path = uniqueName("job-public");
      const up = `${plain.host}/${path}:1`;
      const { id } = await seedImage(engine, [up, `${ghcr.host}/public/${path.replaceAll("/", "-")}:1`], { dockerConfig: seedConfig });
      const wrapper = recordingDocker();
      const run = await runAction({ images: up, mirrors: `${ghcr.host}/public` }, { env: { ...engine.env, PATH: wrapper.PATH } });
      expect(run.exitCode, run.stdout).toBe(0);
      expect(run.results[0]).toMatchObject({ status: "pulled", source: "mirror", reason: "" });
      expect(await engine.imageId(up)).toBe(id);
      // The world's token server takes the job token on this public repository, as GHCR does…
      const scope = `repository:public/${path.replaceAll("/", "-")}:pull`;
      const granted = await tokens.grant(scope, `octo-runner:${JOB_TOKEN}`);
      expect(granted.status).toBe(200);
      // …but prepull never sent it: anonymous access was enough.
      expect(tokens.requests.filter((r) => r.user === "octo-runner" && r.scope.includes(scope))).toHaveLength(1);
      // And the engine pulled over its API (no helper in the way, no CLI pull) with the anonymous
      // token prepull handed it: it asked the token server nothing, and no token request for the
      // mirror but the test's own carried a user.
      expect(wrapper.calls().filter((line) => line.startsWith("pull "))).toEqual([]);
      const asked = tokens.requests.filter((r) => r.scope.includes(scope) && r.user !== "octo-runner");
      expect(asked.length).toBeGreaterThan(0); // prepull's own anonymous probe
      expect(asked.filter((r) => r.user !== undefined)).toEqual([]);
      expect(asked.filter((r) => /^docker\//.test(r.agent))).toEqual([]);
    });

    it("a login kept by a credential helper (credsStore) opens a private mirror to the probes, as to the engine", async () => {
      const bin = mkdtempSync(join(tmpdir(), "prepull-helper-"));
      const calls = join(bin, "calls");
      // The credential helper protocol: `get` with the server on stdin, JSON on stdout.
      writeFileSync(
        join(bin, "docker-credential-prepulltest"),
        `#!/bin/sh
read -r server
echo "$1 $server" >> ${calls}
if [ "$1" = get ] && [ "$server" = "${ghcr.host}" ]; then
  printf '{"ServerURL":"%s","Username":"alice","Secret":"s3cret-password"}' "$server"
  exit 0
fi
echo "credentials not found in native keychain"
exit 1
`,
      );
      chmodSync(join(bin, "docker-credential-prepulltest"), 0o755);
      const path = uniqueName("helper");
      const up = `${plain.host}/${path}:1`;
      const { id } = await seedImage(engine, [up, `${ghcr.host}/private/${path.replaceAll("/", "-")}:1`], { dockerConfig: seedConfig });
      const userConfig = configDir({ credsStore: "prepulltest" });
      const run = await runAction(
        { images: up, mirrors: `${ghcr.host}/private` },
        { env: { ...engine.env, DOCKER_CONFIG: userConfig, PATH: `${bin}:${process.env.PATH}` } },
      );
      expect(run.exitCode, run.stdout).toBe(0);
      expect(run.results[0]).toMatchObject({ status: "pulled", source: "mirror", reason: "" });
      expect(await engine.imageId(up)).toBe(id);
      expect(readFileSync(calls, "utf8")).toContain(`get ${ghcr.host}`);
      expect(run.stdout).not.toContain("s3cret-password");
    });

    it("a background worker stopped by signal leaves no token config behind, and its environment holds no input or token", async () => {
      const runnerTemp = mkdtempSync(join(tmpdir(), "prepull-job-"));
      const path = uniqueName("signal");
      const up = `${plain.host}/${path}:1`;
      await seedImage(engine, [up, `${ghcr.host}/private/${path.replaceAll("/", "-")}:1`], {
        dockerConfig: seedConfig,
        layerBytes: 4_000_000,
      });
      // The engine's blob download crawls, so the worker is mid-pull when it is stopped.
      ghcrProxy.addRule({ method: "GET", path: /\/blobs\//, agent: /^docker\//, fault: { kind: "throttle", bytesPerSecond: 20_000 } });
      const step = await runAction(
        { images: up, mirrors: `${ghcrProxy.host}/private`, "github-token": PACKAGES_TOKEN, background: "true" },
        { env: engine.env, runnerTemp },
      );
      expect(step.exitCode, step.stdout).toBe(0);
      const pid = readState(step.state.workerDir ?? "")?.pid ?? 0;
      const shadows = () => readdirSync(runnerTemp).filter((name) => name.startsWith("prepull-engine-config-"));
      const deadline = Date.now() + 30_000;
      while (shadows().length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(shadows()).toHaveLength(1);
      expect(isAlive(pid)).toBe(true);
      const environ = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0");
      expect(environ.filter((entry) => entry.startsWith("INPUT_"))).toEqual([]);
      expect(environ.join("\n")).not.toContain(PACKAGES_TOKEN);

      const post = await runAction({}, { env: engine.env, runnerTemp, state: { ...step.state, isPost: "true" } });
      expect(post.stdout).toMatch(/still running.*stopping it/);
      const gone = Date.now() + 15_000;
      while (isAlive(pid) && Date.now() < gone) await new Promise((r) => setTimeout(r, 100));
      expect(isAlive(pid)).toBe(false);
      expect(shadows()).toEqual([]);
      // Stopped, not broken: its log does not call the stop a bug of prepull's.
      expect(readFileSync(join(step.state.workerDir ?? "", "log"), "utf8")).not.toMatch(/stopped before it finished/);
    }, 120_000);
  });

  describe("§3 plain-HTTP loopback and HTTPS registries in one run", () => {
    it("a plain-HTTP cache in front of an HTTPS registry: both probed in one run, the cache serves what it holds", async () => {
      const cached = uniqueName("tls-cached");
      const uncached = uniqueName("tls-uncached");
      const [upCached, upUncached] = [`${tlsHub.host}/${cached}:1`, `${tlsHub.host}/${uncached}:1`];
      const { id: cachedId } = await seedImage(engine, [upCached, `${cache.host}/${cached}:1`], { dockerConfig: seedConfig });
      const { id: uncachedId } = await seedImage(engine, [upUncached], { dockerConfig: seedConfig });
      const run = await runAction(
        { images: `${upUncached}\n${upCached}`, mirrors: `${tlsHub.host}=${cache.host}/{path}`, concurrency: "1" },
        { env: engine.env },
      );
      expect(run.exitCode, run.stdout).toBe(0);
      expect(run.results.map((r) => [r.image, r.status, r.source])).toEqual([
        [upUncached, "pulled", "upstream"],
        [upCached, "pulled", "mirror"],
      ]);
      // The cache was checked against the HTTPS upstream: verified, not taken on trust.
      expect(run.stdout).toMatch(/digest sha256:[a-f0-9]{64} equals upstream's/);
      expect(run.stdout).not.toMatch(/Protocol "https?:" not supported/);
      expect(await engine.imageId(upCached)).toBe(cachedId);
      expect(await engine.imageId(upUncached)).toBe(uncachedId);
    });

    it("behind a proxy (HTTPS_PROXY, as on a self-hosted runner) the probes reach a registry by name through CONNECT, its certificate verified", async () => {
      // A name nothing on this machine resolves: only the proxy reaches it. Its certificate is
      // trusted as a proxied network's own CA is, through NODE_EXTRA_CA_CERTS.
      const name = "registry.proxied.test";
      const proxied = await startRegistry({ tokenAuth: tokens.registryConfig(), tls: true, names: [name] });
      const proxy = await ConnectProxy.start();
      try {
        const path = uniqueName("proxied");
        const pushConfig = configDir({ auths: { [proxied.host]: basic("alice:s3cret-password") } });
        const seeded = await seedImage(engine, [`${proxied.host}/${path}:1`], { dockerConfig: pushConfig });
        rmSync(pushConfig, { recursive: true, force: true });
        const image = `${name}:${proxied.port}/${path}:1`;
        const run = await runAction(
          { images: image, mode: "plan", attempts: "1" },
          { env: { ...engine.env, HTTPS_PROXY: proxy.url, NODE_EXTRA_CA_CERTS: proxied.certFile ?? "" } },
        );
        expect(run.exitCode, run.stdout).toBe(0);
        expect(run.results[0]).toMatchObject({
          image,
          status: "planned",
          source: "upstream",
          digest: seeded.digests[`${proxied.host}/${path}:1`],
        });
        expect(proxy.tunnels.length).toBeGreaterThan(0);
        expect(new Set(proxy.tunnels)).toEqual(new Set([`${name}:${proxied.port}`]));
      } finally {
        await proxy.stop();
        await proxied.stop();
      }
    });
  });

  describe("§4 faithful mirrors of attested images", () => {
    /** Upstream: a BuildKit index (amd64 + attestation). Mirror: what docker pull + tag + push makes of it. */
    const attested = async (name: string) => {
      const path = uniqueName(name);
      await seedImage(engine, [`${plain.host}/${path}:plain`]);
      const index = await pushBuildKitIndex(plain.host, path, "1", "plain");
      const up = `${plainProxy.host}/${path}:1`;
      const mirrorRef = `${cache.host}/mirror/${path.replaceAll("/", "-")}:1`;
      await engine.ok(["pull", `${plain.host}/${path}:1`]);
      await engine.ok(["tag", `${plain.host}/${path}:1`, mirrorRef]);
      const pushed = await engine.ok(["push", mirrorRef]);
      const mirrorDigest = pushed.match(/digest: (sha256:[a-f0-9]{64})/)?.[1] ?? "";
      const id = await engine.imageId(`${plain.host}/${path}:1`);
      await engine.removeAllImages();
      return { up, index, mirrorDigest, id };
    };

    it("docker pull + tag + push of a BuildKit image is a faithful copy: same config, trusted", async () => {
      const { up, index, mirrorDigest, id } = await attested("attested");
      expect(mirrorDigest).not.toBe(index.platformDigest);
      const run = await runAction({ images: up, mirrors: `${cache.host}/mirror`, platform: "linux/amd64" }, { env: engine.env });
      expect(run.exitCode, run.stdout).toBe(0);
      expect(run.results[0]).toMatchObject({ status: "pulled", source: "mirror", digest: mirrorDigest, reason: "" });
      expect(run.stdout).toContain(`image config ${index.configDigest} equals upstream's for linux/amd64`);
      expect(run.stdout).not.toContain("poisoned");
      expect(await engine.imageId(up)).toBe(id);
    });

    it("a blip on the upstream GET used to compare is retried; an upstream GET that keeps failing skips the mirror (fails closed), upstream serves", async () => {
      const { up, mirrorDigest, index } = await attested("attested-blip");
      plainProxy.addRule({
        method: "GET",
        path: /\/manifests\/sha256:/,
        agent: /^prepull/,
        fault: { kind: "status", status: 503 },
        times: 1,
      });
      const blip = await runAction(
        { images: up, mirrors: `${cache.host}/mirror`, platform: "linux/amd64", backoff: "0.1" },
        { env: engine.env },
      );
      expect(blip.results[0]).toMatchObject({ status: "pulled", source: "mirror", digest: mirrorDigest, reason: "" });
      expect(blip.stdout).toMatch(/GET manifest .*attempt 1\/3 failed, transient: HTTP 503/);
      expect(blip.stdout).not.toContain("poisoned");

      await engine.removeAllImages();
      plainProxy.clearRules();
      plainProxy.addRule({ method: "GET", path: /\/manifests\//, agent: /^prepull/, fault: { kind: "status", status: 503 } });
      const down = await runAction(
        { images: up, mirrors: `${cache.host}/mirror`, platform: "linux/amd64", backoff: "0.1" },
        { env: engine.env },
      );
      // Upstream's HEAD answered with another digest: the comparison cannot be finished, so the mirror is not trusted (issue 21 §2).
      expect(down.results[0]).toMatchObject({ status: "pulled", source: "upstream", digest: index.indexDigest });
      expect(down.stdout).toMatch(
        /::warning::.*the comparison could not be finished \(upstream's manifest could not be read: HTTP 503.*skipped/,
      );
    });
  });

  describe("§9 failures stay per image, under on-failure", () => {
    it("a token endpoint that answers 200 with no JSON, a malformed realm, a malformed config.json: a reason on the images they touch, the rest go on", async () => {
      const path = uniqueName("broken-auth");
      const up = `${plain.host}/${path}:1`;
      const { id } = await seedImage(engine, [up]);
      const other = uniqueName("unaffected");
      const otherUp = `${plain.host}/${other}:1`;
      await seedImage(engine, [otherUp]);

      // The mirror's realm is not a URL.
      ghcrProxy.rewriteHeaders = (headers) =>
        headers["www-authenticate"] ? { ...headers, "www-authenticate": 'Bearer realm="::not a url",service="x"' } : headers;
      const malformedConfig = mkdtempSync(join(tmpdir(), "prepull-bad-config-"));
      writeFileSync(join(malformedConfig, "config.json"), "{ this is not json");
      try {
        const run = await runAction(
          { images: `${up}\n${otherUp}`, "mirror-map": `${plain.host}/${path} => ${ghcrProxy.host}/private/x`, "on-failure": "fail" },
          { env: { ...engine.env, DOCKER_CONFIG: malformedConfig } },
        );
        expect(run.exitCode, run.stdout).toBe(0);
        expect(run.results.map((r) => r.status)).toEqual(["pulled", "pulled"]);
        expect(run.results[0]?.reason).toMatch(/names a token realm that is not a URL/);
        expect(run.stdout).toMatch(/::warning::.*config\.json is not valid JSON.*its credentials are not used/);
        expect(run.stdout).not.toContain("unexpected error");
        expect(await engine.imageId(up)).toBe(id);
      } finally {
        ghcrProxy.rewriteHeaders = undefined;
        rmSync(malformedConfig, { recursive: true, force: true });
      }

      // A token endpoint that answers 200 with a body that is not JSON, in pull and in plan mode.
      const broken = await TokenServer.start("broken", { isPrivate: () => false, users: {} });
      broken.answerWith = { status: 200, body: "<html>maintenance</html>" };
      const brokenRegistry = await startRegistry({ tokenAuth: broken.registryConfig() });
      try {
        await engine.removeAllImages();
        const inputs = { images: up, "mirror-map": `${plain.host}/${path} => ${brokenRegistry.host}/m/x`, "on-failure": "fail" };
        const pull = await runAction(inputs, { env: engine.env });
        expect(pull.exitCode, pull.stdout).toBe(0);
        expect(pull.results[0]).toMatchObject({ status: "pulled", source: "upstream" });
        expect(pull.results[0]?.reason).toMatch(/token endpoint .* answered HTTP 200 with a body that is not JSON/);
        const plan = await runAction({ ...inputs, mode: "plan" }, { env: engine.env });
        expect(plan.exitCode, plan.stdout).toBe(0);
        expect(plan.results[0]).toMatchObject({ status: "planned", source: "upstream" });
        expect(plan.results[0]?.attempts).toBeGreaterThanOrEqual(2);
      } finally {
        await brokenRegistry.stop();
        await broken.stop();
      }
    });
  });

  describe("a run ends when its work is done", () => {
    it("an image already here is not held up by a mirror that stalls: its probe is called off when the run ends", async () => {
      const path = uniqueName("present-stall");
      const up = `${plain.host}/${path}:1`;
      await seedImage(engine, [up]);
      await engine.ok(["pull", up]);
      ghcrProxy.addRule({ path: /\/manifests\//, agent: /^prepull/, fault: { kind: "stall" } });
      const run = await runAction({ images: up, mirrors: `${ghcrProxy.host}/m`, "pull-timeout": "20" }, { env: engine.env });
      expect(run.results[0]).toMatchObject({ status: "present", source: "local" });
      // A stalled probe would otherwise hold the process for its 15 s limit, three times over.
      expect(run.seconds).toBeLessThan(10);
    });
  });

  describe("hostile answers over HTTPS, with token auth and the job token, as GHCR", () => {
    /** HTTPS in front of `ghcr` (token auth): the bounded reads and deadlines over TLS, as on a runner */
    let tlsProxy: FaultProxy;
    beforeAll(async () => {
      tlsProxy = await FaultProxy.start(ghcr.host, { tls: true });
    });
    afterAll(async () => {
      await tlsProxy?.stop();
    });
    beforeEach(() => {
      tlsProxy.clearRules();
      tlsProxy.resetLog();
    });
    const seedHit = async (name: string) => {
      const path = uniqueName(name);
      const up = `${plain.host}/${path}:1`;
      const { id } = await seedImage(engine, [up, `${ghcr.host}/mirror/${path.replaceAll("/", "-")}:1`], { dockerConfig: seedConfig });
      return { up, id };
    };

    it("a manifest answer cut short over TLS is retried; the mirror still serves", async () => {
      const { up, id } = await seedHit("tls-cut");
      tlsProxy.addRule({
        method: "GET",
        agent: /^prepull/,
        path: /\/manifests\/sha256:/,
        fault: { kind: "truncate", bytes: 10 },
        times: 1,
      });
      const run = await runAction({ images: up, mirrors: `${tlsProxy.host}/mirror`, backoff: "0.1" }, { env: engine.env });
      expect(run.stdout).toMatch(
        /GET manifest .*attempt 1\/3 failed, transient: no answer \(GET 127\.0\.0\.1:\d+\/v2\/.*: the answer was cut short after 10 bytes/,
      );
      // The proxy only speaks TLS: the request it cut came over HTTPS.
      expect(tlsProxy.requests.filter((r) => r.fault === "truncate")).toHaveLength(1);
      expect(run.results[0]).toMatchObject({ source: "mirror", status: "pulled" });
      expect(await engine.imageId(up)).toBe(id);
    });

    it("headers sent a byte at a time over TLS are cut at the deadline; upstream serves", async () => {
      const { up, id } = await seedHit("tls-slow");
      tlsProxy.addRule({ method: "HEAD", agent: /^prepull/, path: /\/manifests\//, fault: { kind: "slow-headers", bytesPerSecond: 10 } });
      const run = await runAction(
        { images: up, mirrors: `${tlsProxy.host}/mirror`, backoff: "0.1", "pull-timeout": "3", attempts: "2" },
        { env: engine.env },
      );
      expect(run.stdout).toMatch(/probe .*attempt 1\/2 failed, transient: no answer \(.*HEAD https:\/\/.*: no answer within 3 s\)/);
      expect(run.results[0]).toMatchObject({ source: "upstream", status: "pulled" });
      expect(await engine.imageId(up)).toBe(id);
    });
  });

  describe("§10 smaller contract gaps", () => {
    it("UPSTREAM@sha256 => MIRROR:tag keeps the pin on the mirror side", async () => {
      const path = uniqueName("pinned");
      const up = `${plain.host}/${path}:1`;
      const { digests, id } = await seedImage(engine, [up, `${cache.host}/elsewhere/${path.replaceAll("/", "-")}:copy`]);
      // The mirror's tag then moves on to other content: the pin must not follow it.
      await seedImage(engine, [`${cache.host}/elsewhere/${path.replaceAll("/", "-")}:copy`]);
      const pinned = `${up}@${digests[up]}`;
      const run = await runAction(
        { images: `${pinned} => ${cache.host}/elsewhere/${path.replaceAll("/", "-")}:copy` },
        { env: engine.env },
      );
      expect(run.results[0]).toMatchObject({ status: "pulled", source: "mirror", digest: digests[up] });
      expect(run.results[0]?.ref).toBe(`${cache.host}/elsewhere/${path.replaceAll("/", "-")}:copy@${digests[up]}`);
      expect(await engine.imageId(up)).toBe(id);
    });

    it("mirror mode skips an image that no mirror rule serves (a rule for another registry), and copies the rest", async () => {
      const path = uniqueName("served");
      const up = `${plain.host}/${path}:1`;
      const other = `${cache.host}/${uniqueName("other-registry")}:1`;
      await seedImage(engine, [up]);
      const run = await runAction(
        { images: `${up}\n${other}`, mirrors: `${plain.host}=${ghcr.host}/m/{flat}`, mode: "mirror", "github-token": PACKAGES_TOKEN },
        { env: engine.env },
      );
      expect(run.results.map((r) => [r.image, r.status])).toEqual([
        [up, "copied"],
        [other, "skipped"],
      ]);
      expect(run.results[1]?.reason).toMatch(/no mirror rule serves this image's registry/);
      expect(run.outputs.failed).toBe("0");
    });

    it("the images output is set when an input error stops the run, and in wait mode", async () => {
      const path = uniqueName("outputs");
      const up = `${plain.host}/${path}:1`;
      const bad = await runAction({ images: up, attempts: "many" }, { env: engine.env });
      expect(bad.exitCode).toBe(1);
      expect(bad.outputs).toMatchObject({ images: up, results: "[]", failed: "0" });
      expect(bad.stdout).toMatch(/::error::input 'attempts': "many" is not a whole number/);
      expect(await engine.imageId(up)).toBeUndefined();

      await seedImage(engine, [up]);
      const runnerTemp = mkdtempSync(join(tmpdir(), "prepull-job-"));
      await runAction({ images: up, background: "true" }, { env: engine.env, runnerTemp });
      const wait = await runAction({ mode: "wait" }, { env: engine.env, runnerTemp });
      expect(wait.outputs.images).toBe(up);
      expect(wait.results[0]).toMatchObject({ image: up, status: "pulled" });
    });

    it("a wait step's deadline leaves room for the list; at it, images the worker finished keep their results", async () => {
      const runnerTemp = mkdtempSync(join(tmpdir(), "prepull-job-"));
      const fast = `${plain.host}/${uniqueName("fast")}:1`;
      const slowPath = uniqueName("slow");
      const slow = `${plainProxy.host}/${slowPath}:1`;
      await seedImage(engine, [fast]);
      await seedImage(engine, [`${plain.host}/${slowPath}:1`], { layerBytes: 2_000_000 });
      plainProxy.addRule({ method: "GET", path: /\/blobs\//, agent: /^docker\//, fault: { kind: "throttle", bytesPerSecond: 20_000 } });
      const step = await runAction(
        { images: `${fast}\n${slow}`, background: "true", "pull-timeout": "4", attempts: "1", concurrency: "2" },
        { env: engine.env, runnerTemp },
      );
      const dir = step.state.workerDir ?? "";
      const until = Date.now() + 30_000;
      while (!(readState(dir)?.results ?? []).some((r) => r.image === fast) && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 100));
      }
      // The worker hangs (as a wedged process would): the wait step's deadline must end it.
      const pid = readState(dir)?.pid ?? 0;
      process.kill(pid, "SIGSTOP");
      try {
        const wait = await runAction({ mode: "wait" }, { env: engine.env, runnerTemp });
        // one source, one attempt: (pull-timeout 4 + the probes 30) + 10 s outside the pulls
        expect(wait.stdout).toMatch(/at most 44 s/);
        expect(wait.results.map((r) => [r.image, r.status])).toEqual([
          [fast, "pulled"],
          [slow, "failed"],
        ]);
        expect(wait.results[1]?.reason).toBe("stopped at the wait step's deadline");
        expect(wait.outputs.failed).toBe("1");
      } finally {
        process.kill(pid, "SIGCONT");
        try {
          process.kill(-pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
    }, 120_000);
  });
});
