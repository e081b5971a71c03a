// The npm package, as CLI users install it: `npm pack` gives a tarball of the bundle only; it
// installs into an empty directory with nothing else fetched, and `npx prepull` runs there.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO } from "../world/action.js";
import { seedImage, uniqueName, useWorld, worldUnavailable } from "../world/index.js";

describe.skipIf(worldUnavailable !== "")("the npm package, end to end", () => {
  const {
    engine,
    registry: { upstream },
  } = useWorld({ registries: { upstream: {} } });

  const run = (command: string, args: string[], cwd: string, env: Record<string, string> = {}) =>
    spawnSync(command, args, {
      cwd,
      encoding: "utf8",
      timeout: 120_000,
      env: { ...process.env, npm_config_audit: "false", npm_config_fund: "false", ...env },
    });

  it("npm pack → a tarball of the bundle that installs into an empty directory; npx prepull --help and a real pull work", async () => {
    const packed = mkdtempSync(join(tmpdir(), "prepull-pack-"));
    const pack = run("npm", ["pack", "--json", "--pack-destination", packed], REPO);
    expect(pack.status, pack.stderr).toBe(0);
    const [info] = JSON.parse(pack.stdout) as { filename: string; files: { path: string }[] }[];
    expect(info?.files.map((f) => f.path).sort()).toEqual([
      "LICENSE",
      "README.md",
      "dist/buildfiles.cjs",
      "dist/cli.cjs",
      "dist/licenses.txt",
      "dist/prepull.cjs",
      "package.json",
    ]);
    const tarball = join(packed, readdirSync(packed).find((name) => name.endsWith(".tgz")) ?? "");

    const project = mkdtempSync(join(tmpdir(), "prepull-install-"));
    // --offline: the package needs nothing from the registry (the bundle holds every dependency).
    const install = run("npm", ["install", "--offline", "--no-package-lock", tarball], project);
    expect(install.status, install.stderr).toBe(0);
    const help = run("npx", ["--no-install", "prepull", "--help"], project);
    expect(help.status, help.stderr).toBe(0);
    expect(help.stdout).toMatch(/^usage: prepull/);

    const up = `${upstream.host}/${uniqueName("npx")}:1`;
    const { id } = await seedImage(engine, [up]);
    const pull = run("npx", ["--no-install", "prepull", "--images", up, "--on-failure", "fail", "--json"], project, engine.env);
    expect(pull.status, pull.stderr).toBe(0);
    expect(JSON.parse(pull.stdout)).toMatchObject([{ image: up, status: "pulled" }]);
    expect(await engine.imageId(up)).toBe(id);
  }, 180_000);
});
