// Benchmarks, each measured side by side in one run and printed as ratios: nothing here is
// asserted about speed (timings belong in this report, not in tests).
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Credentials } from "../src/registry/auth.js";
import { RegistryClient } from "../src/registry/client.js";
import { platformSpec } from "../src/registry/manifests.js";
import { ImageProbe } from "../src/registry/probe.js";
import { parseReference } from "../src/resolve/reference.js";
import { REPO } from "../test/world/action.js";
import {
  type Docker,
  FaultProxy,
  runAction,
  seedImage,
  startRegistry,
  TokenServer,
  uniqueName,
  useWorld,
  worldUnavailable,
} from "../test/world/index.js";
import type { Registry } from "../test/world/registry.js";

const rows: string[][] = [];
const row = (...cells: (string | number)[]) => rows.push(cells.map(String));
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
const seconds = async (work: () => Promise<unknown>) => {
  const started = performance.now();
  await work();
  return (performance.now() - started) / 1000;
};
const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;
const ms = (secondsValue: number) => `${(secondsValue * 1000).toFixed(0)} ms`;
/** Wall-clock seconds of one process from spawn to exit, measured as runAction measures the action. */
const timedProcess = (command: string, args: string[], env: NodeJS.ProcessEnv) =>
  new Promise<number>((resolve, reject) => {
    const started = performance.now();
    const child = spawn(command, args, { env, stdio: "ignore" });
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0 ? resolve((performance.now() - started) / 1000) : reject(new Error(`${command} exited ${code}`)),
    );
  });
/** dist/index.cjs as it was before issue 11 (one self-contained file), written aside; undefined without git history. */
const beforeBundle = (): string | undefined => {
  try {
    const file = join(mkdtempSync(join(os.tmpdir(), "prepull-before-")), "index.cjs");
    writeFileSync(file, execFileSync("git", ["show", "23b0ae9:dist/index.cjs"], { cwd: REPO, maxBuffer: 64 * 1024 * 1024 }));
    return file;
  } catch {
    return undefined;
  }
};
/** median, min and max of a list of seconds, in ms */
const spread = (values: number[]) => `median ${ms(median(values))} (min ${ms(Math.min(...values))}, max ${ms(Math.max(...values))})`;
const x = (a: number, b: number) => `${(a / b).toFixed(2)}×`;

/**
 * A 6 MB image seeded in `up` and `mirror` (token auth, as GHCR and Docker Hub), then `pairs`
 * alternating pairs: a bare `docker pull` of the mirror tag, and a prepull step that verifies
 * and pulls it (the job token set), each after every image is removed.
 */
async function hitPairs(engine: Docker, up: Registry, mirror: Registry, pairs: number) {
  const seedConfig = mkdtempSync(join(os.tmpdir(), "prepull-bench-seed-"));
  const auth = Buffer.from("alice:bench-password").toString("base64");
  writeFileSync(join(seedConfig, "config.json"), JSON.stringify({ auths: { [up.host]: { auth }, [mirror.host]: { auth } } }));
  const path = uniqueName("hit6");
  const upRef = `${up.host}/${path}:1`;
  const mirRef = `${mirror.host}/mirror/${path.replaceAll("/", "-")}:1`;
  await seedImage(engine, [upRef, mirRef], { layerBytes: 6_000_000, dockerConfig: seedConfig });
  const inputs = { images: upRef, mirrors: `${mirror.host}/mirror` };
  const dockerEnv = { ...process.env, ...engine.env };
  const bare: number[] = [];
  const action: number[] = [];
  for (let i = 0; i < pairs; i++) {
    // Alternate which goes first, so that neither always meets a warm cache.
    for (const which of i % 2 === 0 ? ["bare", "action"] : ["action", "bare"]) {
      await engine.removeAllImages();
      if (which === "bare") bare.push(await timedProcess("docker", ["pull", "-q", mirRef], dockerEnv));
      else {
        const run = await runAction(inputs, { env: engine.env });
        if (run.results[0]?.source !== "mirror") throw new Error(`not a mirror hit: ${run.stdout}`);
        action.push(run.seconds);
      }
    }
  }
  rmSync(seedConfig, { recursive: true, force: true });
  return { inputs, action, bare };
}

describe.skipIf(worldUnavailable !== "")("prepull benchmarks", () => {
  // The proxies keep their rules from test to test: the quota rule set below holds for the run.
  const {
    engine,
    registry: { upstream, mirror },
    proxy: { upstream: hub, mirror: mirrorProxy },
  } = useWorld({ registries: { upstream: { proxy: true }, mirror: { proxy: true } }, resetProxies: false });
  /** ≥ 200 MB in 4 layers, upstream and in the mirror */
  let big: { path: string; up: string; mir: string };

  beforeAll(async () => {
    const path = uniqueName("bench");
    await seedImage(engine, [`${upstream.host}/${path}:1`, `${mirror.host}/mirror/${path.replaceAll("/", "-")}:1`], {
      layers: 4,
      layerBytes: 52_000_000,
    });
    big = { path, up: `${hub.host}/${path}:1`, mir: `${mirrorProxy.host}/mirror/${path.replaceAll("/", "-")}:1` };
    // The simulated Docker Hub reports its quota on manifest answers, as Hub does.
    hub.addRule({ path: /\/manifests\//, addHeaders: { "ratelimit-limit": "100;w=21600", "ratelimit-remaining": "99;w=21600" } });
  });

  afterAll(async () => {
    const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length))) ?? [];
    const lines = rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join("  "));
    process.stdout.write(`\nprepull benchmarks (one run, side by side)\n${lines.join("\n")}\n\n`);
  });

  it("issue 4: fallback decision on a mirror miss, probe vs failing docker pull; Hub manifest GETs per image", async () => {
    const missing = `${mirrorProxy.host}/mirror/not-there:1`;
    const client = new RegistryClient(new Credentials({}));
    // A probe per try: an ImageProbe asks each reference once and then answers from memory.
    const probe = () =>
      new ImageProbe(
        client,
        { upstream: parseReference(missing), origin: "bench" },
        { verify: "digest", platform: platformSpec(""), attempts: 1, backoffSeconds: 0 },
        () => {},
      );
    const probeTimes: number[] = [];
    const pullTimes: number[] = [];
    for (let i = 0; i < 10; i++) {
      probeTimes.push(await seconds(async () => expect((await probe().head(parseReference(missing))).kind).toBe("missing")));
      pullTimes.push(await seconds(async () => expect((await engine.run(["pull", missing])).exitCode).not.toBe(0)));
    }
    client.dispose();
    row(
      "mirror miss → fallback decision",
      `probe HEAD ${(median(probeTimes) * 1000).toFixed(1)} ms`,
      `docker pull ${(median(pullTimes) * 1000).toFixed(1)} ms`,
      `pull/probe ${x(median(pullTimes), median(probeTimes))}`,
    );

    const hubGets = async (inputs: Record<string, string>) => {
      hub.resetLog();
      const run = await runAction(inputs, { env: engine.env });
      expect(run.results[0]?.status).toMatch(/pulled|present/);
      return hub.count("GET", /\/manifests\//);
    };
    await engine.removeAllImages();
    const hit = await hubGets({ images: big.up, mirrors: `${mirrorProxy.host}/mirror` });
    const present = await hubGets({ images: big.up, mirrors: `${mirrorProxy.host}/mirror` });
    await engine.removeAllImages();
    const miss = await hubGets({ images: big.up, mirrors: `${mirrorProxy.host}/elsewhere` });
    row("Hub manifest GETs per image", `hit ${hit}`, `miss ${miss}`, `present ${present}`);
  });

  it("issue 5: mirror mode vs docker pull + tag + push, same ≥ 200 MB image", async () => {
    // Each way copies into a registry of its own that has never seen these blobs, so neither
    // gets a cross-repository mount the other set up.
    const [forEngine, forApi] = await Promise.all([startRegistry(), startRegistry()]);
    const [engineProxy, apiProxy] = await Promise.all([FaultProxy.start(forEngine.host), FaultProxy.start(forApi.host)]);
    try {
      await engine.removeAllImages();
      hub.resetLog();
      const target = `${engineProxy.host}/copy/${big.path.replaceAll("/", "-")}:1`;
      const viaEngine = await seconds(async () => {
        await engine.ok(["pull", big.up]);
        await engine.ok(["tag", big.up, target]);
        await engine.ok(["push", target]);
      });
      const engineBytes = hub.bytes.down + engineProxy.bytes.up;
      hub.resetLog();
      let copied = "";
      const viaApi = await seconds(async () => {
        const run = await runAction({ images: big.up, mirrors: `${apiProxy.host}/copy`, mode: "mirror" }, { env: engine.env });
        copied = run.results[0]?.status ?? "";
      });
      expect(copied).toBe("copied");
      const apiBytes = hub.bytes.down + apiProxy.bytes.up;
      row(
        "mirror a 208 MB image",
        `mode: mirror ${viaApi.toFixed(1)} s, ${mb(apiBytes)} moved`,
        `pull+tag+push ${viaEngine.toFixed(1)} s, ${mb(engineBytes)} moved`,
        `time engine/api ${x(viaEngine, viaApi)}, bytes engine/api ${x(engineBytes, apiBytes)}`,
      );
    } finally {
      await Promise.all([engineProxy.stop(), apiProxy.stop()]);
      await Promise.all([forEngine.stop(), forApi.stop()]);
    }
  });

  it("issue 6: the action vs a bare docker pull; five images at concurrency 3 vs 1; start-up; bundle size", async () => {
    const bare: number[] = [];
    const action: number[] = [];
    for (let i = 0; i < 3; i++) {
      await engine.removeAllImages();
      bare.push(await seconds(() => engine.ok(["pull", big.mir])));
      await engine.removeAllImages();
      action.push(await seconds(() => runAction({ images: big.up, mirrors: `${mirrorProxy.host}/mirror` }, { env: engine.env })));
    }
    row(
      "pull a 208 MB image",
      `action ${median(action).toFixed(2)} s`,
      `bare docker pull ${median(bare).toFixed(2)} s`,
      `action/bare ${x(median(action), median(bare))}`,
    );

    const five = await Promise.all(
      [1, 2, 3, 4, 5].map(() => seedImage(engine, [`${upstream.host}/${uniqueName("five")}:1`], { layers: 2, layerBytes: 15_000_000 })),
    );
    const images = Object.keys(Object.assign({}, ...five.map((f) => f.digests))).join("\n");
    await engine.removeAllImages();
    const one = await seconds(() => runAction({ images, concurrency: "1" }, { env: engine.env }));
    await engine.removeAllImages();
    const three = await seconds(() => runAction({ images, concurrency: "3" }, { env: engine.env }));
    row("five 30 MB images", `concurrency 3 ${three.toFixed(2)} s`, `concurrency 1 ${one.toFixed(2)} s`, `1/3 ${x(one, three)}`);

    const startup: number[] = [];
    const bareNode: number[] = [];
    for (let i = 0; i < 10; i++) {
      startup.push((await runAction({}, { env: engine.env })).seconds);
      // The same small environment runAction gives the action (the test runner's own slows node down).
      bareNode.push(await timedProcess(process.execPath, ["-e", ""], { PATH: process.env.PATH, HOME: process.env.HOME }));
    }
    row(
      "start-up with nothing to do",
      `dist/index.cjs ${(median(startup) * 1000).toFixed(0)} ms`,
      `node -e '' ${(median(bareNode) * 1000).toFixed(0)} ms`,
      `${x(median(startup), median(bareNode))}`,
    );
    const bundlePath = join(REPO, "dist", "prepull.cjs");
    const bundle = readFileSync(bundlePath);
    row(
      "bundle dist/prepull.cjs",
      mb(statSync(bundlePath).size),
      `gzip ${mb(gzipSync(bundle).length)}`,
      "behind dist/index.cjs and dist/cli.cjs",
    );
  });

  it("issue 11: overhead on a verified mirror hit vs a bare docker pull; on a present image and with nothing to do vs node -e ''; bundle", async () => {
    // A 6 MB image in a token-auth mirror and upstream (as GHCR and Docker Hub), the job token set.
    const tokens = await TokenServer.start("bench", { isPrivate: () => false, users: { alice: "bench-password" } });
    const [up6, mirror6] = await Promise.all([
      startRegistry({ tokenAuth: tokens.registryConfig() }),
      startRegistry({ tokenAuth: tokens.registryConfig() }),
    ]);
    try {
      const pairs = 15;
      const { inputs, action, bare } = await hitPairs(engine, up6, mirror6, pairs);
      const overhead = action.map((a, i) => a - (bare[i] ?? 0));
      row("6 MB verified mirror hit", `prepull ${spread(action)}`, `bare docker pull ${spread(bare)}`, `overhead ${spread(overhead)}`);
      // Runners reach GHCR and Docker Hub over HTTPS: the same hit against TLS registries (the
      // loopback ones cost prepull one plain-HTTP refusal each first, which ghcr.io does not).
      const [tlsUp, tlsMirror] = await Promise.all([
        startRegistry({ tokenAuth: tokens.registryConfig(), tls: true }),
        startRegistry({ tokenAuth: tokens.registryConfig(), tls: true }),
      ]);
      try {
        const tls = await hitPairs(engine, tlsUp, tlsMirror, pairs);
        row(
          "  the same over HTTPS (self-signed)",
          `prepull ${spread(tls.action)}`,
          `bare docker pull ${spread(tls.bare)}`,
          `overhead ${spread(tls.action.map((a, i) => a - (tls.bare[i] ?? 0)))}`,
        );
      } finally {
        await Promise.all([tlsUp.stop(), tlsMirror.stop()]);
      }
      // The same hit with the bundle from before issue 11 (commit 23b0ae9), where git has it.
      const before = beforeBundle();
      if (before) {
        const old: number[] = [];
        for (let i = 0; i < pairs; i++) {
          await engine.removeAllImages();
          old.push((await runAction(inputs, { env: engine.env, entry: before })).seconds);
        }
        row(
          "  the same with the bundle before issue 11",
          `prepull ${spread(old)}`,
          "",
          `overhead ${spread(old.map((o, i) => o - (bare[i] ?? 0)))}`,
        );
      }
      const nodeStart: number[] = [];
      for (let i = 0; i < pairs; i++)
        nodeStart.push(await timedProcess(process.execPath, ["-e", ""], { PATH: process.env.PATH, HOME: process.env.HOME }));
      row(
        "  of which node's own start",
        `node -e '' ${spread(nodeStart)}`,
        "",
        `overhead beyond it: median ${ms(median(overhead) - median(nodeStart))}`,
      );

      const present: number[] = [];
      const nothing: number[] = [];
      const nodeOnly: number[] = [];
      for (let i = 0; i < pairs; i++) {
        // The same small environment runAction gives the action (the test runner's own would slow node down).
        nodeOnly.push(await timedProcess(process.execPath, ["-e", ""], { PATH: process.env.PATH, HOME: process.env.HOME }));
        const run = await runAction(inputs, { env: engine.env });
        if (run.results[0]?.status !== "present") throw new Error(`not present: ${run.stdout}`);
        present.push(run.seconds);
        nothing.push((await runAction({}, { env: engine.env })).seconds);
      }
      const over = (values: number[]) => values.map((v, i) => v - (nodeOnly[i] ?? 0));
      row("image already present", `prepull ${spread(present)}`, `node -e '' ${spread(nodeOnly)}`, `overhead ${spread(over(present))}`);
      row("start-up, nothing to do", `prepull ${spread(nothing)}`, `node -e '' ${spread(nodeOnly)}`, `overhead ${spread(over(nothing))}`);
      const dist = join(REPO, "dist");
      const js = readdirSync(dist).filter((name) => name.endsWith(".cjs"));
      const total = js.reduce((sum, name) => sum + statSync(join(dist, name)).size, 0);
      row(
        "committed JavaScript in dist/",
        mb(total),
        js.map((name) => `${name} ${mb(statSync(join(dist, name)).size)}`).join(", "),
        "(source maps aside)",
      );
      // The action runs on node24 (action.yml). Under node 20, the first TLS context (verified or not)
      // also builds node's root certificate store (about 20 ms more on the HTTPS row).
      const runtimeNote = Number(process.versions.node.split(".")[0]) < 24 ? " (action.yml runs node24: see README)" : "";
      row(
        "machine",
        `node ${process.version}${runtimeNote}`,
        `${os.cpus().length} × ${os.cpus()[0]?.model ?? "?"}`,
        `${(os.totalmem() / 2 ** 30).toFixed(0)} GiB`,
      );
    } finally {
      await Promise.all([up6.stop(), mirror6.stop()]);
      await tokens.stop();
    }
  });

  it("issue 7: a modelled job, 20 s of other work plus the ≥ 200 MB pull, sequential vs overlapped", async () => {
    const otherWork = () => new Promise((resolve) => setTimeout(resolve, 20_000));
    const job = async (label: string) => {
      await engine.removeAllImages();
      const sequential = await seconds(async () => {
        await runAction({ images: big.up, mirrors: `${mirrorProxy.host}/mirror` }, { env: engine.env });
        await otherWork();
      });
      await engine.removeAllImages();
      const runnerTemp = execFileSync("mktemp", ["-d"]).toString().trim();
      let waited = "";
      const overlapped = await seconds(async () => {
        await runAction({ images: big.up, mirrors: `${mirrorProxy.host}/mirror`, background: "true" }, { env: engine.env, runnerTemp });
        await otherWork();
        const wait = await runAction({ mode: "wait" }, { env: engine.env, runnerTemp });
        waited = wait.results[0]?.status ?? "";
      });
      expect(waited).toBe("pulled");
      row(
        `20 s of work + 208 MB pull, ${label}`,
        `overlapped ${overlapped.toFixed(1)} s`,
        `sequential ${sequential.toFixed(1)} s`,
        `sequential/overlapped ${x(sequential, overlapped)}`,
      );
    };
    await job("loopback");
    // The same job where the registry is as far as a CI runner's network: 25 MB/s.
    mirrorProxy.addRule({ method: "GET", path: /\/blobs\//, fault: { kind: "throttle", bytesPerSecond: 25_000_000 } });
    try {
      await job("at 25 MB/s");
    } finally {
      mirrorProxy.clearRules();
    }
  });
});
