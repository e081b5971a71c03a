import { describe, expect, it } from "vitest";
import { formatReference, parseReference, taggableReference } from "../../src/resolve/reference.js";

describe("parseReference normalises as the Docker engine does", () => {
  const H = "a".repeat(64);
  it.each([
    ["alpine", "docker.io/library/alpine:latest"],
    ["alpine:3.20", "docker.io/library/alpine:3.20"],
    ["library/alpine", "docker.io/library/alpine:latest"],
    ["docker.io/alpine", "docker.io/library/alpine:latest"],
    ["index.docker.io/library/alpine:1", "docker.io/library/alpine:1"],
    ["index.docker.io/dockcross/manylinux_2_28-x64:20240304-9e57d2b", "docker.io/dockcross/manylinux_2_28-x64:20240304-9e57d2b"],
    ["dockcross/manylinux_2_28-x64:20240304-9e57d2b", "docker.io/dockcross/manylinux_2_28-x64:20240304-9e57d2b"],
    ["quay.io/pypa/manylinux_2_28_aarch64:2025.08.12-1", "quay.io/pypa/manylinux_2_28_aarch64:2025.08.12-1"],
    ["localhost/foo", "localhost/foo:latest"],
    ["localhost:5000/foo/bar:v1", "localhost:5000/foo/bar:v1"],
    ["127.0.0.1:5901/test/a:1", "127.0.0.1:5901/test/a:1"],
    ["[::1]:5000/foo", "[::1]:5000/foo:latest"],
    ["Example.COM/foo", "Example.COM/foo:latest"],
    ["foo/bar/baz", "docker.io/foo/bar/baz:latest"],
    ["a__b/c.d-e---f", "docker.io/a__b/c.d-e---f:latest"],
    ["localhost:5000", "docker.io/library/localhost:5000"],
    [`alpine@sha256:${H}`, `docker.io/library/alpine@sha256:${H}`],
    [`ghcr.io/o/r:t@sha256:${H}`, `ghcr.io/o/r:t@sha256:${H}`],
    ["  alpine:1  ", "docker.io/library/alpine:1"],
    // distribution/reference v0.6.0+: 255 characters of path, the registry not counted.
    [`ghcr.io/${"a".repeat(250)}:1`, `ghcr.io/${"a".repeat(250)}:1`],
    [`registry.example.com:5000/${"a".repeat(255)}`, `registry.example.com:5000/${"a".repeat(255)}:latest`],
  ])("%s → %s", (input, expected) => {
    expect(formatReference(parseReference(input))).toBe(expected);
  });

  it.each([
    ["", /empty/],
    ["Alpine", /must be lowercase/],
    ["docker.io/Library/alpine", /must be lowercase/],
    ["alpine:", /invalid tag/],
    ["alpine:-x", /invalid tag/],
    [`alpine:${"t".repeat(129)}`, /invalid tag/],
    ["alpine@sha256:abc", /invalid/],
    [`alpine@sha256:${"A".repeat(64)}`, /invalid checksum/],
    [`alpine@md5:${"a".repeat(32)}`, /unsupported digest algorithm/],
    [H, /64-byte hexadecimal/],
    ["foo//bar", /invalid repository name/],
    ["foo/-bar", /invalid repository name/],
    ["-x.io/foo", /invalid registry/],
    ["foo bar", /invalid/],
    ["ghcr.io/", /invalid repository name/],
    [`ghcr.io/${"a".repeat(256)}`, /more than 255 characters/],
  ])("%j is refused (%s)", (input, message) => {
    expect(() => parseReference(input)).toThrow(message);
  });

  it("keeps tag and digest apart", () => {
    expect(parseReference(`r.io/p:t@sha256:${H}`)).toEqual({ registry: "r.io", path: "p", tag: "t", digest: `sha256:${H}` });
    expect(taggableReference(parseReference(`r.io/p:t@sha256:${H}`))).toBe("r.io/p:t");
    expect(taggableReference(parseReference(`r.io/p@sha256:${H}`))).toBeUndefined();
    expect(taggableReference(parseReference("alpine"))).toBe("docker.io/library/alpine:latest");
  });
});
