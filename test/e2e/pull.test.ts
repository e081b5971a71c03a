// Issue 3, end to end: the bundled action, run as the runner runs it, against a real
// Docker engine and real registries on loopback.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { itkSetVarsScript } from "../fixtures/itk-set-vars.js";
import { runAction, seedImage, uniqueName, useWorld, workflowCommands, worldUnavailable } from "../world/index.js";

/** The engine's own requests (prepull's probes say `prepull`). */
const ENGINE = /^docker\//;

describe.skipIf(worldUnavailable !== "")("pull, end to end", () => {
  const world = useWorld({ registries: { upstream: {}, mirror: { proxy: true } }, files: true, cleanEngine: true });
  const {
    engine,
    files,
    registry: { upstream, mirror },
  } = world;

  const env = () => engine.env;
  /** Seeds `path:tag` upstream and, flattened under `<mirror>/mirror`, in the mirror. */
  const seedBoth = async (path: string, tag = "1") => {
    const up = `${upstream.host}/${path}:${tag}`;
    const mir = `${mirror.host}/mirror/${path.replaceAll("/", "-")}:${tag}`;
    const built = await seedImage(engine, [up, mir]);
    return { up, mir, ...built };
  };

  it("mirror hit: pulls from the mirror, tags the upstream name, drops the mirror tag", async () => {
    const { up, mir, id, digests } = await seedBoth(uniqueName("hit"));
    const run = await runAction({ images: up, mirrors: `${mirror.host}/mirror` }, { env: env() });
    expect(run.exitCode, run.stdout).toBe(0);
    expect(run.results).toHaveLength(1);
    expect(run.results[0]).toMatchObject({ image: up, source: "mirror", status: "pulled", attempts: 1, reason: "" });
    expect(run.results[0]?.digest).toMatch(/^sha256:[a-f0-9]{64}$/);
    // Pulled by the digest the probe verified, which equals upstream's.
    expect(run.results[0]?.ref).toBe(`${mir}@${run.results[0]?.digest}`);
    expect(run.results[0]?.digest).toBe(digests[up]);
    expect(await engine.imageId(up)).toBe(id);
    expect(await engine.imageId(mir)).toBeUndefined();
    expect(run.outputs.images).toBe(up);
    expect(run.outputs.failed).toBe("0");
    expect(run.summary).toContain("| image | status | source |");
    expect(run.stdout).toContain(`::group::${up}: pulled from mirror`);
  });

  it("keep-mirror-tag keeps the mirror's name beside the upstream one", async () => {
    const { up, mir, id } = await seedBoth(uniqueName("keep"));
    const run = await runAction({ images: up, mirrors: `${mirror.host}/mirror`, "keep-mirror-tag": "true" }, { env: env() });
    expect(run.results[0]?.status).toBe("pulled");
    expect(await engine.imageId(up)).toBe(id);
    expect(await engine.imageId(mir)).toBe(id);
  });

  it("mirror miss: falls back to upstream and says why the mirror was skipped", async () => {
    const path = uniqueName("miss");
    const up = `${upstream.host}/${path}:1`;
    const { id } = await seedImage(engine, [up]);
    const run = await runAction({ images: up, mirrors: `${mirror.host}/mirror` }, { env: env() });
    expect(run.exitCode).toBe(0);
    expect(run.results[0]).toMatchObject({ source: "upstream", status: "pulled", attempts: 1 });
    expect(run.results[0]?.ref).toMatch(new RegExp(`^${up}@sha256:`));
    // The probe's 404 moved on without running a pull.
    expect(run.results[0]?.reason).toMatch(/mirror .*not found \(HTTP 404/);
    expect(await engine.imageId(up)).toBe(id);
  });

  it("renamed mirror through mirror-map (the ITK aarch64 case)", async () => {
    const path = uniqueName("pypa");
    const up = `${upstream.host}/${path}:2025.08.12-1`;
    const renamed = `${mirror.host}/isc/dockcross-manylinux_2_28-aarch64-${path.split("-").pop()}`;
    const { id } = await seedImage(engine, [up, `${renamed}:2025.08.12-1`]);
    const run = await runAction(
      { images: up, mirrors: `${mirror.host}/unused-prefix`, "mirror-map": `${upstream.host}/${path} => ${renamed}` },
      { env: env() },
    );
    expect(run.results[0]).toMatchObject({ source: "mirror", status: "pulled" });
    expect(run.results[0]?.ref).toMatch(new RegExp(`^${renamed}:2025.08.12-1@sha256:`));
    expect(await engine.imageId(up)).toBe(id);
  });

  it("an explicit UPSTREAM => MIRROR line", async () => {
    const path = uniqueName("explicit");
    const up = `${upstream.host}/${path}:7`;
    const { id } = await seedImage(engine, [up, `${mirror.host}/elsewhere/copy:7`]);
    const run = await runAction({ images: `${up} => ${mirror.host}/elsewhere/copy` }, { env: env() });
    expect(run.results[0]).toMatchObject({ source: "mirror" });
    expect(run.results[0]?.ref).toMatch(new RegExp(`^${mirror.host}/elsewhere/copy:7@sha256:`));
    expect(await engine.imageId(up)).toBe(id);
  });

  it("invalid references beside valid ones: each named by line, the valid ones still pulled", async () => {
    const { up, id } = await seedBoth(uniqueName("mixed"));
    const run = await runAction({ images: `Bad/Name:1\n${up}\nalpine:`, mirrors: `${mirror.host}/mirror` }, { env: env() });
    expect(run.exitCode).toBe(0);
    expect(run.results.map((r) => r.status)).toEqual(["failed", "failed", "pulled"]);
    expect(run.results[0]?.reason).toMatch(/images line 1: invalid reference "Bad\/Name:1".*lowercase/);
    expect(run.results[1]?.reason).toMatch(/images line 3: invalid reference "alpine:"/);
    expect(run.outputs.failed).toBe("2");
    expect(run.stdout).toMatch(/::error::images line 1: invalid reference/);
    expect(await engine.imageId(up)).toBe(id);
  });

  it("on-failure warn exits 0 with a warning; fail fails the step", async () => {
    const missing = `${upstream.host}/${uniqueName("absent")}:1`;
    const warn = await runAction({ images: missing, mirrors: `${mirror.host}/mirror` }, { env: env() });
    expect(warn.exitCode).toBe(0);
    expect(warn.results[0]).toMatchObject({ status: "failed", source: "none" });
    expect(warn.results[0]?.reason).toMatch(/mirror .*not found \(HTTP 404.*upstream .*not found \(HTTP 404/);
    expect(warn.stdout).toMatch(/::warning::.*not found/);
    expect(warn.outputs.failed).toBe("1");
    const fail = await runAction({ images: missing, "on-failure": "fail" }, { env: env() });
    expect(fail.exitCode).toBe(1);
    expect(fail.stdout).toMatch(/::error::.*not found/);
    expect(fail.outputs.failed).toBe("1");
  });

  it("five images at once", async () => {
    const seeded = await Promise.all([1, 2, 3, 4, 5].map(() => seedBoth(uniqueName("five"))));
    const run = await runAction(
      { images: seeded.map((s) => s.up).join("\n"), mirrors: `${mirror.host}/mirror`, concurrency: "5" },
      { env: env() },
    );
    expect(run.exitCode).toBe(0);
    expect(run.results.map((r) => r.status)).toEqual(["pulled", "pulled", "pulled", "pulled", "pulled"]);
    for (const s of seeded) expect(await engine.imageId(s.up)).toBe(s.id);
    expect(run.outputs.images?.split("\n")).toEqual(seeded.map((s) => s.up));
  });

  it("a bad setting fails the step with the input's name, and nothing is pulled", async () => {
    const { up } = await seedBoth(uniqueName("badinput"));
    const run = await runAction({ images: up, attempts: "many" }, { env: env() });
    expect(run.exitCode).toBe(1);
    expect(run.stdout).toContain(`::error::input 'attempts': "many" is not a whole number`);
    expect(await engine.imageId(up)).toBeUndefined();
  });

  it("no engine CLI on PATH is one clear message, under on-failure", async () => {
    const run = await runAction({ images: "alpine:3" }, { env: { ...env(), PATH: "/nonexistent" } });
    expect(run.exitCode).toBe(0);
    expect(run.results[0]).toMatchObject({ status: "failed" });
    expect(run.results[0]?.reason).toMatch(/'docker' was not found on PATH/);
    const failing = await runAction({ images: "alpine:3", "on-failure": "fail" }, { env: { ...env(), PATH: "/nonexistent" } });
    expect(failing.exitCode).toBe(1);
  });

  it("a run left waiting for what never comes fails the step and says so, instead of ending green with no outputs", async () => {
    const { up } = await seedBoth(uniqueName("unfinished"));
    // The disk guard's statfs made to never answer: nothing else is left for node to wait on.
    const dir = mkdtempSync(join(tmpdir(), "prepull-unfinished-"));
    const preload = join(dir, "statfs-never.cjs");
    writeFileSync(preload, `require("node:fs").promises.statfs = () => new Promise(() => {});`);
    const run = await runAction(
      { images: up, mirrors: `${mirror.host}/mirror` },
      { env: { ...env(), NODE_OPTIONS: `--require ${preload}` } },
    );
    expect(run.exitCode).toBe(1);
    expect(workflowCommands(run.stdout).filter((line) => line.startsWith("::error::"))).toEqual([
      expect.stringMatching(/^::error::prepull: stopped before it finished, left waiting for something that never came \(a bug in prepull/),
    ]);
    expect(run.outputs.results).toBeUndefined();
  });

  describe("set-vars", () => {
    // The shape of ITKPythonPackage's scripts/dockcross-manylinux-set-vars.sh, with the
    // registries pointed at the test world.
    const script = () =>
      itkSetVarsScript(
        { x64: upstream.host, aarch64: upstream.host },
        'echo "::set-output name=images::injected"\necho "CONTAINER_SOURCE=${CONTAINER_SOURCE}"\n',
      );
    beforeAll(async () => {
      files.routes.set("/v6/scripts/dockcross-manylinux-set-vars.sh", { status: 200, body: script() });
      files.routes.set("/hang/scripts/dockcross-manylinux-set-vars.sh", { status: 200, body: "sleep 300\nCONTAINER_SOURCE=x" });
      await seedImage(engine, [
        `${upstream.host}/dockcross/manylinux_2_28-x64:20240304-9e57d2b`,
        `${mirror.host}/isc/dockcross-manylinux_2_28-x64:20240304-9e57d2b`,
      ]);
      await seedImage(engine, [
        `${upstream.host}/pypa/manylinux_2_28_aarch64:2025.08.12-1`,
        `${mirror.host}/isc/dockcross-manylinux_2_28-aarch64:2025.08.12-1`,
      ]);
    });
    const url = (ref: string) => files.url(`/${ref}/scripts/dockcross-manylinux-set-vars.sh`);
    const itkInputs = (arch: string) => ({
      "set-vars-url": url("v6"),
      "set-vars-env": `MANYLINUX_VERSION=_2_28\nTARGET_ARCH=${arch}`,
      mirrors: `${mirror.host}/isc`,
      "mirror-map": `${upstream.host}/pypa/manylinux_2_28_aarch64 => ${mirror.host}/isc/dockcross-manylinux_2_28-aarch64`,
    });

    it("resolves x64 and pulls it through the flattened mirror; the script's output cannot act as a command", async () => {
      const run = await runAction(itkInputs("x64"), { env: env() });
      const image = `${upstream.host}/dockcross/manylinux_2_28-x64:20240304-9e57d2b`;
      expect(run.outputs.images).toBe(image);
      expect(run.results[0]).toMatchObject({
        image,
        source: "mirror",
        status: "pulled",
      });
      expect(run.results[0]?.ref).toMatch(/\/isc\/dockcross-manylinux_2_28-(x64|aarch64):[\w.-]+@sha256:[a-f0-9]{64}$/);
      expect(await engine.imageId(image)).toMatch(/^sha256:[a-f0-9]{64}$/);
      // Shown, but neutralised: never a workflow command.
      expect(run.stdout).toContain(":\u200b:set-output name=images::injected");
      expect(workflowCommands(run.stdout).filter((c) => c.includes("injected"))).toEqual([]);
      expect(run.outputs.images).not.toContain("injected");
    });

    it("resolves aarch64 and pulls it through the renamed mirror", async () => {
      const run = await runAction(itkInputs("aarch64"), { env: env() });
      const image = `${upstream.host}/pypa/manylinux_2_28_aarch64:2025.08.12-1`;
      expect(run.outputs.images).toBe(image);
      expect(run.results[0]).toMatchObject({
        source: "mirror",
        status: "pulled",
      });
      expect(run.results[0]?.ref).toMatch(/\/isc\/dockcross-manylinux_2_28-(x64|aarch64):[\w.-]+@sha256:[a-f0-9]{64}$/);
      expect(await engine.imageId(image)).toMatch(/^sha256:[a-f0-9]{64}$/);
    });

    it("a ref without the script (404) is a notice and a clean skip, even under fail", async () => {
      const run = await runAction({ ...itkInputs("x64"), "set-vars-url": url("v5.3.0"), "on-failure": "fail" }, { env: env() });
      expect(run.exitCode).toBe(0);
      expect(run.stdout).toMatch(/::notice::set-vars-url answered HTTP 404/);
      expect(run.outputs.images).toBe("");
      expect(run.results).toEqual([]);
    });

    it("the script's own exit 1 (an unknown combination) is a notice showing its message and a clean skip, under warn and fail", async () => {
      const inputs = { ...itkInputs("x64"), "set-vars-env": "MANYLINUX_VERSION=_2_99\nTARGET_ARCH=x64" };
      for (const onFailure of ["warn", "fail"]) {
        const run = await runAction({ ...inputs, "on-failure": onFailure }, { env: env() });
        expect(run.exitCode, run.stdout).toBe(0);
        expect(run.stdout).toMatch(/::notice::set-vars script exited with status 1 \(Unknown manylinux version _2_99\): no image/);
        expect(run.stdout).not.toMatch(/::(warning|error)::/);
        expect(run.outputs).toMatchObject({ images: "", failed: "0", results: "[]" });
      }
    });

    it("a script that hangs is stopped with a message that says so", async () => {
      const run = await runAction({ "set-vars-url": url("hang"), "on-failure": "fail" }, { env: env() });
      expect(run.exitCode).toBe(1);
      expect(run.stdout).toMatch(/::error::set-vars script did not finish within 30 s and was stopped/);
      expect(run.seconds).toBeLessThan(60);
    }, 90_000);

    it("set-vars-sha256 refuses a script that differs, without running it", async () => {
      const run = await runAction({ ...itkInputs("x64"), "set-vars-sha256": "0".repeat(64), "on-failure": "fail" }, { env: env() });
      expect(run.exitCode).toBe(1);
      expect(run.stdout).toMatch(/set-vars script refused: its sha256 is [a-f0-9]{64}, set-vars-sha256 pins 0{64}/);
      expect(run.stdout).not.toContain("CONTAINER_SOURCE=");
    });
  });

  describe("through a fault-injecting proxy", () => {
    const { mirror: proxy } = world.proxy;
    const viaProxy = async (name: string) => {
      const path = uniqueName(name);
      const up = `${upstream.host}/${path}:1`;
      const built = await seedImage(engine, [up, `${mirror.host}/mirror/${path.replaceAll("/", "-")}:1`]);
      return { up, path, id: built.id, proxied: `${proxy.host}/mirror/${path.replaceAll("/", "-")}:1` };
    };
    const inputs = (up: string, extra: Record<string, string> = {}) => ({
      images: up,
      mirrors: `${proxy.host}/mirror`,
      backoff: "0.2",
      ...extra,
    });

    it("two 503s on the probe then success: retried with backoff, the mirror still used", async () => {
      const { up, id, proxied } = await viaProxy("503probe");
      proxy.addRule({ method: "HEAD", path: /\/manifests\//, fault: { kind: "status", status: 503 }, times: 2 });
      const run = await runAction(inputs(up), { env: env() });
      // Two failed probes and one pull: three tries.
      expect(run.results[0]).toMatchObject({ source: "mirror", status: "pulled", attempts: 3 });
      expect(run.results[0]?.ref).toContain(`${proxied}@sha256:`);
      expect(run.stdout).toMatch(/probe .*attempt 1\/3 failed, transient: HTTP 503; retrying in \d/);
      expect(proxy.requests.filter((r) => r.fault === "status")).toHaveLength(2);
      expect(await engine.imageId(up)).toBe(id);
    });

    it("two 503s on the engine's pull then success: the pull is retried, the mirror still used", async () => {
      const { up, id } = await viaProxy("503pull");
      // The probe HEADs; the engine GETs the manifest by digest.
      proxy.addRule({
        method: "GET",
        agent: ENGINE,
        path: /\/manifests\/sha256:/,
        fault: { kind: "status", status: 503, body: '{"errors":[{"code":"UNAVAILABLE","message":"try later"}]}' },
        times: 2,
      });
      const run = await runAction(inputs(up), { env: env() });
      expect(run.results[0]).toMatchObject({ source: "mirror", status: "pulled", attempts: 3 });
      expect(run.stdout).toMatch(/attempt 1\/3 failed, transient \(server error \(5xx\)\).*retrying in \d/);
      expect(run.stdout).toMatch(/attempt 2\/3 failed, transient/);
      expect(proxy.requests.filter((r) => r.fault === "status")).toHaveLength(2);
      expect(await engine.imageId(up)).toBe(id);
    });

    it("connection resets on blobs: the image still lands", async () => {
      const { up, id } = await viaProxy("reset");
      proxy.addRule({ path: /\/blobs\//, fault: { kind: "reset" }, times: 1 });
      const run = await runAction(inputs(up), { env: env() });
      expect(run.results[0]).toMatchObject({ source: "mirror", status: "pulled" });
      expect(proxy.requests.some((r) => r.fault === "reset")).toBe(true);
      expect(await engine.imageId(up)).toBe(id);
    });

    it("a truncated blob body: the image still lands, identical", async () => {
      const { up, id } = await viaProxy("trunc");
      proxy.addRule({ method: "GET", path: /\/blobs\//, fault: { kind: "truncate", bytes: 100 }, times: 1 });
      const run = await runAction(inputs(up), { env: env() });
      expect(run.results[0]).toMatchObject({ source: "mirror", status: "pulled" });
      expect(proxy.requests.some((r) => r.fault === "truncate")).toBe(true);
      expect(await engine.imageId(up)).toBe(id);
    });

    // Our own manifest reads (the size GET after the mirror's HEAD), not the engine's.
    const OWN_GET = { method: "GET", agent: /^prepull/, path: /\/manifests\/sha256:/ } as const;

    it("a manifest answer cut short (unexpected EOF) is retried, not waited on for ever; the mirror still used", async () => {
      const { up, id } = await viaProxy("cutmanifest");
      proxy.addRule({ ...OWN_GET, fault: { kind: "truncate", bytes: 10 }, times: 1 });
      const run = await runAction(inputs(up), { env: env() });
      expect(run.stdout).toMatch(
        /GET manifest .*attempt 1\/3 failed, transient: no answer \(GET .*: the answer was cut short after 10 bytes/,
      );
      expect(run.results[0]).toMatchObject({ source: "mirror", status: "pulled" });
      expect(proxy.requests.filter((r) => r.method === "GET" && OWN_GET.agent.test(String(r.headers["user-agent"])))).toHaveLength(2);
      expect(await engine.imageId(up)).toBe(id);
    });

    it("a manifest answer that never ends: at most 4 MiB is read, the connection closed, the reason shown, the run goes on", async () => {
      const { up, id } = await viaProxy("endless");
      proxy.endlessBytes = 0;
      proxy.addRule({ ...OWN_GET, fault: { kind: "endless" } });
      const run = await runAction(inputs(up), { env: env() });
      expect(run.stdout).toMatch(/the answer is over 4 MiB, more than any honest one/);
      // What the proxy got out before the hang-up: 4 MiB read, the rest in socket buffers.
      expect(proxy.endlessBytes).toBeGreaterThan(4 * 2 ** 20);
      expect(proxy.endlessBytes).toBeLessThan(24 * 2 ** 20);
      expect(run.results[0]).toMatchObject({ source: "mirror", status: "pulled" });
      expect(await engine.imageId(up)).toBe(id);
    });

    it("a manifest answer that trickles a byte at a time is stopped at the probe's deadline, retried, then given up", async () => {
      const { up, id } = await viaProxy("trickle");
      proxy.addRule({ ...OWN_GET, fault: { kind: "endless", bytesPerSecond: 4 } });
      const run = await runAction(inputs(up, { "pull-timeout": "3", attempts: "2" }), { env: env() });
      expect(run.stdout).toMatch(/attempt 1\/2 failed, transient: no answer \(GET .*: the answer was not whole after 3 s/);
      expect(run.results[0]).toMatchObject({ status: "pulled" });
      expect(await engine.imageId(up)).toBe(id);
    });

    it("an answer whose headers come a byte at a time is stopped at the probe's deadline: the mirror is skipped, upstream serves", async () => {
      const { up, id } = await viaProxy("slowheaders");
      proxy.addRule({ method: "HEAD", agent: /^prepull/, path: /\/manifests\//, fault: { kind: "slow-headers", bytesPerSecond: 10 } });
      const run = await runAction(inputs(up, { "pull-timeout": "3", attempts: "2" }), { env: env() });
      // The loopback mirror is asked over plain HTTP first, then HTTPS: both reasons are given, this one first.
      expect(run.stdout).toMatch(
        /probe .*attempt 1\/2 failed, transient: no answer \(HEAD http:\/\/.*: no answer within 3 s; then HEAD https:/,
      );
      expect(run.results[0]).toMatchObject({ source: "upstream", status: "pulled" });
      expect(run.results[0]?.reason).toMatch(/could not be probed after 2 attempts/);
      expect(await engine.imageId(up)).toBe(id);
    });

    it("a stalled response is stopped at pull-timeout and retried", async () => {
      const { up, id } = await viaProxy("stall");
      proxy.addRule({ method: "GET", agent: ENGINE, path: /\/manifests\//, fault: { kind: "stall" }, times: 1 });
      const run = await runAction(inputs(up, { "pull-timeout": "4" }), { env: env() });
      expect(run.stdout).toMatch(/transient \(timeout\): no result within pull-timeout \(4 s\); stopped/);
      expect(run.results[0]).toMatchObject({ source: "mirror", status: "pulled", attempts: 2 });
      expect(await engine.imageId(up)).toBe(id);
    });

    it("a long pull shows progress every few seconds with bytes done and total; the summary shows time and size", async () => {
      const { up } = await viaProxy("progress");
      // The last layer is slow, so the pull outlasts a progress tick.
      proxy.addRule({ method: "GET", agent: ENGINE, path: /\/blobs\//, fault: { kind: "delay", ms: 7000 }, times: 1 });
      const run = await runAction(inputs(up), { env: env() });
      expect(run.results[0]?.status).toBe("pulled");
      expect(run.stdout).toMatch(new RegExp(`pulling ${up} from mirror: [\\d.]+ K?B of [\\d.]+ KB \\(\\d of 1 layers\\), [5-9] s`));
      expect(run.results[0]?.size).toBeGreaterThan(60_000);
      expect(run.summary).toMatch(/\| pulled \| mirror \|.*\| 1 \| [\d.]+ s \| [\d.]+ KB \|/);
    });

    it("a 404 is not retried and runs no pull: one HEAD at the mirror, then upstream", async () => {
      const path = uniqueName("404");
      const up = `${upstream.host}/${path}:1`;
      await seedImage(engine, [up]);
      const run = await runAction(inputs(up, { attempts: "5" }), { env: env() });
      expect(run.results[0]).toMatchObject({ source: "upstream", status: "pulled", attempts: 1 });
      expect(run.stdout).toMatch(/mirror .*skipped: not found \(HTTP 404.*next source/);
      const manifestRequests = proxy.requests.filter((r) => /\/manifests\//.test(r.path));
      expect(manifestRequests.map((r) => `${r.method} ${r.status}`)).toEqual(["HEAD 404"]);
    });
  });
});
