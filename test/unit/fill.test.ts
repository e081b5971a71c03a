import { describe, expect, it } from "vitest";
import { FillWatch, fillTargets } from "../../src/modes/fill.js";
import type { ProbeVerdict, PullHooks } from "../../src/pull/hooks.js";
import type { Source } from "../../src/pull/sources.js";
import { makeResult } from "../../src/report/results.js";
import { readConfig } from "../../src/resolve/inputs.js";

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
  for (const ref of ["ghcr.io/org/library-alpine:3.20", "mirror.example.com/library/alpine:3.20"]) {
    await hooks.probe?.(
      {
        kind: "mirror",
        ref: { registry: ref.split("/")[0] ?? "", path: ref.split("/").slice(1).join("/").split(":")[0] ?? "", tag: "3.20" },
      },
      spec,
    );
  }
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
