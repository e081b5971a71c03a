// The CLI (GitLab, Jenkins, Tekton, a laptop): the same engine, flags named like the inputs.
import { execFile, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO } from "../world/action.js";
import { seedImage, uniqueName, useWorld, workflowCommands, worldUnavailable } from "../world/index.js";

const CLI = join(REPO, "dist/cli.cjs");

describe.skipIf(worldUnavailable !== "")("prepull CLI, end to end", () => {
  const {
    engine,
    registry: { upstream, mirror },
    proxy: { upstream: proxy },
  } = useWorld({ registries: { upstream: { proxy: true }, mirror: {} } });

  const cli = (args: string[], extraEnv: Record<string, string> = {}, cwd?: string) =>
    spawnSync(CLI, args, {
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/root", ...engine.env, ...extraEnv },
      encoding: "utf8",
      timeout: 120_000,
      ...(cwd && { cwd }),
    });

  /** Without blocking this process: the fault proxy answers from here. */
  const cliAsync = (args: string[]) =>
    new Promise<{ stdout: string; stderr: string }>((resolve) => {
      execFile(
        CLI,
        args,
        { env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/root", ...engine.env }, encoding: "utf8", timeout: 120_000 },
        (_error, stdout, stderr) => resolve({ stdout, stderr }),
      );
    });

  it("pulls through the mirror, prints a table, exits 0; no workflow commands", async () => {
    const path = uniqueName("cli");
    const up = `${upstream.host}/${path}:1`;
    const { id } = await seedImage(engine, [up, `${mirror.host}/mirror/${path.replaceAll("/", "-")}:1`]);
    const result = cli(["--images", up, "--mirrors", `${mirror.host}/mirror`]);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^IMAGE\\s+STATUS\\s+SOURCE[\\s\\S]*${up}\\s+pulled\\s+mirror`, "m"));
    expect(result.stderr).not.toMatch(/^::/m);
    expect(await engine.imageId(up)).toBe(id);
  });

  it("--json prints the results output; --on-failure fail exits 1 when an image failed", async () => {
    const missing = `${upstream.host}/${uniqueName("cli-missing")}:1`;
    const warn = cli(["--json", missing]);
    expect(warn.status).toBe(0);
    expect(JSON.parse(warn.stdout)).toMatchObject([{ image: missing, status: "failed", source: "none" }]);
    const fail = cli(["--images", missing, "--on-failure", "fail"]);
    expect(fail.status).toBe(1);
    expect(fail.stderr).toMatch(/error: .*not found \(HTTP 404/);
  });

  it("a run left waiting for what never comes exits 1 and says so, never 0 with nothing printed", async () => {
    const path = uniqueName("cli-unfinished");
    const up = `${upstream.host}/${path}:1`;
    await seedImage(engine, [up, `${mirror.host}/mirror/${path.replaceAll("/", "-")}:1`]);
    // The disk guard's statfs made to never answer: nothing else is left for node to wait on.
    const preload = join(mkdtempSync(join(tmpdir(), "prepull-cli-unfinished-")), "statfs-never.cjs");
    writeFileSync(preload, `require("node:fs").promises.statfs = () => new Promise(() => {});`);
    const result = cli(["--images", up, "--mirrors", `${mirror.host}/mirror`], { NODE_OPTIONS: `--require ${preload}` });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/^prepull: stopped before it finished, left waiting for something that never came/m);
  });

  it("a bad flag value names the input; an unknown flag prints usage", () => {
    const bad = cli(["--images", "alpine", "--attempts", "many"]);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain(`input 'attempts': "many" is not a whole number`);
    const unknown = cli(["--nope"]);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/usage: prepull/);
  });

  it("--images-from and --build-arg… read a Dockerfile from the current directory", async () => {
    const path = uniqueName("cli-from");
    const up = `${upstream.host}/${path}:2`;
    await seedImage(engine, [up]);
    const dir = mkdtempSync(join(tmpdir(), "prepull-cli-"));
    writeFileSync(join(dir, "Dockerfile"), `ARG TAG=1\nFROM ${upstream.host}/${path}:\${TAG}\n`);
    const result = cli(["--images-from", "Dockerfile", "--build-args", "TAG=2", "--json"], {}, dir);
    expect(result.status, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject([{ image: up, status: "pulled", origin: "images-from Dockerfile line 2" }]);
  });

  it("--background is refused with a sentence, not a stack trace", () => {
    const result = cli(["--images", "alpine", "--background", "true"]);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/^prepull: --background is the action's .*in the background your shell's way/);
    expect(result.stderr).not.toMatch(/\bat .*\.cjs:\d+/);
  });

  it("a registry's error text in the engine's stderr issues no workflow command from the CLI (issue 21 §4): \\r, NEL, U+2028/9, ##[", async () => {
    // Every way the runner would start a command: a lone \r ends a line; NEL, U+2028 and U+2029
    // are .NET whitespace that it trims before it looks for `::`; `##[` anywhere.
    const evil = "gone\r::warning title=cli::pwned-cr\n\u0085::error::pwned-nel \u2028::add-mask::pwned-ls\r\n\u2029##[error]pwned-legacy";
    const path = uniqueName("cli-evil");
    await seedImage(engine, [`${upstream.host}/${path}:1`]);
    const up = `${proxy.host}/${path}:1`;
    // The engine's GET only: the probes see a healthy registry, the pull fails with this text.
    proxy.addRule({
      method: "GET",
      path: /\/manifests\//,
      agent: /^docker\//,
      fault: { kind: "status", status: 404, body: JSON.stringify({ errors: [{ code: "MANIFEST_UNKNOWN", message: evil }] }) },
    });
    try {
      for (const args of [
        ["--images", up],
        ["--images", up, "--on-failure", "fail"],
        ["--json", up],
      ]) {
        const result = await cliAsync(args);
        const output = `${result.stdout}\n${result.stderr}`;
        expect(output, args.join(" ")).toContain("pwned-nel"); // shown …
        expect(workflowCommands(output), args.join(" ")).toEqual([]); // … never a command
      }
    } finally {
      proxy.clearRules();
    }
  });
});
