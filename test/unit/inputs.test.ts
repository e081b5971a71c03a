import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { InputError, parseLines, readConfig } from "../../src/resolve/inputs.js";
import { formatReference } from "../../src/resolve/reference.js";

const config = (inputs: Record<string, string>, workspace?: string) => readConfig((name) => inputs[name] ?? "", workspace);

describe("readConfig", () => {
  it("applies DESIGN.md's defaults", () => {
    const c = config({});
    expect(c).toMatchObject({
      verify: "digest",
      attempts: 3,
      backoffSeconds: 2,
      pullTimeoutSeconds: 900,
      concurrency: 2,
      engine: "docker",
      onFailure: "warn",
      keepMirrorTag: false,
      mode: "pull",
      background: false,
      fillMirror: false,
    });
    expect(c.platform).toBeUndefined();
    expect(c.images).toEqual([]);
  });

  it.each([
    [{ attempts: "many" }, "attempts", /input 'attempts': "many" is not a whole number/],
    [{ attempts: "0" }, "attempts", /from 1 to 100/],
    [{ "on-failure": "maybe" }, "on-failure", /input 'on-failure': "maybe" is not one of warn, fail/],
    [{ backoff: "-1" }, "backoff", /backoff/],
    [{ concurrency: "2.5" }, "concurrency", /concurrency/],
    [{ engine: "containerd" }, "engine", /one of docker, podman/],
    [{ mode: "push" }, "mode", /one of pull, plan, mirror, wait/],
    [{ verify: "yes" }, "verify", /digest, none/],
    [{ "keep-mirror-tag": "yes" }, "keep-mirror-tag", /not a boolean/],
    [{ "fill-mirror": "yes" }, "fill-mirror", /input 'fill-mirror': "yes" is not a boolean/],
    [{ "fill-mirror": "true", mode: "mirror" }, "fill-mirror", /applies to mode: pull .*not to mode: mirror/],
    [{ "fill-mirror": "true", mode: "plan" }, "fill-mirror", /not to mode: plan/],
    [{ platform: "arm64" }, "platform", /os\/arch/],
    [
      { "mirror-map": "# ok\nquay.io/pypa/a => ghcr.io/o/a\nquay.io/pypa/b ghcr.io/o/b" },
      "mirror-map",
      /input 'mirror-map' line 3: "quay.io\/pypa\/b ghcr.io\/o\/b" is not "UPSTREAM_REPOSITORY => MIRROR_REPOSITORY"/,
    ],
    [{ "mirror-map": "quay.io/pypa/a:tag => ghcr.io/o/a" }, "mirror-map", /line 1.*without tag/],
    [{ mirrors: "ghcr.io/ok\n\nghcr.io/Bad" }, "mirrors", /input 'mirrors' line 3/],
    [{ "set-vars-url": "ftp://x/y" }, "set-vars-url", /not an http/],
    [{ "set-vars-url": "https://x/y.sh", "set-vars-env": "A=1\nnot a pair" }, "set-vars-env", /line 2/],
    [{ "set-vars-url": "https://x/y.sh", "set-vars-image": "CONTAINER SOURCE" }, "set-vars-image", /not a shell variable/],
    [{ "set-vars-url": "https://x/y.sh", "set-vars-sha256": "abc" }, "set-vars-sha256", /64 hexadecimal/],
    [{ "set-vars-env": "A=1" }, "set-vars-env", /set-vars-url is empty/],
  ])("%j → an error naming %s", (inputs, input, message) => {
    let error: unknown;
    try {
      config(inputs);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).input).toBe(input);
    expect((error as InputError).message).toMatch(message);
  });

  it("carries an upstream pin to an explicit mirror with its own tag", () => {
    const H = "b".repeat(64);
    const c = config({ images: `quay.io/pypa/x:1@sha256:${H} => ghcr.io/o/x:mirror-tag\nquay.io/pypa/y@sha256:${H} => ghcr.io/o/y` });
    expect(c.images.map((i) => i.explicitMirror && formatReference(i.explicitMirror))).toEqual([
      `ghcr.io/o/x:mirror-tag@sha256:${H}`,
      `ghcr.io/o/y@sha256:${H}`,
    ]);
  });

  it("reads set-vars-env as compose reads a .env: quotes, comments, escapes, earlier lines", () => {
    const c = config({
      "set-vars-url": "https://example.com/s.sh",
      "set-vars-env": `A="_2_28"\nB='x64' # arch\nD=plain # a comment\nE=""\nF="with spaces"\nG=$A-\${B}\nH="a\\tb"\nI='Let\\'s go!'`,
    });
    expect(c.setVars?.env).toEqual({
      A: "_2_28",
      B: "x64",
      D: "plain",
      E: "",
      F: "with spaces",
      G: "_2_28-x64",
      H: "a\tb",
      I: "Let's go!",
    });
  });

  it("an unterminated quote in set-vars-env is an error naming the input and line", () => {
    expect(() => config({ "set-vars-url": "https://example.com/s.sh", "set-vars-env": `A=1\nC="unbalanced'` })).toThrow(
      /input 'set-vars-env' line 2: unterminated quoted value/,
    );
  });

  it("a set-vars-env name compose takes but the shell does not is an error on its own line, after a quoted value of two lines", () => {
    expect(() => config({ "set-vars-url": "https://example.com/s.sh", "set-vars-env": `A=1\nB="two\nlines"\n# c\nC.D=2` })).toThrow(
      /input 'set-vars-env' line 5: "C.D" is not/,
    );
  });

  it("keeps valid images and reports each invalid line by number", () => {
    const c = config({ images: "alpine:3\n# comment\n\nAlpine:3\nghcr.io/o/x:1 => ghcr.io/m/x   # trailing comment\nalpine:3\nbad:" });
    expect(c.images.map((i) => formatReference(i.upstream))).toEqual(["docker.io/library/alpine:3", "ghcr.io/o/x:1"]);
    expect(c.images[1]?.explicitMirror && formatReference(c.images[1].explicitMirror)).toBe("ghcr.io/m/x:1");
    expect(c.imageErrors.map((e) => e.origin)).toEqual(["images line 4", "images line 7"]);
    expect(c.imageErrors[0]?.message).toMatch(/must be lowercase/);
  });

  it.each([
    ["/nonexistent/images.txt", /^refused: \/nonexistent\/images.txt is outside the workspace/],
    ["../images.txt", /^refused: \.\.\/images.txt is outside the workspace/],
    ["missing-images.txt", /^cannot read missing-images.txt: ENOENT/],
  ])("an images-file %s that cannot be read is that input's failed line; the images input goes ahead", (file, message) => {
    const c = config({ images: "alpine:3", "images-file": file }, mkdtempSync(join(tmpdir(), "prepull-inputs-")));
    expect(c.images.map((i) => formatReference(i.upstream))).toEqual(["docker.io/library/alpine:3"]);
    expect(c.imageErrors).toMatchObject([{ origin: "images-file line 1", message: expect.stringMatching(message) }]);
  });

  it("a line of images-file that is not understood is named by its file and line, not shown", () => {
    const dir = mkdtempSync(join(tmpdir(), "prepull-inputs-"));
    writeFileSync(join(dir, "config.json"), '{\n  "auths": {\n    "r.example": { "auth": "c2VjcmV0OnRva2Vu" }\n  }\n}\n');
    const c = config({ "images-file": "config.json" }, dir);
    expect(c.images).toEqual([]);
    expect(c.imageErrors.map((e) => e.origin)).toEqual([
      "images-file config.json line 1",
      "images-file config.json line 2",
      "images-file config.json line 3",
      "images-file config.json line 4",
      "images-file config.json line 5",
    ]);
    expect(JSON.stringify(c.imageErrors)).not.toContain("c2VjcmV0OnRva2Vu");
  });

  it("reads images-file relative to the workspace, naming its lines", () => {
    const dir = mkdtempSync(join(tmpdir(), "prepull-inputs-"));
    writeFileSync(join(dir, "images.txt"), "busybox\n\nx::y\n");
    const c = config({ "images-file": "images.txt" }, dir);
    expect(c.images.map((i) => i.origin)).toEqual(["images-file images.txt line 1"]);
    expect(c.imageErrors[0]?.origin).toBe("images-file images.txt line 3");
  });

  it("parses set-vars settings", () => {
    const c = config({
      "set-vars-url": "https://example.test/s.sh",
      "set-vars-env": "MANYLINUX_VERSION=_2_28\nTARGET_ARCH=x64\nEMPTY=",
      "set-vars-sha256": `sha256:${"A".repeat(64)}`,
    });
    expect(c.setVars).toEqual({
      url: "https://example.test/s.sh",
      env: { MANYLINUX_VERSION: "_2_28", TARGET_ARCH: "x64", EMPTY: "" },
      variables: ["CONTAINER_SOURCE"],
      sha256: "a".repeat(64),
    });
  });

  it("accepts YAML booleans and numbers as the runner passes them", () => {
    expect(config({ "keep-mirror-tag": "True", background: "FALSE", backoff: "0.5", attempts: "5" })).toMatchObject({
      keepMirrorTag: true,
      background: false,
      backoffSeconds: 0.5,
      attempts: 5,
    });
  });
});

describe("parseLines", () => {
  it("drops blanks and comments, keeps line numbers", () => {
    expect(parseLines("a\r\n\n  # c\n b # d", { inlineComments: true })).toEqual([
      { text: "a", line: 1 },
      { text: "b", line: 4 },
    ]);
  });
});
