// Renovate's Dockerfile and compose extraction tables, translated: every case whose outcome
// decides what docker or compose would pull. From github.com/renovatebot/renovate at
// c2dd4f856f068eeda4c10afc3752c35fe1f6cab1 (2026-08-22): lib/modules/manager/dockerfile/
// extract.spec.ts and __fixtures__/{1,2,3,4}.Dockerfile, lib/modules/manager/docker-compose/
// extract.spec.ts and __fixtures__/docker-compose.*.yml (AGPL-3.0; the cases, not the code).
// Renovate extracts what it can update; prepull lists what the build pulls. Where the two
// differ, prepull follows docker (BuildKit) and compose, and the case says why ("docker:").
// Renovate's registry-alias and replace-template cases decide nothing pulled and are left out.
import { describe, expect, it } from "vitest";
import { composeImages, dockerfileImages } from "../../src/resolve/buildfiles.js";
import { parseImageLine } from "../../src/resolve/images.js";

const D = "sha256:d743b4141b02fcfb8beb68f92b4cd164f60ee457bf2d053f36785bf86de16b0d";
const pulled = (content: string) => dockerfileImages(content, "Dockerfile", new Map()).images.map((image) => image.text);

const FIXTURE_1 = `# -- Base images
# Pinned to specific versions, and updated by Renovate
FROM node:8.11.3-alpine@${D} AS node
FROM buildkite/puppeteer:1.1.1 AS puppeteer

FROM    node AS production
ENV     NODE_ENV=production
COPY    . /app
RUN     yarn run build

FROM production as development
FROM development as test
FROM puppeteer AS integration-tests
ENV  PATH="\${PATH}:/node_modules/.bin"
FROM production
`;
const FIXTURE_2 = [
  "# different FROM syntaxes",
  " FROM  image1 as\t\tname1",
  "",
  "FROM image2:1.0.0@sha256:abcdef \\",
  "\tas name2",
  "",
  "# FROM image3",
  "",
  "FROM\\",
  "    --platform=$arg \\",
  "\t# comment1",
  "\t image4",
  "",
  "\tFROM \t\\",
  " \t  \\",
  "   image5 \\",
  "\t#comment5",
  "\tas name3",
  "",
  "# different COPY --from syntaxes",
  "COPY --from=image6 /path/1 /path/2",
  "",
  " COPY \\",
  "\t# comment1",
  "\t--from=image7:1.0.0@sha256:abcdef \\",
  "\t/path/1 \\",
  "\t/path/2",
  "",
  "# COPY --from=image8",
  "",
  "COPY --chown=root --from=image11 / ./",
  "",
  "\tCOPY \t\\",
  " \t  \\",
  "   --from=image12 a \\",
  "\t#comment5",
  "\tb",
  "",
  "COPY\t--from=image13 --chown=root: a b",
].join("\n");
const FIXTURE_3 = [
  " ARG \\",
  "\t# multi-line arg",
  "   ALPINE_VERSION=alpine:3.15.4",
  "",
  "FROM \\",
  "${ALPINE_VERSION} as stage1",
  "",
  "ARG   \\",
  "  \\",
  " # multi-line arg",
  " # and multi-line comment",
  '   nginx_version="nginx:1.18.0-alpine@sha256:ca9fac83c6c89a09424279de522214e865e322187b22a1a29b12747a4287b7bd"',
  "",
  "FROM $nginx_version as stage2",
].join("\n");
const FIXTURE_4 = [
  "#  syntax=docker/dockerfile:1",
  " # EsCaPe=`",
  " ARG `",
  "\t# multi-line arg",
  "   ALPINE_VERSION=alpine:3.15.4",
  "",
  "FROM `",
  "${ALPINE_VERSION} as stage1",
  "",
  "ARG   `",
  "  `",
  " # multi-line arg",
  " # and multi-line comment",
  '   nginx_version="nginx:18.04@sha256:abcdef"',
  "",
  "FROM $nginx_version as stage2",
  "",
  "\tFROM \t`",
  " \t  `",
  "   image5 `",
  "\t#comment5",
  "\tas name3",
  "",
  "\tCOPY \t`",
  " \t  `",
  "   --from=image12 a `",
  "\t#comment5",
  "\tb",
].join("\n");

describe("renovate dockerfile/extract.spec.ts: what docker pulls", () => {
  it.each([
    ["handles no FROM", "no from!", []],
    ["handles naked dep", "FROM node\n", ["node"]],
    [
      "handles run --mount=from",
      "FROM scratch as build\nFROM scratch as final\n" +
        "RUN --mount=from=ghcr.io/astral-sh/uv,source=/uv,target=/bin/uv uv pip install numpy\n" +
        "RUN --mount=type=cache,from=example.com/cache/image,target=/root/.cache pip install numpy\n" +
        "RUN --mount=type=bind,from=build,source=/project/dist/lib.whl,target=/dist/lib.whl pip install /dist/lib.whl\n",
      ["ghcr.io/astral-sh/uv", "example.com/cache/image"],
    ],
    ["is case insensitive", "From node\n", ["node"]],
    ["handles tag", "FROM node:8.9.0-alpine\n", ["node:8.9.0-alpine"]],
    ["handles digest", `FROM node@${D}\n`, [`node@${D}`]],
    ["handles tag and digest", `FROM node:8.9.0@${D}\n`, [`node:8.9.0@${D}`]],
    ["handles from as", "FROM node:8.9.0-alpine as base\n", ["node:8.9.0-alpine"]],
    ["handles comments", "# some comment\n# another\n\nFROM node\n", ["node"]],
    ["handles custom hosts", "FROM registry2.something.info/node:8\n", ["registry2.something.info/node:8"]],
    ["handles custom hosts and suffix", "FROM registry2.something.info/node:8-alpine\n", ["registry2.something.info/node:8-alpine"]],
    ["handles custom hosts with port", "FROM registry2.something.info:5005/node:8\n", ["registry2.something.info:5005/node:8"]],
    ["handles custom hosts with port without tag", "FROM registry2.something.info:5005/node\n", ["registry2.something.info:5005/node"]],
    ["handles quay hosts with port", "FROM quay.io:1234/node\n", ["quay.io:1234/node"]],
    ["handles namespaced images", "FROM mynamespace/node:8\n", ["mynamespace/node:8"]],
    [
      "handles custom hosts with namespace",
      "FROM registry2.something.info/someaccount/node:8\n",
      ["registry2.something.info/someaccount/node:8"],
    ],
    ["handles abnormal spacing", "FROM    registry.allmine.info:5005/node:8.7.0\n\n", ["registry.allmine.info:5005/node:8.7.0"]],
    [
      "extracts multiple FROM tags",
      "FROM node:6.12.3 as frontend\n\n# comment\nENV foo=bar\nFROM python:3.6-slim\n",
      ["node:6.12.3", "python:3.6-slim"],
    ],
    ["extracts tags from Dockerfile which begins with a BOM marker", "\uFEFFFROM node:6.12.3 as frontend\n\n", ["node:6.12.3"]],
    ["skips scratches", "FROM scratch\nADD foo\n", []],
    ["skips named multistage FROM tags", "FROM node:6.12.3 as frontend\n\n# comment\nENV foo=bar\nFROM frontend\n", ["node:6.12.3"]],
    [
      "handles COPY --from",
      "FROM scratch\nCOPY --from=gcr.io/k8s-skaffold/skaffold:v0.11.0 /usr/bin/skaffold /usr/bin/skaffold\n",
      ["gcr.io/k8s-skaffold/skaffold:v0.11.0"],
    ],
    [
      "handles COPY --from with digest",
      `FROM scratch\nCOPY --from=gcr.io/k8s-skaffold/skaffold:v0.11.0@${D} \\\n  /usr/bin/skaffold /usr/bin/skaffold\n`,
      [`gcr.io/k8s-skaffold/skaffold:v0.11.0@${D}`],
    ],
    [
      "handles COPY --link --from",
      "FROM scratch\nCOPY --link --from=gcr.io/k8s-skaffold/skaffold:v0.11.0 /usr/bin/skaffold /usr/bin/skaffold\n",
      ["gcr.io/k8s-skaffold/skaffold:v0.11.0"],
    ],
    [
      "skips named multistage COPY --from tags",
      "FROM node:6.12.3 as frontend\n\n# comment\nENV foo=bar\nCOPY --from=frontend /usr/bin/node /usr/bin/node\n",
      ["node:6.12.3"],
    ],
    [
      "skips index reference COPY --from tags",
      "FROM node:6.12.3 as frontend\n\n# comment\nENV foo=bar\nCOPY --from=0 /usr/bin/node /usr/bin/node\n",
      ["node:6.12.3"],
    ],
    [
      'detects ["stage"] and ["final"] deps of docker multi-stage build.',
      "FROM node:8.15.1-alpine as skippedfrom\nFROM golang:1.23.3 as builder\n\n# comment\nWORKDIR /go/src/x/\nRUN go get -d -v golang.org/x/net/html  \n" +
        'COPY app.go    .\n\nFROM alpine:latest  \nRUN apk --no-cache add ca-certificates\nCOPY --from=builder /go/src/x/app .\nCMD ["./app"]\n',
      ["node:8.15.1-alpine", "golang:1.23.3", "alpine:latest"],
    ],
    ["extracts images on adjacent lines (fixture 1)", FIXTURE_1, [`node:8.11.3-alpine@${D}`, "buildkite/puppeteer:1.1.1"]],
    [
      "extracts images from all sorts of (maybe multiline) FROM and COPY --from statements (fixture 2)",
      FIXTURE_2,
      ["image1", "image2:1.0.0@sha256:abcdef", "image4", "image5", "image6", "image7:1.0.0@sha256:abcdef", "image11", "image12", "image13"],
    ],
    ["handles calico/node", "FROM calico/node\n", ["calico/node"]],
    ["handles ubuntu", "FROM ubuntu:18.04\n", ["ubuntu:18.04"]],
    ["handles debian with codename", "FROM debian:buster\n", ["debian:buster"]],
    ["handles debian with regular tag", "FROM debian:11.4-slim\n", ["debian:11.4-slim"]],
    ["handles debian with prefixes", "FROM amd64/debian:10\n", ["amd64/debian:10"]],
    ["handles debian with prefixes and registries", "FROM docker.io/library/debian:10\n", ["docker.io/library/debian:10"]],
    ["handles prefixes", "FROM amd64/ubuntu:18.04\n", ["amd64/ubuntu:18.04"]],
    ["handles prefixes with registries", "FROM public.ecr.aws/ubuntu/ubuntu:18.04\n", ["public.ecr.aws/ubuntu/ubuntu:18.04"]],
    ["handles implausible line continuation", "FROM alpine:3.5\n\nRUN something \\", ["alpine:3.5"]],
    ["handles multi-line FROM with space after escape character", "FROM \\ \nnginx:1.20\n", ["nginx:1.20"]],
    // Renovate keeps the quotes' meaning too: docker removes them as a shell word.
    ["handles FROM with empty ARG default value", 'ARG patch1=""\nARG patch2=\nFROM nginx:1.20${patch1}$patch2\n', ["nginx:1.20"]],
    [
      "handles FROM with single-quoted empty ARG default value",
      "ARG DOCKER_HUB_MIRROR=''\nARG NODE_VERSION=21\nFROM ${DOCKER_HUB_MIRROR}node:${NODE_VERSION}-alpine\n",
      ["node:21-alpine"],
    ],
    ["handles FROM with version in ARG value", 'ARG\tVARIANT="1.60.0-bullseye" \nFROM\trust:${VARIANT}\n', ["rust:1.60.0-bullseye"]],
    [
      "handles FROM with version in ARG default value",
      "ARG IMAGE_VERSION=${IMAGE_VERSION:-ubuntu:xenial}\nfrom ${IMAGE_VERSION} as base\n",
      ["ubuntu:xenial"],
    ],
    [
      "handles FROM with digest in ARG default value",
      "ARG sha_digest=sha256:ab37242e81cbc031b2600eef4440fe87055a05c14b40686df85078cc5086c98f\n      FROM gcr.io/distroless/java17@$sha_digest",
      ["gcr.io/distroless/java17@sha256:ab37242e81cbc031b2600eef4440fe87055a05c14b40686df85078cc5086c98f"],
    ],
    ["skips scratch if provided in ARG value", 'ARG img="scratch"\nFROM $img as base\n', []],
    [
      "handles FROM with version in ARG default value and quotes",
      'ARG REF_NAME=${REF_NAME:-"gcr.io/distroless/static-debian11:nonroot@sha256:abc"}\nfrom ${REF_NAME}',
      ["gcr.io/distroless/static-debian11:nonroot@sha256:abc"],
    ],
    [
      "handles version in ARG and digest in FROM with CRLF linefeed",
      "ARG IMAGE_TAG=14.04\r\n#something unrelated\r\nFROM ubuntu:$IMAGE_TAG@sha256:abc\r\n",
      ["ubuntu:14.04@sha256:abc"],
    ],
    [
      "handles updates of multiple ARG values",
      "# random comment\n\n" +
        'ARG NODE_IMAGE_HASH="@sha256:ba9c961513b853210ae0ca1524274eafa5fd94e20b856343887ca7274c8450e4"\n' +
        'ARG NODE_IMAGE_HOST="docker.io/library/"\nARG NODE_IMAGE_NAME=node\nARG NODE_IMAGE_TAG="16.14.2-alpine3.14"\nARG DUMMY_PREFIX=\n' +
        "FROM ${DUMMY_PREFIX}${NODE_IMAGE_HOST}${NODE_IMAGE_NAME}:${NODE_IMAGE_TAG}${NODE_IMAGE_HASH} as yarn\n",
      ["docker.io/library/node:16.14.2-alpine3.14@sha256:ba9c961513b853210ae0ca1524274eafa5fd94e20b856343887ca7274c8450e4"],
    ],
    [
      "handles same argument multiple times",
      "ARG DOCKER=docker\nFROM ${DOCKER}.io/library/${DOCKER}:29.1.1-dind",
      ["docker.io/library/docker:29.1.1-dind"],
    ],
    ["handles empty optional parameters", "FROM quay.io/myName/myPackage:0.6.2\n", ["quay.io/myName/myPackage:0.6.2"]],
    ["handles # syntax statements", "# syntax=docker/dockerfile:1.1.7\nFROM alpine:3.13.5\n", ["docker/dockerfile:1.1.7", "alpine:3.13.5"]],
    ["ignores # syntax statements after first line", "FROM alpine:3.13.5\n# syntax=docker/dockerfile:1.1.7\n", ["alpine:3.13.5"]],
    // getDep(): a reference as a FROM with no ARG declared
    ["getDep: default environment variable values", "FROM ${REDIS_IMAGE:-redis:5.0.0@sha256:abcd}", ["redis:5.0.0@sha256:abcd"]],
    ["getDep: default environment variable values (2)", "FROM ${REDIS_IMAGE:-redis:5.0.0}", ["redis:5.0.0"]],
    ["getDep: default environment variable values (3)", "FROM ${REDIS_IMAGE:-redis@sha256:abcd}", ["redis@sha256:abcd"]],
    [
      "getDep: :+ of an unset variable is empty: nothing to pull",
      "FROM ${REF_NAME:+-gcr.io/distroless/static-debian11:nonroot@sha256:abc}",
      [],
    ],
    // extractVariables(): an escaped $ is text for docker
    ["extractVariables: handles escaped variable", "FROM nginx:\\$version", ["nginx:$version"]],
  ] as const)("%s", (_name, content, expected) => {
    expect(pulled(content)).toEqual(expected);
  });

  // Where renovate and docker part: docker decides.
  it("handles FROM without ARG default value: docker reads $img_base as empty and cannot build; nothing is pulled, a warning says why", () => {
    const found = dockerfileImages("ARG img_base\nFROM $img_base\n", "Dockerfile", new Map());
    expect(found.images).toEqual([]);
    expect(found.warnings).toEqual([
      "Dockerfile line 2: FROM $img_base needs img_base, which has no value (set it in build-args); docker reads it as empty: nothing",
    ]);
  });

  it("handles FROM with overwritten ARG value: docker: an ARG after the first FROM belongs to that stage, so the second FROM still reads nginx:1.19 (renovate: nginx:1.20)", () => {
    const found = dockerfileImages(
      "ARG base=nginx:1.19\nFROM $base as stage1\nARG base=nginx:1.20\nFROM --platform=amd64 $base as stage2\n",
      "Dockerfile",
      new Map(),
    );
    expect(found.images).toEqual([
      { text: "nginx:1.19", line: 2 },
      { text: "nginx:1.19", line: 4, platform: "amd64" },
    ]);
  });

  it("handles FROM with multiple ARG values: docker: `ARG LINUX_VERSION ubuntu16.04` declares two ARGs without values, so the tag is 9.2-devel- with a warning (renovate: 9.2-devel-ubuntu16.04)", () => {
    const found = dockerfileImages(
      "ARG CUDA=9.2\nARG LINUX_VERSION ubuntu16.04\nFROM nvidia/cuda:${CUDA}-devel-${LINUX_VERSION}\n",
      "Dockerfile",
      new Map(),
    );
    expect(found.images).toEqual([{ text: "nvidia/cuda:9.2-devel-", line: 3, unset: ["LINUX_VERSION"] }]);
    expect(found.warnings[0]).toMatch(/needs LINUX_VERSION, which has no value/);
  });

  it("extracts images from multi-line ARG statements (fixture 3): docker: nginx_version is declared inside stage1, so FROM $nginx_version reads it empty and fails (renovate: nginx:1.18.0-alpine@…)", () => {
    const found = dockerfileImages(FIXTURE_3, "Dockerfile", new Map());
    expect(found.images.map((i) => i.text)).toEqual(["alpine:3.15.4"]);
    expect(found.warnings).toEqual([expect.stringMatching(/line 14: FROM \$nginx_version needs nginx_version, which has no value/)]);
  });

  it("handles an alternative escape character (fixture 4): the # escape=` directive is honoured; nginx_version is stage-scoped as in fixture 3", () => {
    expect(pulled(FIXTURE_4)).toEqual(["docker/dockerfile:1", "alpine:3.15.4", "image5", "image12"]);
  });

  it("ignores parser directives in wrong order: docker: `FROM\\` + `nginx:1.20` joins to the unknown instruction FROMnginx:1.20 and the build fails; nothing pulled (renovate: nginx:1.20)", () => {
    expect(pulled("# dummy\n# escape = `\n\nFROM\\\nnginx:1.20")).toEqual([]);
  });

  it("getDep: skips tag containing a variable: docker reads the unset ${IMAGESUFFIX} as empty and pulls sdk:5.0, with a warning (renovate skips it)", () => {
    const found = dockerfileImages("FROM mcr.microsoft.com/dotnet/sdk:5.0${IMAGESUFFIX}", "Dockerfile", new Map());
    expect(found.images).toEqual([{ text: "mcr.microsoft.com/dotnet/sdk:5.0", line: 1, unset: ["IMAGESUFFIX"] }]);
    expect(found.warnings).toHaveLength(1);
  });

  it.each([
    ["$CI_REGISTRY/alpine:3.15", "/alpine:3.15"],
    ["${CI_REGISTRY}/alpine:3.15", "/alpine:3.15"],
    ["docker.io/$PREFIX/alpine:3.15", "docker.io//alpine:3.15"],
    ["docker.io/${PREFIX}/alpine:3.15", "docker.io//alpine:3.15"],
  ])(
    "getDep: skips depName containing a non default variable: %s reads as %s, which docker refuses as a reference (so does prepull: a warning, nothing pulled)",
    (from, text) => {
      const found = dockerfileImages(`FROM ${from}`, "Dockerfile", new Map());
      expect(found.images.map((i) => i.text)).toEqual([text]);
      expect(found.images[0]?.unset).toHaveLength(1);
      expect(parseImageLine(text, "x")).toHaveProperty("message");
    },
  );

  it("quay.io/myName/myPackage: docker refuses upper case in a repository, and so does prepull's reference parser", () => {
    expect(parseImageLine("quay.io/myName/myPackage:0.6.2", "x")).toHaveProperty("message");
  });
});

const COMPOSE_3_SERVICES = `
  redis:
    image: quay.io/something/redis:alpine
    ports:
      - "6379"
    deploy:
      replicas: 2
  worker:
    image: "node:10.0.0"
  db:
    image: "postgres:9.4.0"
    volumes:
      - db-data:/var/lib/postgresql/data
  vote:
    image: dockersamples/examplevotingapp_vote:before
    depends_on:
      - redis
  result:
    image: 'dockersamples/examplevotingapp_result:before'
  votingworker:
    image: dockersamples/examplevotingapp_worker
    deploy:
      labels: [APP=VOTING]
      placement:
        constraints: [node.role == manager]
  visualizer:
    image: dockersamples/visualizer:stable
    stop_grace_period: 1m30s
  edplugins:
    image: \${IMAGE:-synkodevelopers/edplugins}:\${TAG:-latest}
  debugapp:
    image: app-local-debug
    build:
      context: .
      dockerfile: Dockerfile.local
`;
const COMPOSE_3_IMAGES = [
  "quay.io/something/redis:alpine",
  "node:10.0.0",
  "postgres:9.4.0",
  "dockersamples/examplevotingapp_vote:before",
  "dockersamples/examplevotingapp_result:before",
  "dockersamples/examplevotingapp_worker",
  "dockersamples/visualizer:stable",
  // compose: the defaults apply (renovate skips the line as containing a variable)
  "synkodevelopers/edplugins:latest",
];

describe("renovate docker-compose/extract.spec.ts: what compose pulls", () => {
  const images = (content: string, env: Record<string, string> = {}) => composeImages(content, "compose.yaml", (name) => env[name]);

  it.each([
    ["returns null for empty", ""],
    ["returns null for non-object YAML", "nothing here"],
    ["returns null for malformed YAML", "nothing here\n:::::::"],
  ])("%s", (_name, content) => {
    expect(images(content).images).toEqual([]);
  });

  it("extracts multiple image lines for version 3 (the service with build: gives its Dockerfile, not its image)", () => {
    const found = images(`version: "3"\nservices:\n${COMPOSE_3_SERVICES}`);
    expect(found.images.map((i) => i.text)).toEqual(COMPOSE_3_IMAGES);
    expect(found.builds.map((b) => b.dockerfile)).toEqual(["./Dockerfile.local"]);
    expect(found.warnings).toEqual([]);
  });

  it("extracts multiple image lines for version 3 without set version key", () => {
    expect(images(`services:\n${COMPOSE_3_SERVICES}`).images.map((i) => i.text)).toEqual(COMPOSE_3_IMAGES);
  });

  it("extracts multiple image lines for version 1: compose (the compose specification) has no services: there, and reads no service from it", () => {
    const version1 = COMPOSE_3_SERVICES.replace(/^ {2}/gm, "");
    expect(images(version1).images).toEqual([]);
  });

  it("extracts default variable values for version 3", () => {
    expect(images('version: "3.7"\nservices:\n  redis:\n    image: ${REDIS_IMAGE:-redis:5.0.0@sha256:abcd}').images).toEqual([
      { text: "redis:5.0.0@sha256:abcd", line: 4 },
    ]);
    expect(
      images("services:\n  redis:\n    image: ${REDIS_IMAGE:-redis:5.0.0@sha256:abcd}", { REDIS_IMAGE: "valkey:8" }).images[0]?.text,
    ).toBe("valkey:8");
  });

  it("extracts can parse yaml tags for version 3: !reset is read; as in renovate's case without services: nothing, with it the extending service has the image too", () => {
    const services = 'web:\n  image: node:20.0.0\n  ports:\n    - "80:8000"\nworker:\n  extends:\n    service: web\n  ports: !reset null\n';
    expect(images(services).images).toEqual([]);
    const found = images(`services:\n${services.replace(/^/gm, "  ")}`);
    expect(found.images.map((i) => i.text)).toEqual(["node:20.0.0", "node:20.0.0"]);
  });

  it("extracts image and replaces registry / but no replacement / and no double replacement", () => {
    expect(images('version: "3"\nservices:\n  nginx:\n    image: quay.io/nginx:0.0.1\n').images.map((i) => i.text)).toEqual([
      "quay.io/nginx:0.0.1",
    ]);
  });

  it("extracts image of templated compose file: compose: {{ … }} is no valid YAML there, compose cannot load the file and pulls nothing; prepull warns (renovate: quay.io/nginx:0.0.1)", () => {
    const found = images(
      "version: \"3\"\nservices:\n  nginx:\n    image: quay.io/nginx:0.0.1\n    envrionment:\n      {{ services['nginx']['env'] }}\n",
    );
    expect(found.images).toEqual([]);
    expect(found.warnings).toEqual([expect.stringMatching(/^compose.yaml: not valid YAML .*; no images read from it$/)]);
  });

  it("extract images from fragments: merge keys are followed; each service has the anchor's image, at the anchor's line", () => {
    const compose = [
      "---",
      "x-shared_setting: &shared_settings",
      "  image: debian:11",
      "  # Other shared properties here",
      "services:",
      "  service-a:",
      "    <<: *shared_settings",
      "    environment:",
      "      - SERVICE=a",
      "  service-b:",
      "    <<: *shared_settings",
      "    environment:",
      "      - SERVICE=b",
    ].join("\n");
    expect(images(compose).images).toEqual([
      { text: "debian:11", line: 3 },
      { text: "debian:11", line: 3 },
    ]);
  });
});
