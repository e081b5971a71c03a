// Issue 13, end to end: the images a build's own Dockerfiles and compose files name are
// pre-pulled (mirrors, verification, retries as for any image) and tagged under the exact
// names the files use, so the build finds them present while the upstream registry answers
// nothing but 503.
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCommand } from "../../src/engine.js";
import { type Docker, docker, FaultProxy, runAction, seedImage, startRegistry, uniqueName, worldUnavailable } from "../world/index.js";
import type { Registry } from "../world/registry.js";

describe.skipIf(worldUnavailable !== "")("images from the build's own files, end to end", () => {
  let engine: Docker;
  let upstream: Registry;
  let mirror: Registry;
  let proxy: FaultProxy;

  beforeAll(async () => {
    engine = docker();
    [upstream, mirror] = await Promise.all([startRegistry(), startRegistry()]);
    proxy = await FaultProxy.start(upstream.host);
  });
  afterAll(async () => {
    await proxy?.stop();
    await Promise.all([upstream?.stop(), mirror?.stop()]);
  });

  it("a multi-stage Dockerfile and a compose file: every image they pull is pre-pulled; the build then needs no registry", async () => {
    await engine.removeAllImages();
    const names = { base: uniqueName("base"), assets: uniqueName("assets"), web: uniqueName("web"), appBase: uniqueName("app-base") };
    const up = (path: string) => `${proxy.host}/${path}:1`;
    await seedImage(engine, [`${upstream.host}/${names.base}:1`, `${mirror.host}/m/${names.base.replaceAll("/", "-")}:1`]);
    for (const path of [names.assets, names.web, names.appBase]) await seedImage(engine, [`${upstream.host}/${path}:1`]);

    const workspace = mkdtempSync(join(tmpdir(), "prepull-workspace-"));
    writeFileSync(
      join(workspace, "Dockerfile"),
      [
        `ARG REGISTRY=${proxy.host}`,
        "ARG TAG",
        `FROM \${REGISTRY}/${names.base}:\${TAG} AS build`,
        `COPY --from=${up(names.assets)} /blob0 /from-assets`,
        "FROM build",
        "COPY --from=build /blob0 /copy",
        "",
      ].join("\n"),
    );
    writeFileSync(
      join(workspace, "compose.yaml"),
      [
        "services:",
        "  web:",
        `    image: \${UP_REGISTRY}/${names.web}:\${WEB_TAG:-latest}`,
        '    command: ["/never-run"]',
        "    network_mode: none",
        "  app:",
        "    image: local/app-built:1",
        '    command: ["/never-run"]',
        "    network_mode: none",
        "    build:",
        "      context: ./app",
        "",
      ].join("\n"),
    );
    writeFileSync(join(workspace, ".env"), "WEB_TAG=1\nUP_REGISTRY=overridden-by-the-environment\n");
    mkdirSync(join(workspace, "app"));
    writeFileSync(join(workspace, "app", "Dockerfile"), `FROM ${up(names.appBase)}\n`);

    const run = await runAction(
      { "images-from": "Dockerfile\n*.yaml", "build-args": "TAG=1", mirrors: `${mirror.host}/m` },
      { env: { ...engine.env, GITHUB_WORKSPACE: workspace, UP_REGISTRY: proxy.host } },
    );
    expect(run.exitCode, run.stdout).toBe(0);
    expect(run.outputs.images?.split("\n").sort()).toEqual([up(names.base), up(names.assets), up(names.web), up(names.appBase)].sort());
    const byImage = Object.fromEntries(run.results.map((r) => [r.image, r]));
    expect(byImage[up(names.base)]).toMatchObject({ status: "pulled", source: "mirror", origin: "images-from Dockerfile line 3" });
    expect(byImage[up(names.assets)]).toMatchObject({ status: "pulled", source: "upstream", origin: "images-from Dockerfile line 4" });
    expect(byImage[up(names.web)]).toMatchObject({ status: "pulled", origin: "images-from compose.yaml line 3" });
    expect(run.stdout).not.toMatch(/::warning::/);
    expect(byImage[up(names.appBase)]).toMatchObject({
      status: "pulled",
      origin: "images-from app/Dockerfile (service app of compose.yaml) line 1",
    });
    // The built image's name is what compose builds, not something to pull.
    expect(run.outputs.images).not.toContain("local/app-built");

    // Upstream answers nothing but 503 from now on.
    proxy.addRule({ path: /.*/, fault: { kind: "status", status: 503 } });
    const classic = await engine.run(["build", "-q", "--build-arg", "TAG=1", "-t", "local/built:1", workspace], { DOCKER_BUILDKIT: "0" });
    expect(classic.exitCode, classic.stderr).toBe(0);
    const app = await engine.run(["build", "-q", "-t", "local/app-built:1", join(workspace, "app")], { DOCKER_BUILDKIT: "0" });
    expect(app.exitCode, app.stderr).toBe(0);
    expect(await engine.imageId(up(names.web))).toMatch(/^sha256:[a-f0-9]{64}$/);
    // docker-compose (v1, Debian's; v2 is not packaged there) creates the services' containers
    // from the images present, asking no registry (nothing is started).
    const compose = await runCommand(
      "docker-compose",
      ["--project-directory", workspace, "-f", join(workspace, "compose.yaml"), "-p", "prepull-e2e", "up", "--no-start", "--no-build"],
      { env: { ...process.env, ...engine.env, UP_REGISTRY: proxy.host }, timeoutMs: 120_000 },
    );
    expect(compose.exitCode, compose.stderr).toBe(0);
    await runCommand(
      "docker-compose",
      ["--project-directory", workspace, "-f", join(workspace, "compose.yaml"), "-p", "prepull-e2e", "down"],
      {
        env: { ...process.env, ...engine.env, UP_REGISTRY: proxy.host },
        timeoutMs: 120_000,
      },
    );
    // `--pull` asks the registry whatever is present: it fails here.
    const pulling = await engine.run(["build", "--pull", "-q", "--build-arg", "TAG=1", workspace], { DOCKER_BUILDKIT: "0" });
    expect(pulling.exitCode).not.toBe(0);
    expect(pulling.stderr).toMatch(/503|Service Unavailable/);
  });

  it("a FROM whose variable has no value is a warning naming the file and line, and a path that names no file is a problem", async () => {
    const workspace = mkdtempSync(join(tmpdir(), "prepull-workspace-"));
    writeFileSync(join(workspace, "Dockerfile"), "ARG BASE\nFROM ${BASE}:1\n");
    const run = await runAction(
      { "images-from": "Dockerfile\nmissing/Dockerfile" },
      { env: { ...engine.env, GITHUB_WORKSPACE: workspace } },
    );
    expect(run.exitCode, run.stdout).toBe(0);
    expect(run.stdout).toMatch(/::warning::images-from: Dockerfile line 2: FROM \$\{BASE\}:1 needs BASE, which has no value/);
    expect(run.stdout).toMatch(/::warning::images-from line 2: no file matches missing\/Dockerfile/);
    expect(run.results).toEqual([]);
  });
});
