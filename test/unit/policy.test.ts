import { describe, expect, it } from "vitest";
import { backoffSeconds, classifyEngineError, classifyHttp, parseRetryAfter } from "../../src/pull/policy.js";

describe("classifyEngineError", () => {
  it.each([
    ["Error response from daemon: received unexpected HTTP status: 503 Service Unavailable", "transient"],
    ['Error response from daemon: Get "https://r/v2/": received unexpected HTTP status: 502 Bad Gateway', "transient"],
    ["error pulling image configuration: download failed after attempts=6: unexpected EOF", "transient"],
    ["read tcp 127.0.0.1:1->127.0.0.1:2: read: connection reset by peer", "transient"],
    ['Error response from daemon: Get "https://r/v2/": net/http: TLS handshake timeout', "transient"],
    ["dial tcp 1.2.3.4:443: i/o timeout", "transient"],
    ["context deadline exceeded", "transient"],
    ["Error: reading blob sha256:…: fetching blob: 504 (Gateway Timeout)", "transient"],
    ["Error response from daemon: manifest for ghcr.io/o/x:1 not found: manifest unknown: manifest unknown", "permanent"],
    [
      "Error response from daemon: pull access denied for x, repository does not exist or may require 'docker login': denied: requested access to the resource is denied",
      "permanent",
    ],
    ["Error response from daemon: denied", "permanent"],
    ['Error response from daemon: Head "https://ghcr.io/v2/o/x/manifests/1": unauthorized', "permanent"],
    ["no matching manifest for linux/arm64/v8 in the manifest list entries", "permanent"],
    ["invalid reference format", "permanent"],
    ['failed to resolve reference "ghcr.io/o/x:1": ghcr.io/o/x:1: not found', "permanent"],
    ["Error: initializing source docker://r/x:1: reading manifest 1 in r/x: manifest unknown", "permanent"],
    ["Error response from daemon: toomanyrequests: You have reached your unauthenticated pull rate limit.", "rate-limited"],
    ["something nobody has seen before", "transient"],
  ])("%s → %s", (message, expected) => {
    expect(classifyEngineError(message, "docker.io").errorClass).toBe(expected);
  });

  it("treats a GHCR 429 as a throttle to retry, Docker Hub's as a spent quota", () => {
    const text = "toomanyrequests: retry-after: 2s";
    expect(classifyEngineError(text, "ghcr.io").errorClass).toBe("transient");
    expect(classifyEngineError(text, "docker.io").errorClass).toBe("rate-limited");
  });

  it("does not take a port or a digest for a 5xx status", () => {
    expect(
      classifyEngineError("Error response from daemon: manifest for 127.0.0.1:5503/a:1 not found: manifest unknown", "x").errorClass,
    ).toBe("permanent");
  });
});

describe("classifyEngineError reads the failure, not the names and numbers around it", () => {
  const digest = `sha256:${"4".repeat(3)}0${"4".repeat(60)}`;
  it.each([
    // the names in the message are not conditions
    [
      "Error response from daemon: manifest for ghcr.io/o/timeout-tool:1 not found: manifest unknown: manifest unknown",
      "permanent",
      "ghcr.io/o/timeout-tool:1",
    ],
    [
      "Error response from daemon: manifest for codercom/code-server:4.5.500 not found: manifest unknown",
      "permanent",
      "codercom/code-server:4.5.500",
    ],
    ["Error response from daemon: pull access denied for code-server:4.5.500", "permanent", ""],
    // a 404 inside a digest or a podman progress line is not "not found"
    [`Error: writing blob: storing blob to file: ${digest}: unexpected EOF`, "transient", ""],
    [`Copying blob 4041a7e8b3f9 done\nError: reading blob sha256:${"a".repeat(64)}: unexpected EOF`, "transient", ""],
    // permanent for this source: retrying cannot help
    ['Error response from daemon: Get "https://r.example/v2/": x509: certificate signed by unknown authority', "permanent", ""],
    ['Error response from daemon: Get "https://127.0.0.1:5000/v2/": http: server gave HTTP response to HTTPS client', "permanent", ""],
    ["error pulling image configuration: unknown blob", "permanent", ""],
    ["Error response from daemon: missing signature key", "transient", ""],
    [
      "[DEPRECATION NOTICE] Docker Image Format v1 and Docker Image manifest version 2, schema 1 support is disabled by default",
      "permanent",
      "",
    ],
    ['Error response from daemon: Head "https://r.example/v2/a/manifests/1": no basic auth credentials', "permanent", ""],
    ["failed to register layer: max depth exceeded", "permanent", ""],
  ])("%s → %s", (message, expected, ref) => {
    expect(classifyEngineError(message, "r.example", ref ? [ref] : []).errorClass).toBe(expected);
  });

  it("honours GHCR's stated throttle whatever host fronts it (lscr.io does)", () => {
    const c = classifyEngineError("Error response from daemon: toomanyrequests: retry-after: 2.5s, allowed: 44000/minute", "lscr.io");
    expect(c).toMatchObject({ errorClass: "transient", retryAfter: 2.5 });
    expect(classifyEngineError("toomanyrequests: retry-after: 500ms, allowed: 44000/minute", "docker.io").retryAfter).toBe(0.5);
  });

  it("a digest holding '404' is never read as a status, for any of many random digests", () => {
    let seed = 7;
    const hex = () => {
      let text = "";
      for (let i = 0; i < 64; i++) {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        text += (seed % 16).toString(16);
      }
      return text;
    };
    for (let i = 0; i < 500; i++) {
      const message = `Error: fetching blob sha256:${hex()}: connection reset by peer`;
      expect(classifyEngineError(message, "r.example").errorClass).toBe("transient");
    }
  });
});

describe("classifyHttp: the same rule for a registry's HTTP answer", () => {
  const hubBody =
    '{"errors":[{"code":"TOOMANYREQUESTS","message":"You have reached your unauthenticated pull rate limit. https://www.docker.com/increase-rate-limit"}]}';
  it.each([
    [429, "docker.io", {}, "", "rate-limited"],
    [429, "docker.io", { "retry-after": "5" }, "", "rate-limited"],
    [429, "127.0.0.1:5000", { "ratelimit-remaining": "0;w=21600" }, "", "rate-limited"],
    [429, "mirror.example", {}, hubBody, "rate-limited"],
    [429, "ghcr.io", { "retry-after": "3" }, "", "transient"],
    [429, "quay.io", { "retry-after": "3" }, "", "transient"],
    [503, "docker.io", {}, "", "transient"],
    [408, "ghcr.io", {}, "", "transient"],
    [404, "ghcr.io", {}, "", "permanent"],
    [401, "ghcr.io", {}, "", "permanent"],
    [403, "ghcr.io", {}, "", "permanent"],
    [400, "ghcr.io", {}, "", "permanent"],
  ] as const)("HTTP %i from %s %j → %s", (status, registry, headers, body, expected) => {
    expect(classifyHttp(status, registry, headers, body).errorClass).toBe(expected);
  });

  it("keeps a throttle's Retry-After", () => {
    expect(classifyHttp(429, "ghcr.io", { "retry-after": "7" })).toMatchObject({ errorClass: "transient", retryAfter: 7 });
  });
});

describe("backoffSeconds", () => {
  it("doubles from the base with jitter in [1, 1.5) and caps at 60 s", () => {
    const low = () => 0;
    const high = () => 0.999;
    expect([1, 2, 3, 4].map((n) => backoffSeconds(n, 2, low))).toEqual([2, 4, 8, 16]);
    expect(backoffSeconds(1, 2, high)).toBeCloseTo(2.999, 2);
    expect(backoffSeconds(10, 2, low)).toBe(60);
    expect(backoffSeconds(3, 0, high)).toBe(0);
  });

  it("honours Retry-After when longer, up to the cap", () => {
    expect(backoffSeconds(1, 2, () => 0, 10)).toBe(10);
    expect(backoffSeconds(1, 2, () => 0, 1)).toBe(2);
    expect(backoffSeconds(1, 2, () => 0, 3600)).toBe(60);
  });

  it("parses Retry-After as seconds or a date", () => {
    expect(parseRetryAfter("7")).toBe(7);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4_000)).toBe(6);
    expect(parseRetryAfter("soon")).toBeUndefined();
    expect(parseRetryAfter(undefined)).toBeUndefined();
  });
});
