// Issue 4, end to end: probe before pulling, verify the mirror, spare Docker Hub's quota,
// private mirrors, plan mode: against real registries behind a real token server.
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { ActionRun } from "../world/action.js";
import { dockerConfig, type FaultProxy, runAction, seedImage, uniqueName, useWorld, worldUnavailable } from "../world/index.js";

/** A made-up GITHUB_TOKEN the test token server knows for the user `octo`. */
const GITHUB_TOKEN = "ghs_FAKEgithubTOKENforTHEtests0123456789";

const QUOTA_HEADERS = { "ratelimit-limit": "100;w=21600", "ratelimit-remaining": "76;w=21600" };
const EXHAUSTED = {
  kind: "status" as const,
  status: 429,
  headers: { "ratelimit-limit": "100;w=21600", "ratelimit-remaining": "0;w=21600" },
  body: '{"errors":[{"code":"TOOMANYREQUESTS","message":"You have reached your unauthenticated pull rate limit."}]}',
};

describe.skipIf(worldUnavailable !== "")("registry-aware pulls, end to end", () => {
  const {
    engine,
    tokens,
    registry: { hub, ghcr },
    proxy: { hub: hubProxy, ghcr: ghcrProxy },
  } = useWorld({
    registries: { hub: { tokenAuth: true, proxy: true }, ghcr: { tokenAuth: true, proxy: true } },
    // Plain-HTTP loopback registries with a plain-HTTP realm, as a registry service container
    // speaks: the one world where credentials may go over plain HTTP, and where a hit loads no TLS.
    // TLS registries and realms, as Docker Hub and GHCR speak, are runner.test.ts's and trust.test.ts's.
    tokens: { policy: { users: { alice: "s3cret-password", octo: GITHUB_TOKEN } }, tls: false },
    cleanEngine: true,
  });
  let seedConfig: string;
  let userConfig: string;
  const runs: ActionRun[] = [];

  beforeAll(() => {
    seedConfig = dockerConfig({ [hub.host]: "alice:s3cret-password", [ghcr.host]: "alice:s3cret-password" });
    userConfig = dockerConfig({ [ghcrProxy.host]: "alice:s3cret-password" });
  });
  beforeEach(() => {
    // Docker Hub reports the quota on every manifest answer.
    hubProxy.addRule({ path: /\/manifests\//, addHeaders: QUOTA_HEADERS });
  });

  const run = async (inputs: Record<string, string>, dockerConfig?: string) => {
    const result = await runAction(
      { backoff: "0.1", ...inputs },
      { env: { ...engine.env, ...(dockerConfig && { DOCKER_CONFIG: dockerConfig }) } },
    );
    runs.push(result);
    return result;
  };
  /** Seeds upstream `hub/path:tag` and, optionally, the mirror `ghcr/mirror/<flat>:tag` with the same or other content. */
  const seed = async (name: string, mirror: "same" | "other" | "none", mirrorPath?: (flat: string) => string) => {
    const path = uniqueName(name);
    const flat = path.replaceAll("/", "-");
    const mpath = mirrorPath ? mirrorPath(flat) : `mirror/${flat}`;
    const up = `${hubProxy.host}/${path}:1`;
    const mir = `${ghcrProxy.host}/${mpath}:1`;
    const pushUp = `${hub.host}/${path}:1`;
    const pushMir = `${ghcr.host}/${mpath}:1`;
    const upstreamImage = await seedImage(engine, mirror === "same" ? [pushUp, pushMir] : [pushUp], { dockerConfig: seedConfig });
    const other = mirror === "other" ? await seedImage(engine, [pushMir], { dockerConfig: seedConfig }) : undefined;
    return { up, mir, id: upstreamImage.id, upDigest: upstreamImage.digests[pushUp] ?? "", otherDigest: other?.digests[pushMir] ?? "" };
  };
  const mirrors = () => `${ghcrProxy.host}/mirror`;
  const ours = (proxy: FaultProxy, method: string) =>
    proxy.requests.filter(
      (r) => r.method === method && /\/manifests\//.test(r.path) && String(r.headers["user-agent"]).startsWith("prepull"),
    );

  it("a verified mirror hit sends upstream one HEAD and no manifest GET", async () => {
    const { up, id, upDigest } = await seed("verified", "same");
    const result = await run({ images: up, mirrors: mirrors() });
    expect(result.results[0]).toMatchObject({ source: "mirror", status: "pulled", digest: upDigest });
    expect(hubProxy.count("GET", /\/manifests\//)).toBe(0);
    // One HEAD answered (the first is the 401 that hands out the token challenge), with a Bearer token.
    const answered = ours(hubProxy, "HEAD").filter((r) => r.status !== 401);
    expect(answered).toHaveLength(1);
    expect(answered[0]?.headers.authorization).toMatch(/^Bearer /);
    expect(await engine.imageId(up)).toBe(id);
    // prepull's own requests to the mirror (HEAD → 401, HEAD, GET for the size) are one after
    // another on one keep-alive connection: each answer, a HEAD's too, is read to its end so the
    // connection goes back to the pool (over HTTPS, every new one is a handshake).
    const mirrorRequests = ghcrProxy.requests.filter((r) => String(r.headers["user-agent"]).startsWith("prepull"));
    expect(mirrorRequests.map((r) => `${r.method} ${r.status}`)).toEqual(["HEAD 401", "HEAD 200", "GET 200"]);
    expect(new Set(mirrorRequests.map((r) => r.connection)).size).toBe(1);
  });

  it("a plain-HTTP mirror hit loads neither node:tls nor node:https, nor node:child_process: what a step does not use is not loaded (issues 11, 24)", async () => {
    const { up, upDigest } = await seed("unloaded", "same");
    const dir = mkdtempSync(join(tmpdir(), "prepull-builtins-"));
    const preload = join(dir, "record-builtins.cjs");
    const list = join(dir, "builtins.txt");
    writeFileSync(
      preload,
      `process.on("exit", () => require("node:fs").writeFileSync(${JSON.stringify(list)}, process.moduleLoadList.join("\\n")));`,
    );
    const result = await runAction(
      { backoff: "0.1", images: up, mirrors: mirrors() },
      { env: { ...engine.env, NODE_OPTIONS: `--require ${preload}` } },
    );
    runs.push(result);
    expect(result.results[0]).toMatchObject({ source: "mirror", status: "pulled", digest: upDigest });
    const builtins = readFileSync(list, "utf8").split("\n");
    // The list is the one node keeps: the registry requests' own module is in it.
    expect(builtins).toContain("NativeModule http");
    expect(builtins.filter((m) => /^NativeModule (tls|https)$/.test(m))).toEqual([]);
    // The engine's API served the whole hit: no process started, and node's child_process (2 ms of a start) never loaded.
    expect(builtins.filter((m) => /^NativeModule child_process$/.test(m))).toEqual([]);
    // node:crypto is used: every manifest body read (here the mirror's, for the size) is hashed (issue 21 §2).
    expect(builtins).toContain("NativeModule crypto");
  });

  it("a poisoned mirror (same tag, other content) is skipped with both digests named; upstream's content lands", async () => {
    const { up, id, upDigest, otherDigest } = await seed("poisoned", "other");
    const result = await run({ images: up, mirrors: mirrors() });
    expect(result.results[0]).toMatchObject({ source: "upstream", status: "pulled", digest: upDigest });
    expect(result.stdout).toContain(`::warning::${up}: ${ghcrProxy.host}/mirror/`);
    expect(result.stdout).toMatch(new RegExp(`mirror digest ${otherDigest} differs from upstream ${upDigest}.*stale or poisoned mirror`));
    expect(await engine.imageId(up)).toBe(id);
    // One GET of upstream's manifest to compare, at most; the engine's own pull is the other.
    expect(ours(hubProxy, "GET").length).toBeLessThanOrEqual(1);
  });

  it("verify: none trusts the mirror as it is", async () => {
    const { up, otherDigest } = await seed("trusting", "other");
    const result = await run({ images: up, mirrors: mirrors(), verify: "none" });
    expect(result.results[0]).toMatchObject({ source: "mirror", status: "pulled", digest: otherDigest });
    // Upstream is only HEADed (for the already-present check), which spends no quota.
    expect(hubProxy.count("GET", /\/manifests\//)).toBe(0);
  });

  it("a private mirror: skipped cleanly without credentials, used with the engine's credentials", async () => {
    const { up, id } = await seed("private", "same", (flat) => `private/${flat}`);
    const privateMirror = `${ghcrProxy.host}/private`;
    const anonymous = await run({ images: up, mirrors: privateMirror });
    expect(anonymous.results[0]).toMatchObject({ source: "upstream", status: "pulled" });
    expect(anonymous.results[0]?.reason).toMatch(/access refused \(HTTP 401.*private repository without a usable token/);
    await engine.removeAllImages();
    const withCredentials = await run({ images: up, mirrors: privateMirror }, userConfig);
    expect(withCredentials.results[0]).toMatchObject({ source: "mirror", status: "pulled", reason: "" });
    expect(await engine.imageId(up)).toBe(id);
    expect(tokens.requests.some((r) => r.user === "alice" && r.scope.some((s) => s.includes("private/")))).toBe(true);
  });

  it("github-token opens a private mirror on this machine, for the probe and the engine alike", async () => {
    const { up, id } = await seed("gh-private", "same", (flat) => `private/${flat}`);
    const runnerTemp = mkdtempSync(join(tmpdir(), "prepull-job-"));
    const result = await runAction(
      { images: up, mirrors: `${ghcrProxy.host}/private`, "github-token": GITHUB_TOKEN, backoff: "0.1" },
      { env: { ...engine.env, GITHUB_ACTOR: "octo" }, runnerTemp },
    );
    runs.push(result);
    expect(result.results[0], result.stdout).toMatchObject({ source: "mirror", status: "pulled", reason: "" });
    expect(await engine.imageId(up)).toBe(id);
    expect(tokens.requests.some((r) => r.user === "octo" && r.status === 200)).toBe(true);
    // The engine's temporary config, which held the token, is gone.
    expect(readdirSync(runnerTemp).filter((name) => name.startsWith("prepull-engine-config-"))).toEqual([]);
  });

  it("a github-token that a public mirror does not know: the probe falls back to anonymous, the engine is given nothing", async () => {
    const { up, id } = await seed("gh-public", "same");
    const result = await run({ images: up, mirrors: mirrors(), "github-token": "ghs_UNKNOWNtokenNOBODYknows" });
    expect(result.results[0]).toMatchObject({ source: "mirror", status: "pulled", reason: "" });
    expect(await engine.imageId(up)).toBe(id);
  });

  it("Docker Hub quota exhausted: one refused request, never hammered; the mirror serves, unverified, with a warning", async () => {
    const { up, id } = await seed("quota-hit", "same");
    hubProxy.clearRules();
    hubProxy.addRule({ path: /\/manifests\//, fault: EXHAUSTED });
    const result = await run({ images: up, mirrors: mirrors() });
    expect(result.results[0]).toMatchObject({ source: "mirror", status: "pulled" });
    expect(result.stdout).toMatch(
      /::warning::.*upstream could not be checked \(rate limited \(HTTP 429 toomanyrequests.*0 of 100 pulls left per 6 h/,
    );
    expect(hubProxy.count(undefined, /\/manifests\//)).toBe(1);
    expect(await engine.imageId(up)).toBe(id);
  });

  it("Docker Hub quota exhausted and no mirror copy: failed, the reason and summary name the rate limit and the quota", async () => {
    const { up } = await seed("quota-miss", "none");
    hubProxy.clearRules();
    hubProxy.addRule({ path: /\/manifests\//, fault: EXHAUSTED });
    const result = await run({ images: up, mirrors: mirrors(), attempts: "5" });
    expect(result.results[0]).toMatchObject({ status: "failed", source: "none", attempts: 0 });
    expect(result.results[0]?.reason).toMatch(/upstream .*rate limited \(HTTP 429 toomanyrequests.*0 of 100 pulls left/);
    expect(result.results[0]?.quota).toBe("0 of 100 pulls left per 6 h");
    expect(result.summary).toContain("Hub quota");
    expect(result.summary).toContain("0 of 100 pulls left per 6 h");
    expect(hubProxy.count(undefined, /\/manifests\//)).toBe(1);
  });

  it("already present under the upstream name with upstream's digest: no pull, no blob request", async () => {
    const { up, id } = await seed("present", "same");
    const first = await run({ images: up, mirrors: mirrors() });
    expect(first.results[0]?.status).toBe("pulled");
    hubProxy.resetLog();
    ghcrProxy.resetLog();
    const second = await run({ images: up, mirrors: mirrors() });
    expect(second.results[0]).toMatchObject({ status: "present", source: "local", attempts: 0 });
    expect(hubProxy.count(undefined, /\/blobs\//) + ghcrProxy.count(undefined, /\/blobs\//)).toBe(0);
    expect(hubProxy.count("GET", /\/manifests\//)).toBe(0);
    // Nor is the mirror's manifest read for a size nothing will need.
    expect(ghcrProxy.count("GET", /\/manifests\//)).toBe(0);
    expect(await engine.imageId(up)).toBe(id);
  });

  it("plan mode: per mirror ok, missing or differs, upstream digest and quota; nothing pulled", async () => {
    const ok = await seed("plan-ok", "same");
    const missing = await seed("plan-missing", "none");
    const differs = await seed("plan-differs", "other");
    const result = await run({ images: [ok.up, missing.up, differs.up].join("\n"), mirrors: mirrors(), mode: "plan" });
    expect(result.exitCode).toBe(0);
    const [a, b, c] = result.results;
    expect(a).toMatchObject({ status: "planned", source: "mirror", digest: ok.upDigest, quota: "76 of 100 pulls left per 6 h" });
    expect(a?.mirror).toMatch(/: ok$/);
    expect(b).toMatchObject({ status: "planned", source: "upstream", digest: missing.upDigest });
    expect(b?.mirror).toMatch(/: missing$/);
    expect(c).toMatchObject({ status: "planned", source: "upstream" });
    expect(c?.mirror).toContain(`: differs (mirror ${differs.otherDigest}, upstream ${differs.upDigest})`);
    for (const image of [ok, missing, differs]) expect(await engine.imageId(image.up)).toBeUndefined();
    expect(hubProxy.count(undefined, /\/blobs\//) + ghcrProxy.count(undefined, /\/blobs\//)).toBe(0);
  });

  it("Quay's two challenges in one WWW-Authenticate header", async () => {
    const { up, upDigest } = await seed("quay", "none");
    hubProxy.rewriteHeaders = (headers) => {
      const challenge = headers["www-authenticate"];
      return challenge ? { ...headers, "www-authenticate": `Basic realm="quay", ${challenge}` } : headers;
    };
    try {
      const result = await run({ images: up, mode: "plan" });
      expect(result.results[0]).toMatchObject({ status: "planned", source: "upstream", digest: upDigest });
      expect(ours(hubProxy, "HEAD").at(-1)?.headers.authorization).toMatch(/^Bearer /);
    } finally {
      hubProxy.rewriteHeaders = undefined;
    }
  });

  it("stale stored credentials: the token endpoint refuses them and the probe falls back to anonymous", async () => {
    const { up, upDigest } = await seed("stale", "same");
    const stale = dockerConfig({ [ghcrProxy.host]: "alice:wrong", [hubProxy.host]: "alice:wrong" });
    const result = await run({ images: up, mirrors: mirrors(), mode: "plan" }, stale);
    expect(result.results[0]).toMatchObject({ status: "planned", source: "mirror", digest: upDigest });
    expect(tokens.requests.some((r) => r.user === "alice" && r.status === 401)).toBe(true);
  });

  it("stale stored credentials: the engine pulls with the anonymous token prepull hands it, never with them", async () => {
    const { up, id } = await seed("stale-pull", "same");
    const stale = dockerConfig({ [ghcrProxy.host]: "alice:wrong", [hubProxy.host]: "alice:wrong" });
    tokens.requests.length = 0;
    const result = await run({ images: up, mirrors: mirrors() }, stale);
    expect(result.results[0], result.stdout).toMatchObject({ source: "mirror", status: "pulled", attempts: 1 });
    expect(await engine.imageId(up)).toBe(id);
    // The engine asked the token endpoint nothing: the stale credentials were refused once, by prepull's probe.
    expect(tokens.requests.filter((r) => /^docker\//.test(r.agent))).toEqual([]);
  });

  it("stale stored credentials refuse the engine's pull once the handed token is refused too: it pulls again without them, from the mirror", async () => {
    const { up, id } = await seed("stale-pull2", "same");
    const stale = dockerConfig({ [ghcrProxy.host]: "alice:wrong", [hubProxy.host]: "alice:wrong" });
    // The engine's first manifest request (with prepull's token) is refused, as an expired token would be.
    ghcrProxy.refuseEngineToken(tokens);
    const result = await run({ images: up, mirrors: mirrors() }, stale);
    expect(result.results[0], result.stdout).toMatchObject({ source: "mirror", status: "pulled", attempts: 2 });
    expect(result.stdout).toContain("the engine was refused with the token prepull handed it");
    expect(result.stdout).toMatch(/refused with the stored credentials \(.*\); pulling again without them/);
    expect(await engine.imageId(up)).toBe(id);
  });

  it("tokens and passwords never appear in any log", async () => {
    const { up } = await seed("secrets", "same", (flat) => `private/${flat}`);
    const token = "ghp_FAKEtokenVALUEforTHEtest0123456789";
    runs.push(await run({ images: up, mirrors: `${ghcrProxy.host}/private`, "github-token": token }, userConfig));
    expect(tokens.issued.length).toBeGreaterThan(0);
    for (const logged of runs) {
      // `::add-mask::` lines are the runner's masking instructions, never shown in a log.
      const text = `${logged.stdout}\n${logged.stderr}\n${logged.summary}\n${JSON.stringify(logged.outputs)}`
        .split("\n")
        .filter((line) => !line.startsWith("::add-mask::"))
        .join("\n");
      expect(text).not.toContain("s3cret-password");
      expect(text).not.toContain(token);
      expect(text).not.toContain(GITHUB_TOKEN);
      for (const issued of tokens.issued) expect(text).not.toContain(issued);
    }
    expect(runs.at(-1)?.stdout).toContain(`::add-mask::${token}`);
  });
});
