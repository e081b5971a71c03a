// Issue 23's benchmark: mode: mirror against `skopeo copy --all --preserve-digests` (Debian's
// skopeo), side by side in one run, through TLS and token auth as GHCR and Docker Hub are: a
// cold copy, and a copy into a second repository of the same registry. Printed as ratios;
// nothing about speed is asserted. Run it alone:
//   npx vitest run --config bench/vitest.config.ts bench/mirror.bench.ts
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import * as os from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  dockerConfig,
  FaultProxy,
  runAction,
  seedImage,
  startRegistry,
  type TokenServer,
  uniqueName,
  useWorld,
  worldUnavailable,
} from "../test/world/index.js";
import type { Registry } from "../test/world/registry.js";

const MB = 1e6;
/** 4 layers of 50 MB: 200 MB, what a 2-core machine copies in a few seconds (the issue measured 300 MB) */
const LAYERS = 4;
const LAYER_BYTES = 50 * MB;
const ROUNDS = 5;
const USER = "alice";
const PASSWORD = "bench-password";

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
const x = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
const spread = (values: number[]) => `${median(values).toFixed(2)} s (${Math.min(...values).toFixed(2)}–${Math.max(...values).toFixed(2)})`;

/** A registry with token auth behind a TLS proxy that counts the bytes it is sent. */
interface Site {
  readonly registry: Registry;
  readonly proxy: FaultProxy;
}

async function startSite(tokens: TokenServer): Promise<Site> {
  const registry = await startRegistry({ tokenAuth: tokens.registryConfig() });
  return { registry, proxy: await FaultProxy.start(registry.host, { tls: true }) };
}

async function stopSite(site: Site | undefined): Promise<void> {
  await site?.proxy.stop();
  await site?.registry.stop();
}

function timed(command: string, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(command, args, { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0 ? resolve((performance.now() - started) / 1000) : reject(new Error(`${command} exited ${code}: ${stderr.slice(-2000)}`)),
    );
  });
}

const skopeo = (from: string, to: string) =>
  timed("skopeo", [
    "copy",
    "--all",
    "--preserve-digests",
    "--quiet",
    "--src-tls-verify=false",
    "--dest-tls-verify=false",
    `--src-creds=${USER}:${PASSWORD}`,
    `--dest-creds=${USER}:${PASSWORD}`,
    `docker://${from}`,
    `docker://${to}`,
  ]);

describe.skipIf(worldUnavailable !== "")("mirror mode vs skopeo", () => {
  const {
    engine,
    tokens,
    registry: { upstream: upstreamRegistry },
    proxy: { upstream: upstreamProxy },
  } = useWorld({
    registries: { upstream: { tokenAuth: true, proxy: true, proxyTls: true } },
    // An HTTPS realm, as GHCR's: prepull sends no login to a plain-HTTP realm of a TLS registry (trust.test.ts §3).
    tokens: { service: "bench-mirror", policy: { isPrivate: () => false, users: { [USER]: PASSWORD } }, tls: true },
  });
  const upstream: Site = { registry: upstreamRegistry, proxy: upstreamProxy };
  let config: string;
  let image: { path: string; ref: string; digest: string };
  const rows: string[][] = [];

  beforeAll(async () => {
    config = mkdtempSync(join(os.tmpdir(), "prepull-bench-mirror-"));
    const path = uniqueName("copy200");
    // Seeded straight into the registry (the engine pushes plain HTTP to loopback), read through the TLS proxy.
    dockerConfig({ [upstream.registry.host]: `${USER}:${PASSWORD}` }, config);
    const { digests } = await seedImage(engine, [`${upstream.registry.host}/${path}:1`], {
      layers: LAYERS,
      layerBytes: LAYER_BYTES,
      dockerConfig: config,
    });
    image = { path, ref: `${upstream.proxy.host}/${path}:1`, digest: Object.values(digests)[0] ?? "" };
    await engine.removeAllImages();
  });

  afterAll(async () => {
    rmSync(config, { recursive: true, force: true });
    const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length))) ?? [];
    const lines = rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join("  "));
    process.stdout.write(`\nmirror mode vs skopeo (one run, side by side)\n${lines.join("\n")}\n\n`);
  });

  it("issue 23: a 200 MB image copied cold and into a second repository of the same registry, TLS + token auth", async () => {
    const times = { prepullCold: [] as number[], skopeoCold: [] as number[], prepullSecond: [] as number[], skopeoSecond: [] as number[] };
    const bytes = { prepullCold: 0, skopeoCold: 0, prepullSecond: 0, skopeoSecond: 0 };
    const flat = image.path.replaceAll("/", "-");
    for (let round = 0; round < ROUNDS; round++) {
      // A fresh pair of mirror registries each round: neither tool meets blobs it (or the other) put there before.
      const [forPrepull, forSkopeo] = await Promise.all([startSite(tokens), startSite(tokens)]);
      try {
        dockerConfig(Object.fromEntries([upstream, forPrepull].map((s) => [s.proxy.host, `${USER}:${PASSWORD}`])), config);
        const env = { ...engine.env, DOCKER_CONFIG: config };
        const prepull = async (mirrors: string, into: "prepullCold" | "prepullSecond") => {
          forPrepull.proxy.resetLog();
          const run = await runAction({ images: image.ref, mirrors, mode: "mirror" }, { env });
          expect(run.results[0], run.stdout).toMatchObject({ status: "copied", digest: image.digest });
          times[into].push(run.seconds);
          bytes[into] = forPrepull.proxy.bytes.up;
        };
        const viaSkopeo = async (repo: string, into: "skopeoCold" | "skopeoSecond") => {
          forSkopeo.proxy.resetLog();
          times[into].push(await skopeo(image.ref, `${forSkopeo.proxy.host}/${repo}/${flat}:1`));
          bytes[into] = forSkopeo.proxy.bytes.up;
        };
        // Alternate which goes first, so that neither always meets a warm upstream.
        const ways = [() => prepull(`${forPrepull.proxy.host}/cold`, "prepullCold"), () => viaSkopeo("cold", "skopeoCold")];
        for (const way of round % 2 === 0 ? ways : ways.reverse()) await way();
        // The second repository: prepull learns where the blobs are from the mirror lines (the
        // old repository as a second line); skopeo from its blob-info cache.
        await prepull(`${forPrepull.proxy.host}/second\n${forPrepull.proxy.host}/cold`, "prepullSecond");
        await viaSkopeo("second", "skopeoSecond");
      } finally {
        await Promise.all([stopSite(forPrepull), stopSite(forSkopeo)]);
      }
    }
    const mb = (n: number) => `${(n / MB).toFixed(1)} MB sent`;
    rows.push(
      ["what", "mode: mirror", "skopeo copy --all --preserve-digests", "time prepull/skopeo"],
      [
        `cold copy, ${(LAYERS * LAYER_BYTES) / MB} MB`,
        `${spread(times.prepullCold)}, ${mb(bytes.prepullCold)}`,
        `${spread(times.skopeoCold)}, ${mb(bytes.skopeoCold)}`,
        x(median(times.prepullCold), median(times.skopeoCold)),
      ],
      [
        "into a second repository",
        `${spread(times.prepullSecond)}, ${mb(bytes.prepullSecond)}`,
        `${spread(times.skopeoSecond)}, ${mb(bytes.skopeoSecond)}`,
        x(median(times.prepullSecond), median(times.skopeoSecond)),
      ],
      ["machine", `node ${process.version}`, `${os.cpus().length} × ${os.cpus()[0]?.model ?? "?"}`, `median (min–max) of ${ROUNDS}`],
    );
  });
});
