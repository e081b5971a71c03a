import { describe, expect, it } from "vitest";
import { FillWatch, fillMirrorFor, fillTargets } from "../../src/modes/fill.js";
import type { ProbeVerdict, PullHooks } from "../../src/pull/hooks.js";
import { type Source, sourcesOf } from "../../src/pull/sources.js";
import { makeResult } from "../../src/report/results.js";
import { type ImageSpec, parseFileImageLine, parseImageLine, readConfig } from "../../src/resolve/inputs.js";
import { formatReference } from "../../src/resolve/reference.js";

const DIGEST = `sha256:${"a".repeat(64)}`;
const config = readConfig((name) => ({ images: "alpine:3.20\nbusybox:1", mirrors: "ghcr.io/org\nmirror.example.com/{path}" })[name] ?? "");

/** The pull's probe of each image's sources, the first mirror answering `state`. */
async function pulled(state: string, result = { status: "pulled" as const, source: "upstream" as const, digest: DIGEST }) {
  const watch = new FillWatch(config.images, config);
  const probes = watch.wrap({
    hooks: (): PullHooks => ({
      // The second mirror answers missing whatever the first said: only the first counts.
      probe: async (source: Source): Promise<ProbeVerdict> => {
        const answered = source.ref.registry === "ghcr.io" ? state : "missing";
        return source.kind === "mirror" ? { skip: answered, mirrorState: answered } : { pullRef: `x@${DIGEST}` };
      },
    }),
  });
  const spec = config.images[0];
  if (!spec) throw new Error("no image");
  const hooks = probes.hooks(spec, () => {});
  // Its mirrors as the pull tries them: ghcr.io/org/library-alpine:3.20, then mirror.example.com/library/alpine:3.20.
  for (const source of sourcesOf(spec, config)) if (source.kind === "mirror") await hooks.probe?.(source, spec);
  return watch.mark(makeResult("docker.io/library/alpine:3.20", result));
}

describe("FillWatch: which pulls fill the first mirror", () => {
  it("upstream after the first mirror answered missing: marked, upstream by the pulled digest into the first mirror", async () => {
    const marked = await pulled("missing");
    expect(marked.fill).toEqual({
      image: "docker.io/library/alpine:3.20",
      from: `docker.io/library/alpine:3.20@${DIGEST}`,
      to: "ghcr.io/org/library-alpine:3.20",
      digest: DIGEST,
    });
    expect(fillTargets([marked, marked])).toHaveLength(1);
  });

  it.each(["refused", "unreachable", "rate-limited", "differs"])("first mirror %s: not marked", async (state) => {
    expect((await pulled(state)).fill).toBeUndefined();
  });

  it("served by a mirror, present, or failed: not marked", async () => {
    expect((await pulled("missing", { status: "pulled", source: "mirror" as never, digest: DIGEST })).fill).toBeUndefined();
    expect((await pulled("missing", { status: "present" as never, source: "local" as never, digest: DIGEST })).fill).toBeUndefined();
    expect((await pulled("missing", { status: "failed" as never, source: "none" as never, digest: "" })).fill).toBeUndefined();
  });
});

describe("fillMirrorFor: only a mirror the workflow's own inputs name is filled", () => {
  const make = (inputs: Record<string, string>) => readConfig((name) => inputs[name] ?? "");
  const target = (spec: ImageSpec, inputs: Record<string, string>) => {
    const got = fillMirrorFor(spec, make(inputs));
    return "ref" in got ? formatReference(got.ref) : got.why;
  };
  const line = (text: string, origin: string) => {
    const spec = parseFileImageLine(text, origin);
    if ("message" in spec) throw new Error(spec.message);
    return spec;
  };

  it("an `=>` in the images input is the author's: filled", () => {
    const [spec] = make({ images: "up.example/a:1 => ghcr.io/org/product:v1" }).images;
    if (!spec) throw new Error("no image");
    expect(spec.mirrorFromInput).toBe(true);
    expect(target(spec, { images: "up.example/a:1 => ghcr.io/org/product:v1" })).toBe("ghcr.io/org/product:v1");
  });

  it.each([
    ["images-file spec.txt line 1", line],
    ["images-from Dockerfile line 3", line],
    ["set-vars CONTAINER_SOURCE", parseImageLine as typeof line],
  ])("an `=>` read from %s: not filled, and why", (origin, parse) => {
    const spec = parse("up.example/a:1 => ghcr.io/org/product:v1", origin);
    expect(spec.mirrorFromInput).toBeUndefined();
    expect(target(spec, { mirrors: "docker.io=ghcr.io/m" })).toBe(
      `its mirror was named by "=>" in ${origin}, not by the workflow's inputs (mirrors, mirror-map, images)`,
    );
  });

  it("a bare prefix fills docker.io images alone; REGISTRY=, {registry} and mirror-map fill any registry they name", () => {
    const docker = line("dockcross/x:T", "images-from Dockerfile line 1");
    const other = line("other.reg/dockcross/x:T", "images-from Dockerfile line 1");
    expect(target(docker, { mirrors: "ghcr.io/org" })).toBe("ghcr.io/org/dockcross-x:T");
    expect(target(other, { mirrors: "ghcr.io/org" })).toMatch(/^mirrors line 1 serves every registry .*"other\.reg=…"/);
    expect(target(other, { mirrors: "other.reg=ghcr.io/org" })).toBe("ghcr.io/org/dockcross-x:T");
    expect(target(other, { mirrors: "ghcr.io/org/{registry}/{path}" })).toBe("ghcr.io/org/other.reg/dockcross/x:T");
    expect(target(other, { "mirror-map": "other.reg/dockcross/x => ghcr.io/org/x" })).toBe("ghcr.io/org/x:T");
  });
});
