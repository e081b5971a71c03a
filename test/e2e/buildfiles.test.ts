// Issue 13, end to end: the images a build's own Dockerfiles and compose files name are
// pre-pulled (mirrors, verification, retries as for any image) and tagged under the exact
// names the files use, so the build finds them present while the upstream registry answers
// nothing but 503.
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCommand } from "../../src/engine/engine.js";
import { itkSetVarsScript } from "../fixtures/itk-set-vars.js";
import { runAction, seedImage, uniqueName, useWorld, worldUnavailable } from "../world/index.js";

describe.skipIf(worldUnavailable !== "")("images from the build's own files, end to end", () => {
  const {
    engine,
    files,
    registry: { upstream, mirror },
    proxy: { upstream: proxy },
  } = useWorld({ registries: { upstream: { proxy: true }, mirror: {} }, files: true });

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

  it("issue 22: quoted ARG defaults, # syntax=, FROM --platform=, a variable with no value read as empty (warned); compose merge keys and a .env that expands: what docker and compose read is pre-pulled, and found present while upstream answers 503", async () => {
    await engine.removeAllImages();
    const names = {
      syntax: uniqueName("syntax"),
      base: uniqueName("quoted-base"),
      plat: uniqueName("plat"),
      web: uniqueName("merged-web"),
      other: uniqueName("merged-other"),
      tokened: uniqueName("tokened"),
    };
    const up = (path: string) => `${proxy.host}/${path}:1`;
    for (const path of Object.values(names)) await seedImage(engine, [`${upstream.host}/${path}:1`]);

    const workspace = mkdtempSync(join(tmpdir(), "prepull-workspace-"));
    writeFileSync(
      join(workspace, "Dockerfile"),
      [
        `# syntax=${up(names.syntax)}`,
        `ARG REGISTRY="${proxy.host}"`,
        "ARG TAG='1'",
        'ARG EMPTY=""',
        "ARG SUFFIX",
        `FROM "\${REGISTRY}/${names.base}:\${TAG}\${EMPTY}" AS build`,
        `FROM --platform=linux/amd64 \${REGISTRY}/${names.plat}:"\${TAG}"\${SUFFIX}`,
        "COPY --from=build /blob0 /copy",
        "",
      ].join("\n"),
    );
    writeFileSync(
      join(workspace, ".env"),
      [
        "# what compose reads beside the file: quotes, a comment after them, earlier lines and the environment expanded",
        "MAJOR=1",
        'WEB_TAG="${MAJOR}" # quoted, then a comment',
        `WEB_IMAGE=\${UP_REGISTRY}/${names.web}:\${WEB_TAG}`,
        "",
      ].join("\n"),
    );
    writeFileSync(
      join(workspace, "compose.yaml"),
      [
        "x-common: &common",
        "  image: ${WEB_IMAGE}",
        '  command: ["/never-run"]',
        "  network_mode: none",
        "services:",
        "  web:",
        "    <<: *common",
        "  other:",
        "    <<: *common",
        `    image: \${UP_REGISTRY}/${names.other}:\${WEB_TAG}\${SUFFIX}`,
        "  tokened:",
        "    <<: *common",
        `    image: \${UP_REGISTRY}/${names.tokened}:\${GH_TOKEN:-1}`,
        "",
      ].join("\n"),
    );

    // Before prepull, with upstream answering 503, compose cannot create the services.
    const composeEnv = { ...process.env, ...engine.env, UP_REGISTRY: proxy.host };
    const composeArgs = ["--project-directory", workspace, "-f", join(workspace, "compose.yaml"), "-p", "prepull-e2e-22"];
    proxy.addRule({ path: /.*/, fault: { kind: "status", status: 503 } });
    const before = await runCommand("docker-compose", [...composeArgs, "up", "--no-start", "--no-build"], {
      env: composeEnv,
      timeoutMs: 120_000,
    });
    expect(before.exitCode).not.toBe(0);
    proxy.clearRules();
    proxy.resetLog();

    const secret = "ghp_notARealTokenButSecret";
    const run = await runAction(
      { "images-from": "Dockerfile\ncompose.yaml" },
      { env: { ...engine.env, GITHUB_WORKSPACE: workspace, UP_REGISTRY: proxy.host, GH_TOKEN: secret } },
    );
    expect(run.exitCode, run.stdout).toBe(0);
    // SUFFIX has no value: empty, as docker and compose read it, and said once for each file
    expect(run.stdout.match(/::warning::.*/g)).toEqual([
      expect.stringMatching(
        /^::warning::images-from: Dockerfile line 7: FROM .* needs SUFFIX, which has no value .*docker reads it as empty: 127\.0\.0\.1:\d+\/.*plat.*:1$/,
      ),
      expect.stringMatching(
        /^::warning::images-from: compose.yaml line 10: .* needs SUFFIX, which has no value; compose reads it as empty: 127\.0\.0\.1:\d+\/.*other.*:1$/,
      ),
    ]);
    expect(run.outputs.images?.split("\n").sort()).toEqual(Object.values(names).map(up).sort());
    const byImage = Object.fromEntries(run.results.map((r) => [r.image, r]));
    expect(byImage[up(names.syntax)]).toMatchObject({ status: "pulled", origin: "images-from Dockerfile line 1" });
    expect(byImage[up(names.base)]).toMatchObject({ status: "pulled", origin: "images-from Dockerfile line 6" });
    expect(byImage[up(names.base)]).not.toHaveProperty("platform");
    expect(byImage[up(names.plat)]).toMatchObject({ status: "pulled", platform: "linux/amd64", origin: "images-from Dockerfile line 7" });
    // merged from the anchor: its line is the anchor's
    expect(byImage[up(names.web)]).toMatchObject({ status: "pulled", origin: "images-from compose.yaml line 2" });
    expect(byImage[up(names.other)]).toMatchObject({ status: "pulled", origin: "images-from compose.yaml line 10" });
    // compose interpolation reads no token from the step's environment: none reached a registry
    expect(byImage[up(names.tokened)]).toMatchObject({ status: "pulled", origin: "images-from compose.yaml line 13" });
    expect(proxy.requests.length).toBeGreaterThan(0);
    expect(proxy.requests.filter((r) => r.path.includes(secret))).toEqual([]);
    expect(run.stdout).not.toContain(secret);

    // Upstream answers nothing but 503 from now on: the build and compose find everything present.
    proxy.addRule({ path: /.*/, fault: { kind: "status", status: 503 } });
    for (const path of Object.values(names)) expect(await engine.imageId(up(path))).toMatch(/^sha256:[a-f0-9]{64}$/);
    // the legacy builder reads the quoted ARGs and --platform as BuildKit does (it ignores # syntax=, whose image is present above)
    const build = await engine.run(["build", "-q", "-t", "local/issue22:1", workspace], { DOCKER_BUILDKIT: "0" });
    expect(build.exitCode, build.stderr).toBe(0);
    const compose = await runCommand("docker-compose", [...composeArgs, "up", "--no-start", "--no-build"], {
      env: composeEnv,
      timeoutMs: 120_000,
    });
    expect(compose.exitCode, compose.stderr).toBe(0);
    await runCommand("docker-compose", [...composeArgs, "down"], { env: composeEnv, timeoutMs: 120_000 });
    proxy.clearRules();
  });

  it("issue 22: set-vars-env is read by the same dotenv parser: `NAME=value # comment` gives value, and ITK's script resolves its image", async () => {
    const image = `${upstream.host}/dockcross/manylinux_2_28-x64:20240304-9e57d2b`;
    await seedImage(engine, [image]);
    files.routes.set("/itk/set-vars.sh", { status: 200, body: itkSetVarsScript({ x64: upstream.host, aarch64: upstream.host }) });
    const run = await runAction(
      {
        "set-vars-url": files.url("/itk/set-vars.sh"),
        "set-vars-env": `# ITK's defaults\nMANYLINUX_VERSION=_2_28 # the manylinux flavour\nTARGET_ARCH="x64" # the runner's`,
        "on-failure": "fail",
      },
      { env: engine.env },
    );
    expect(run.exitCode, run.stdout).toBe(0);
    expect(run.outputs.images).toBe(image);
    expect(run.results[0]).toMatchObject({ status: "pulled" });
  });

  it("a FROM whose variable has no value is a warning naming the file and line, and a path that names no file is a problem", async () => {
    const workspace = mkdtempSync(join(tmpdir(), "prepull-workspace-"));
    writeFileSync(join(workspace, "Dockerfile"), "ARG BASE\nFROM ${BASE}:1\n");
    const run = await runAction(
      { "images-from": "Dockerfile\nmissing/Dockerfile" },
      { env: { ...engine.env, GITHUB_WORKSPACE: workspace } },
    );
    expect(run.exitCode, run.stdout).toBe(0);
    expect(run.stdout).toMatch(
      /::warning::images-from: Dockerfile line 2: FROM \$\{BASE\}:1 needs BASE, which has no value \(set it in build-args\); docker reads it as empty: :1/,
    );
    // the reference it makes is not valid: named by file and line, its text not shown (issue 21 §5)
    expect(run.stdout).toMatch(
      /::warning::images-from Dockerfile line 2: not an image reference \(a line read from a file is not shown\); not pre-pulled/,
    );
    expect(run.stdout).toMatch(/::warning::images-from line 2: no file matches missing\/Dockerfile/);
    expect(run.results).toEqual([]);
  });
});
