import { describe, expect, it } from "vitest";
import { backoffSeconds, classifyEngineError, parseRetryAfter } from "../../src/policy.js";

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
