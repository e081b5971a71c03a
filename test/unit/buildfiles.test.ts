import { describe, expect, it } from "vitest";
import { buildFileKind, composeEnvironment, composeImages, dockerfileImages } from "../../src/resolve/buildfiles.js";
import { parseDotEnv } from "../../src/resolve/dotenv.js";
import { substitute, TemplateError } from "../../src/resolve/interpolate.js";
import { processWord, WordError } from "../../src/resolve/shellword.js";

describe("variables: compose interpolation and a Dockerfile word", () => {
  const vars: Record<string, string> = { SET: "v", EMPTY: "" };
  const lookup = (name: string) => vars[name];
  it.each([
    ["$SET", "v", []],
    ["${SET}", "v", []],
    ["${SET:-d}", "v", []],
    ["${EMPTY:-d}", "d", []],
    ["${EMPTY-d}", "", []],
    ["${UNSET-d}", "d", []],
    ["${UNSET:-d}", "d", []],
    ["${SET:+alt}", "alt", []],
    ["${EMPTY:+alt}", "", []],
    ["${EMPTY+alt}", "alt", []],
    ["${UNSET+alt}", "", []],
    ["${UNSET:-${SET}-x}", "v-x", []],
    ["${UNSET:-${UNSET2:-${EMPTY:-deep}}}", "deep", []],
    ["a/${UNSET}:1", "a/:1", ["UNSET"]],
    ["$UNSET", "", ["UNSET"]],
    ["${SET?must be set}", "v", []],
  ] as const)("%s → %j (unset %j), in compose and in a Dockerfile alike", (text, value, unset) => {
    expect(substitute(text, lookup)).toEqual({ value, unset });
    expect(processWord(text, lookup)).toEqual({ value, unset });
  });

  it("a required variable without a value stops compose and docker alike", () => {
    expect(() => substitute("${UNSET:?must be set}", lookup)).toThrow(TemplateError);
    expect(() => processWord("${UNSET:?must be set}", lookup)).toThrow(WordError);
  });

  it("$$ is a literal $ in compose, a special parameter without a value in a Dockerfile; quotes are removed in a Dockerfile word, not in compose", () => {
    expect(substitute("a$$b", lookup).value).toBe("a$b");
    expect(processWord("a$$b", lookup).value).toBe("ab");
    expect(processWord(`"a $SET"'$SET'\\$SET`, lookup).value).toBe("a v$SET$SET");
    expect(substitute(`"a $SET"`, lookup).value).toBe(`"a v"`);
  });

  it("compose interpolation reads no token, no input and no runner variable from the environment", () => {
    const lookup = composeEnvironment({
      GH_TOKEN: "t",
      GITHUB_TOKEN: "t",
      my_token_x: "t",
      INPUT_GITHUB_TOKEN: "t",
      ACTIONS_RUNTIME_TOKEN: "t",
      ACTIONS_ID_TOKEN_REQUEST_URL: "u",
      TAG: "1",
    });
    expect(
      substitute("r/x:${GH_TOKEN}${GITHUB_TOKEN}${my_token_x}${INPUT_GITHUB_TOKEN}${ACTIONS_ID_TOKEN_REQUEST_URL}-${TAG}", lookup),
    ).toEqual({
      value: "r/x:-1",
      unset: ["GH_TOKEN", "GITHUB_TOKEN", "my_token_x", "INPUT_GITHUB_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_URL"],
    });
  });
});

describe("dockerfileImages", () => {
  const dockerfile = [
    "# syntax=docker/dockerfile:1",
    "ARG BASE=registry.example/base",
    "ARG TAG=1.0",
    "ARG UNSET_BASE",
    "FROM ${BASE}:${TAG} AS build",
    "ARG TAG",
    "RUN --mount=type=cache,target=/c --mount=type=bind,from=registry.example/tools:2,target=/t make",
    "COPY --from=registry.example/assets:3 /a /a",
    "FROM --platform=linux/arm64 registry.example/runtime:4",
    "COPY --from=build /out /out",
    "COPY --from=0 /x /x",
    "FROM --platform=$BUILDPLATFORM registry.example/cross:5 AS cross",
    "FROM scratch",
    "FROM build",
    "FROM ${UNSET_BASE}:1",
  ].join("\n");

  it("names every image a build pulls: # syntax=, FROM, COPY --from, RUN --mount from; no stage, no scratch", () => {
    const found = dockerfileImages(dockerfile, "Dockerfile", new Map(), { build: "linux/amd64" });
    expect(found.images).toEqual([
      { text: "docker/dockerfile:1", line: 1 },
      { text: "registry.example/base:1.0", line: 5 },
      { text: "registry.example/tools:2", line: 7 },
      { text: "registry.example/assets:3", line: 8 },
      { text: "registry.example/runtime:4", line: 9, platform: "linux/arm64" },
      // $BUILDPLATFORM: BuildKit's automatic ARG, the builder's own platform
      { text: "registry.example/cross:5", line: 12, platform: "linux/amd64" },
      // docker reads it as ":1" and fails; the caller warns rather than pull it
      { text: ":1", line: 15, unset: ["UNSET_BASE"] },
    ]);
    expect(found.warnings).toEqual([
      "Dockerfile line 15: FROM ${UNSET_BASE}:1 needs UNSET_BASE, which has no value (set it in build-args); docker reads it as empty: :1",
    ]);
  });

  it("BuildKit's automatic platform ARGs: BUILD* of the builder, TARGET* of the platform asked (else the builder's); a declared default does not override them", () => {
    const content = [
      "ARG TARGETARCH=ignored",
      "FROM --platform=$BUILDPLATFORM registry.example/tool:${BUILDARCH} AS tool",
      "FROM registry.example/runtime:${TARGETOS}-${TARGETARCH}${TARGETVARIANT:+-$TARGETVARIANT}",
      "ARG TARGETPLATFORM",
      "COPY --from=registry.example/assets:${TARGETARCH} /a /a",
      "RUN --mount=from=registry.example/cache:${TARGETPLATFORM},target=/c true",
    ].join("\n");
    expect(dockerfileImages(content, "Dockerfile", new Map(), { build: "linux/amd64", target: "linux/arm/v7" }).images).toEqual([
      { text: "registry.example/tool:amd64", line: 2, platform: "linux/amd64" },
      { text: "registry.example/runtime:linux-arm-v7", line: 3 },
      // a stage sees only the ARGs it declares: TARGETARCH is not declared there, TARGETPLATFORM is
      { text: "registry.example/assets:", line: 5, unset: ["TARGETARCH"] },
      { text: "registry.example/cache:linux/arm/v7", line: 6 },
    ]);
    expect(dockerfileImages("FROM registry.example/x:${TARGETARCH}", "Dockerfile", new Map(), { build: "linux/arm64" }).images).toEqual([
      { text: "registry.example/x:arm64", line: 1 },
    ]);
  });

  it("a global ARG reaches a stage's COPY --from only through `ARG NAME` in that stage, as in docker", () => {
    const content =
      "ARG V=1\nFROM registry.example/a\nCOPY --from=registry.example/b:$V /x /x\nARG V\nCOPY --from=registry.example/c:$V /y /y";
    expect(dockerfileImages(content, "Dockerfile", new Map()).images.map((i) => i.text)).toEqual([
      "registry.example/a",
      "registry.example/b:",
      "registry.example/c:1",
    ]);
  });

  it("build-args take precedence over ARG defaults and fill ARGs without one", () => {
    const found = dockerfileImages(
      dockerfile,
      "Dockerfile",
      new Map([
        ["TAG", "2.0"],
        ["UNSET_BASE", "registry.example/late"],
      ]),
    );
    expect(found.images.map((i) => i.text)).toContain("registry.example/base:2.0");
    expect(found.images.map((i) => i.text)).toContain("registry.example/late:1");
    expect(found.warnings).toEqual([]);
  });
});

describe("composeImages", () => {
  const compose = [
    "services:",
    "  web:",
    "    image: ${REGISTRY:-registry.example}/web:${WEB_TAG}",
    "  db:",
    '    image: "registry.example/db:$${NOT_A_VAR}"',
    "  app:",
    "    image: registry.example/app-built:latest",
    "    build:",
    "      context: ./app",
    "      dockerfile: app.Dockerfile",
    "      args:",
    "        BASE: registry.example/app-base",
    "  worker:",
    "    build: ./worker",
    "  arm:",
    "    image: registry.example/arm:1",
    "    platform: linux/arm64",
    "  broken:",
    "    image: registry.example/broken:${NOPE}",
  ].join("\n");

  it("reads services.*.image with interpolation; build services give their Dockerfile, not their image", () => {
    const env: Record<string, string> = { WEB_TAG: "7" };
    const found = composeImages(compose, "compose.yaml", (name) => env[name]);
    expect(found.images).toEqual([
      { text: "registry.example/web:7", line: 3 },
      { text: "registry.example/db:${NOT_A_VAR}", line: 5 },
      { text: "registry.example/arm:1", line: 16, platform: "linux/arm64" },
      { text: "registry.example/broken:", line: 19, unset: ["NOPE"] },
    ]);
    expect(found.builds.map((b) => [b.service, b.dockerfile, Object.fromEntries(b.args)])).toEqual([
      ["app", "./app/app.Dockerfile", { BASE: "registry.example/app-base" }],
      ["worker", "./worker/Dockerfile", {}],
    ]);
    expect(found.warnings).toEqual([
      "compose.yaml line 19: registry.example/broken:${NOPE} needs NOPE, which has no value; compose reads it as empty: registry.example/broken:",
    ]);
  });

  it("follows merge keys as YAML 1.1 merges them: a key of the service wins, then the earlier of several sources; aliases as values", () => {
    const found = composeImages(
      [
        "x-a: &a",
        "  image: registry.example/a:1",
        "  platform: linux/arm64",
        "x-b: &b",
        "  image: registry.example/b:1",
        "x-img: &img registry.example/aliased:1",
        "services:",
        "  first-wins:",
        "    <<: [*a, *b]",
        "  own-wins:",
        "    <<: *a",
        "    image: registry.example/own:1",
        "  aliased:",
        "    image: *img",
        "  extended:",
        "    extends:",
        "      service: own-wins",
      ].join("\n"),
      "compose.yaml",
      () => undefined,
    );
    expect(found.images).toEqual([
      { text: "registry.example/a:1", line: 2, platform: "linux/arm64" },
      { text: "registry.example/own:1", line: 12, platform: "linux/arm64" },
      { text: "registry.example/aliased:1", line: 6 },
      { text: "registry.example/own:1", line: 12, platform: "linux/arm64" },
    ]);
  });

  it("reads .env as compose does", () => {
    expect(parseDotEnv("# c\nA=1\nexport B=\"two words\"\nC='x' \nD=bare # comment\nE=${A}-$B\n")).toEqual(
      new Map([
        ["A", "1"],
        ["B", "two words"],
        ["C", "x"],
        ["D", "bare"],
        ["E", "1-two words"],
      ]),
    );
    expect(() => parseDotEnv("A=1\nnot a line\n")).toThrow(/line 2: key cannot contain a space/);
  });
});

describe("buildFileKind", () => {
  it.each([
    ["Dockerfile", "dockerfile"],
    ["docker/Dockerfile.release", "dockerfile"],
    ["build/app.Dockerfile", "dockerfile"],
    ["compose.yaml", "compose"],
    ["compose.override.yml", "compose"],
    ["deploy/docker-compose.yml", "compose"],
    ["docker-compose.ci.yaml", "compose"],
    ["images.txt", undefined],
    ["Makefile", undefined],
  ])("%s → %s", (name, kind) => {
    expect(buildFileKind(name)).toBe(kind);
  });
});
