// Issue 21 §4 and §5, end to end through the action as the runner runs it: untrusted text never
// a workflow command nor markup (§4), and the files inputs name read inside the workspace only,
// never echoed (§5).
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runAction, seedImage, uniqueName, useWorld, workflowCommands, worldUnavailable } from "../world/index.js";

/** The summary with its code spans taken out: what is left is prepull's own markdown. */
const outsideCodeSpans = (markdown: string) => markdown.replace(/(`+)(?!`)[\s\S]*?(?<!`)\1(?!`)/g, "");

describe.skipIf(worldUnavailable !== "")("text sinks and the files inputs name, end to end", () => {
  const {
    engine,
    registry: { registry },
    proxy: { registry: proxy },
  } = useWorld({ registries: { registry: { proxy: true } }, cleanEngine: true });

  const seeded = async (name: string) => {
    const path = uniqueName(name);
    const { id } = await seedImage(engine, [`${registry.host}/${path}:1`]);
    return { id, up: `${registry.host}/${path}:1`, viaProxy: `${proxy.host}/${path}:1` };
  };
  /** A checkout: the workspace the step runs in (GITHUB_WORKSPACE), and a place outside it. */
  const checkout = () => {
    const root = mkdtempSync(join(tmpdir(), "prepull-ws-"));
    const workspace = join(root, "work");
    const outside = join(root, "outside");
    mkdirSync(workspace);
    mkdirSync(outside);
    return { workspace, outside, env: { ...engine.env, GITHUB_WORKSPACE: workspace } };
  };

  describe("§4 untrusted text is never a command, and text in the summary", () => {
    it("a registry's error with \\r, NEL, U+2028/9 and markup: shown in the log and summary, never a command, never markup", async () => {
      const { viaProxy } = await seeded("evil-sinks");
      const evil =
        "gone\r::warning title=x::pwned-cr \u0085::error::pwned-nel\n\u2028::add-mask::pwned-ls \u2029##[error]pwned-legacy " +
        '| <img src=x onerror="alert(1)"> [click](https://evil.example/) ![p](https://evil.example/p.png) `close` ``';
      proxy.addRule({
        method: "GET",
        path: /\/manifests\//,
        agent: /^docker\//,
        fault: { kind: "status", status: 404, body: JSON.stringify({ errors: [{ code: "MANIFEST_UNKNOWN", message: evil }] }) },
      });
      const run = await runAction({ images: viaProxy }, { env: engine.env });
      expect(run.results[0]).toMatchObject({ status: "failed" });
      expect(run.results[0]?.reason).toContain("pwned-nel");
      expect(run.stdout).toContain("pwned-nel"); // shown …
      expect(workflowCommands(run.stdout).filter((c) => c.includes("pwned") && !/^::(warning|error)::/.test(c))).toEqual([]); // … never a command
      // prepull's own annotations carry the text escaped (%0D, %0A): exactly one line each.
      expect(workflowCommands(run.stdout).filter((c) => /^::error::pwned|^::add-mask::pwned|^::warning title=x/.test(c))).toEqual([]);
      expect(run.summary).toContain("pwned-nel");
      const own = outsideCodeSpans(run.summary);
      expect(own).not.toMatch(/<|\]\(|pwned/);
      expect(run.summary.split("\n").filter((line) => line.includes("pwned"))).toHaveLength(1); // one row
    });
    it("an invalid images line's own text cannot close the code span around it in the summary", async () => {
      const line = "bad`` `x` ![p](https://evil.example/p.png) <b>bold</b> | [l](https://evil.example/)";
      const run = await runAction({ images: line }, { env: engine.env });
      expect(run.results).toMatchObject([{ image: line, status: "failed" }]);
      expect(run.summary).toContain("evil.example");
      expect(outsideCodeSpans(run.summary)).not.toMatch(/evil|<b>|`/);
    });
  });

  describe("§5 files named by inputs: inside the workspace, regular, small, not echoed", () => {
    it("images-file through a symbolic link out of the workspace is refused, naming the input and line; the images input goes ahead", async () => {
      const { up, id } = await seeded("files-kept");
      const secret = await seeded("files-outside");
      const { workspace, outside, env } = checkout();
      writeFileSync(join(outside, "images.txt"), `${secret.up}\n`);
      symlinkSync(join(outside, "images.txt"), join(workspace, "images.txt"));
      const run = await runAction({ images: up, "images-file": "images.txt" }, { env });
      expect(run.stdout).toMatch(/images-file line 1: refused: images.txt leads out of the workspace through a symbolic link/);
      expect(run.results.map((r) => [r.image, r.status])).toEqual([
        ["images-file images.txt", "failed"],
        [up, "pulled"],
      ]);
      expect(await engine.imageId(up)).toBe(id);
      expect(await engine.imageId(secret.up)).toBeUndefined();
      expect(run.stdout).not.toContain(secret.up);
    });

    it("a committed images.txt -> /dev/zero, a FIFO and a 2 MiB file: refused at once, nothing read", async () => {
      const { workspace, env } = checkout();
      symlinkSync("/dev/zero", join(workspace, "zero.txt"));
      execFileSync("mkfifo", [join(workspace, "fifo.txt")]);
      writeFileSync(join(workspace, "big.txt"), `${"# padding\n".repeat(210_000)}`);
      const reasons: Record<string, RegExp> = {
        "zero.txt": /refused: zero.txt leads out of the workspace through a symbolic link/,
        "fifo.txt": /refused: fifo.txt is not a regular file/,
        "big.txt": /refused: big.txt is larger than 1 MiB \(2100000 bytes\)/,
      };
      for (const [file, reason] of Object.entries(reasons)) {
        const run = await runAction({ "images-file": file }, { env, timeoutMs: 30_000 });
        expect(run.seconds, file).toBeLessThan(10);
        expect(run.results, file).toMatchObject([
          { status: "failed", origin: "images-file line 1", reason: expect.stringMatching(reason) },
        ]);
      }
    });

    it("images-from **/ does not walk a symlinked directory out of the workspace; a path through one is refused with its line", async () => {
      const inside = await seeded("from-inside");
      const secret = await seeded("from-outside");
      const { workspace, outside, env } = checkout();
      mkdirSync(join(workspace, "docker"));
      writeFileSync(join(workspace, "docker/Dockerfile"), `FROM ${inside.up}\n`);
      writeFileSync(join(outside, "Dockerfile"), `FROM ${secret.up}\n`);
      symlinkSync(outside, join(workspace, "elsewhere"));
      symlinkSync("/", join(workspace, "root"));
      const run = await runAction(
        { "images-from": "**/Dockerfile\nelsewhere/Dockerfile\n../outside/Dockerfile" },
        { env, timeoutMs: 60_000 },
      );
      expect(run.results.map((r) => [r.image, r.status])).toEqual([[inside.up, "pulled"]]);
      expect(run.stdout).toMatch(/images-from line 2: refused: elsewhere\/Dockerfile leads out of the workspace through a symbolic link/);
      expect(run.stdout).toMatch(/images-from line 3: refused: \.\.\/outside\/Dockerfile leaves the workspace \(\.\.\)/);
      expect(run.stdout).not.toContain(secret.up);
      expect(await engine.imageId(secret.up)).toBeUndefined();
    });

    it("images-from whose fixed part is a symbolic link out of the workspace (docker -> /) is refused once, naming its line, before any walk", async () => {
      const inside = await seeded("base-inside");
      const secret = await seeded("base-outside");
      const { workspace, outside, env } = checkout();
      mkdirSync(join(workspace, "app"));
      writeFileSync(join(workspace, "app/Dockerfile"), `FROM ${inside.up}\n`);
      mkdirSync(join(outside, "sub"));
      writeFileSync(join(outside, "sub/Dockerfile"), `FROM ${secret.up}\n`);
      symlinkSync("/", join(workspace, "docker"));
      symlinkSync(outside, join(workspace, "elsewhere"));
      const run = await runAction(
        { "images-from": "docker/**/*.json\nelsewhere/*/Dockerfile\napp/Dockerfile" },
        { env, timeoutMs: 60_000 },
      );
      expect(run.results.map((r) => [r.image, r.status])).toEqual([[inside.up, "pulled"]]);
      const lines = (n: number) => run.stdout.split("\n").filter((line) => line.includes(`images-from line ${n}`));
      expect(lines(1)).toHaveLength(1);
      expect(lines(1)[0]).toMatch(/images-from line 1: refused: docker leads out of the workspace through a symbolic link/);
      expect(lines(2)).toHaveLength(1);
      expect(lines(2)[0]).toMatch(/images-from line 2: refused: elsewhere leads out of the workspace through a symbolic link/);
      // No name of a file outside the workspace reaches the log.
      expect(run.stdout).not.toMatch(/docker\/(etc|usr|proc)\//);
      expect(run.stdout).not.toContain("sub/Dockerfile");
      expect(run.stdout).not.toContain(secret.up);
      expect(await engine.imageId(secret.up)).toBeUndefined();
    });

    it('a JSON file\'s "auth" value reaches no error, warning, result or summary: its lines are named by number', async () => {
      const { up, id } = await seeded("files-json");
      const { workspace, env } = checkout();
      const auth = "c2VjcmV0LXVzZXI6c2VjcmV0LXRva2Vu";
      writeFileSync(join(workspace, "config.json"), `{\n  "auths": {\n    "ghcr.io": { "auth": "${auth}" }\n  }\n}\n`);
      const run = await runAction({ images: up, "images-file": "config.json" }, { env });
      expect(run.results.find((r) => r.image === up)).toMatchObject({ status: "pulled" });
      expect(await engine.imageId(up)).toBe(id);
      expect(run.stdout).toContain("images-file config.json line 3: not an image reference");
      for (const [where, text] of Object.entries({
        stdout: run.stdout,
        stderr: run.stderr,
        summary: run.summary,
        outputs: JSON.stringify(run.outputs),
      })) {
        expect(text, where).not.toContain(auth);
        expect(text, where).not.toContain("auths");
      }
    });
  });
});
