// Whether an image is here already: under the upstream name, with the digest upstream names now.
import type { Engine, LocalImage } from "../engine/engine.js";
import type { ImageSpec } from "../resolve/inputs.js";
import { formatReference, taggableReference } from "../resolve/reference.js";
import type { PullHooks } from "./hooks.js";

/** What the engine holds under the upstream name (the local inspect every presence check starts from). */
export function inspectUpstreamName(spec: ImageSpec, engine: Engine): Promise<LocalImage | undefined> {
  return engine.inspect(taggableReference(spec.upstream) ?? formatReference(spec.upstream));
}

/**
 * The image is here already under the upstream name with the digest upstream names now.
 * `inspected`: the local inspect when the caller started it already (it runs alongside upstream's HEAD).
 */
export async function presentLocally(
  spec: ImageSpec,
  engine: Engine,
  hooks: PullHooks,
  inspected: Promise<LocalImage | undefined> = inspectUpstreamName(spec, engine),
): Promise<string | undefined> {
  // Upstream's HEAD is asked at once (verification needs it too), but nothing here under that
  // name (the usual case) is known without waiting for it.
  const asked = spec.upstream.digest ?? hooks.expectedDigest?.(spec);
  if (asked instanceof Promise) asked.catch(() => undefined);
  const local = await inspected;
  if (!local) return undefined;
  const expected = await asked;
  if (expected === undefined) return undefined;
  // A digest names content, whichever repository it was pulled from (a verified mirror included).
  const has = local.repoDigests.some((entry) => entry.endsWith(`@${expected}`));
  return has ? expected : undefined;
}
