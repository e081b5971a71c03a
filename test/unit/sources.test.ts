import { describe, expect, it } from "vitest";
import { parseMirrorRule, sourcesFor } from "../../src/pull/sources.js";
import { parseImageLine } from "../../src/resolve/inputs.js";
import { formatReference, parseReference, parseRepository, repositoryOf } from "../../src/resolve/reference.js";

const explicitMirrorOf = (line: string) => {
  const spec = parseImageLine(line, "test");
  if ("message" in spec) throw new Error(spec.message);
  return spec.explicitMirror;
};

const refs = (upstream: string, rules: string[], map: [string, string][] = [], explicit?: string) =>
  sourcesFor(
    parseReference(upstream),
    rules.map((r, i) => parseMirrorRule(r, i + 1)),
    new Map(map.map(([a, b]) => [repositoryOf(parseRepository(a)), parseRepository(b)])),
    explicit ? explicitMirrorOf(`${upstream} => ${explicit}`) : undefined,
  ).map((s) => `${s.kind} ${formatReference(s.ref)}`);

describe("mirror mapping (DESIGN.md)", () => {
  it("flattens under a bare prefix (the ITK x64 case)", () => {
    expect(refs("docker.io/dockcross/manylinux_2_28-x64:20240304-9e57d2b", ["ghcr.io/insightsoftwareconsortium"])).toEqual([
      "mirror ghcr.io/insightsoftwareconsortium/dockcross-manylinux_2_28-x64:20240304-9e57d2b",
      "upstream docker.io/dockcross/manylinux_2_28-x64:20240304-9e57d2b",
    ]);
  });

  it("renames through mirror-map, tag carried over (the ITK aarch64 case)", () => {
    expect(
      refs(
        "quay.io/pypa/manylinux_2_28_aarch64:2025.08.12-1",
        ["ghcr.io/insightsoftwareconsortium"],
        [["quay.io/pypa/manylinux_2_28_aarch64", "ghcr.io/insightsoftwareconsortium/dockcross-manylinux_2_28-aarch64"]],
      ),
    ).toEqual([
      "mirror ghcr.io/insightsoftwareconsortium/dockcross-manylinux_2_28-aarch64:2025.08.12-1",
      "upstream quay.io/pypa/manylinux_2_28_aarch64:2025.08.12-1",
    ]);
  });

  it("expands templates and honours REGISTRY= restrictions, in order", () => {
    expect(refs("alpine:3", ["docker.io=mirror.gcr.io/{path}", "quay.io=q.example/{flat}", "cache.local:5000/{registry}/{name}"])).toEqual([
      "mirror mirror.gcr.io/library/alpine:3",
      "mirror cache.local:5000/docker.io/alpine:3",
      "upstream docker.io/library/alpine:3",
    ]);
    expect(refs("quay.io/pypa/x:1", ["index.docker.io=mirror.gcr.io/{path}"])).toEqual(["upstream quay.io/pypa/x:1"]);
  });

  it("an explicit => mirror wins, takes upstream's tag, and duplicates collapse", () => {
    expect(refs("alpine:3", ["ghcr.io/o", "ghcr.io/o/"], [], "ghcr.io/other/alp")).toEqual([
      "mirror ghcr.io/other/alp:3",
      "upstream docker.io/library/alpine:3",
    ]);
    expect(refs("alpine:3", ["ghcr.io/o", "ghcr.io/o/"])).toEqual([
      "mirror ghcr.io/o/library-alpine:3",
      "upstream docker.io/library/alpine:3",
    ]);
  });

  it("carries a pinned digest to the mirror", () => {
    const d = `sha256:${"b".repeat(64)}`;
    expect(refs(`alpine:3@${d}`, ["ghcr.io/o"])[0]).toBe(`mirror ghcr.io/o/library-alpine:3@${d}`);
  });

  it.each([["ghcr.io/O"], ["ghcr.io/o/{nope}"], ["=ghcr.io/o"], ["ghcr.io/o:tag"]])("refuses the rule %j", (rule) => {
    expect(() => parseMirrorRule(rule, 1)).toThrow();
  });
});
