import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { diskVerdict } from "../../src/engine/disk.js";
import { engineArgs, engineEnv, engineMessage, runCommand } from "../../src/engine/engine.js";
import { PullProgress } from "../../src/pull/progress.js";

describe("engine argument vectors", () => {
  it("pull: platform, and podman's plain HTTP for a loopback registry only", () => {
    expect(engineArgs.pull("docker", "r/x:1")).toEqual(["pull", "r/x:1"]);
    expect(engineArgs.pull("docker", "127.0.0.1:5000/x:1", { platform: "linux/arm64", insecure: true })).toEqual([
      "pull",
      "--platform",
      "linux/arm64",
      "127.0.0.1:5000/x:1",
    ]);
    expect(engineArgs.pull("podman", "127.0.0.1:5000/x:1", { insecure: true })).toEqual([
      "pull",
      "--tls-verify=false",
      "127.0.0.1:5000/x:1",
    ]);
    expect(engineArgs.pull("podman", "ghcr.io/o/x:1")).toEqual(["pull", "ghcr.io/o/x:1"]);
  });

  it("tag, untag, inspect, info", () => {
    expect(engineArgs.tag("a:1", "b:1")).toEqual(["tag", "a:1", "b:1"]);
    expect(engineArgs.untag("docker", "a:1")).toEqual(["image", "rm", "a:1"]);
    expect(engineArgs.untag("podman", "a:1")).toEqual(["untag", "a:1"]);
    expect(engineArgs.inspect("a:1")).toEqual(["image", "inspect", "a:1"]);
    expect(engineArgs.info("podman")).toEqual(["info", "--format", "json"]);
  });

  it("an input is one argument, whatever it holds: no shell ever reads it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "prepull-noshell-"));
    const marker = join(dir, "shell-ran");
    const hostile = `x:1; touch ${marker} #$(touch ${marker})\`touch ${marker}\``;
    // The vector the engine gets, run through the same runner with a program that echoes it back.
    const [, ref] = engineArgs.pull("docker", hostile);
    const echoed = await runCommand("printf", ["%s", ref ?? ""]);
    expect(echoed.stdout).toBe(hostile);
    expect(existsSync(marker)).toBe(false);
  });

  it("hides a DOCKER_CONFIG without config.json from podman only", () => {
    const empty = mkdtempSync(join(tmpdir(), "prepull-dc-"));
    expect(engineEnv("podman", { DOCKER_CONFIG: empty, PATH: "/bin" })).toEqual({ PATH: "/bin" });
    expect(engineEnv("docker", { DOCKER_CONFIG: empty })).toEqual({ DOCKER_CONFIG: empty });
    writeFileSync(join(empty, "config.json"), "{}");
    expect(engineEnv("podman", { DOCKER_CONFIG: empty })).toEqual({ DOCKER_CONFIG: empty });
  });

  it("puts the engine's message on one line", () => {
    expect(engineMessage("Error response from daemon:\n  manifest unknown\n\n")).toBe("Error response from daemon: | manifest unknown");
  });
});

describe("PullProgress", () => {
  const layers = [
    { digest: `sha256:aaaaaaaaaaaa${"0".repeat(52)}`, size: 100_000_000 },
    { digest: `sha256:bbbbbbbbbbbb${"0".repeat(52)}`, size: 50_000_000 },
  ];

  it("counts docker's per-layer events against the manifest's sizes", () => {
    const progress = new PullProgress(layers, 0);
    expect(progress.text(5000)).toBe("0 B of 150.0 MB (0 of 2 layers), 5 s");
    progress.onLine("aaaaaaaaaaaa: Pulling fs layer");
    progress.onLine("aaaaaaaaaaaa: Download complete");
    expect(progress.text(10_000)).toBe("100.0 MB of 150.0 MB (1 of 2 layers), 10 s");
    progress.onLine("bbbbbbbbbbbb: Already exists");
    expect(progress.text(11_000)).toBe("150.0 MB of 150.0 MB (2 of 2 layers), 11 s");
  });

  it("reads podman's lines, and says what it can without sizes", () => {
    const progress = new PullProgress(layers, 0);
    progress.onLine(`Copying blob sha256:bbbbbbbbbbbb${"0".repeat(52)}`);
    expect(progress.text(1000)).toBe("0 B of 150.0 MB (0 of 2 layers), 1 s");
    progress.onLine(`Copying blob sha256:bbbbbbbbbbbb${"0".repeat(52)} done`);
    expect(progress.text(2000)).toBe("50.0 MB of 150.0 MB (1 of 2 layers), 2 s");
    const unknown = new PullProgress(undefined, 0);
    unknown.onLine("aaaaaaaaaaaa: Pull complete");
    expect(unknown.text(3000)).toBe("1 layer(s) done, 3 s");
  });
});

describe("diskVerdict", () => {
  it("needs compressed × 2.5 and names the numbers and the place", () => {
    const short = diskVerdict(1_000_000_000, 2_000_000_000, "/var/lib/docker");
    expect(short.enough).toBe(false);
    expect(short.message).toBe("not enough disk space: needs about 2.5 GB, 2.0 GB free on /var/lib/docker (1.0 GB compressed × 2.5)");
    const fine = diskVerdict(100_000_000, 20_000_000_000, "/var/lib/docker", [
      "docker.io/library/alpine:3: served by Docker Hub: not measured",
    ]);
    expect(fine.enough).toBe(true);
    expect(fine.message).toMatch(
      /^disk space: needs about 0\.25 GB, 20\.0 GB free on \/var\/lib\/docker .*not counted: docker\.io\/library\/alpine:3/,
    );
  });

  it("says so when nothing could be measured", () => {
    expect(diskVerdict(0, 5e9, "/d", ["x: served by Docker Hub"], false).message).toBe(
      "disk space: not estimated, no image size could be read (x: served by Docker Hub); 5.0 GB free on /d",
    );
  });
});
