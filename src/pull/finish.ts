// After a pull: the image under the exact upstream name, the mirror's tag dropped unless kept.
import type { Engine } from "../engine/engine.js";
import type { ImageSpec } from "../resolve/inputs.js";
import { formatReference, type Reference, repositoryOf, taggableReference } from "../resolve/reference.js";
import type { PullOptions } from "./hooks.js";
import type { Source } from "./sources.js";

/**
 * Tags the pulled image under the upstream name; a mirror's tag is removed unless
 * keep-mirror-tag. A digest reference (`repo@sha256:…`) is not a tag and stays: it is how a
 * later run sees the image is already present. `byDigest`: the digest `pullRef` names, where
 * it names one. Returns the manifest digest.
 */
export async function finish(
  spec: ImageSpec,
  source: Source,
  pullRef: string,
  byDigest: string | undefined,
  engine: Engine,
  options: PullOptions,
  log: (line: string) => void,
): Promise<{ digest: string; size?: number }> {
  const target = taggableReference(spec.upstream);
  // The inspect (for the size, and the digest of a pull by tag) and the tag at once.
  const [local] = await Promise.all([engine.inspect(pullRef), tagUpstreamName(spec, pullRef, target, engine, log)]);
  const size = local?.size;
  const digest =
    byDigest ?? local?.repoDigests.map((d) => d.split("@")).find(([name]) => sameRepository(name ?? "", source.ref))?.[1] ?? "";
  const done = { digest, ...(size !== undefined && { size }) };
  if (target === undefined || pullRef === target || source.kind !== "mirror") return done;
  const mirrorTag = taggableReference(source.ref);
  if (byDigest && options.keepMirrorTag && mirrorTag) await engine.tag(pullRef, mirrorTag);
  if (!byDigest && !options.keepMirrorTag) {
    await engine.untag(pullRef).catch((error: Error) => log(`could not remove the mirror tag ${pullRef}: ${error.message}`));
  }
  return done;
}

/** The pulled image under the exact upstream name, where the upstream reference has a name to tag. */
async function tagUpstreamName(
  spec: ImageSpec,
  pullRef: string,
  target: string | undefined,
  engine: Engine,
  log: (line: string) => void,
): Promise<void> {
  if (target === undefined) {
    log(
      `${formatReference(spec.upstream)} names only a digest: an engine cannot tag a digest reference, so the image stays under ${pullRef}`,
    );
    return;
  }
  if (pullRef === target) return;
  await engine.tag(pullRef, target);
  log(`tagged ${target}`);
}

/** RepoDigests name Docker Hub images familiarly (`alpine@…`); compare on the normalised repository. */
function sameRepository(name: string, ref: Reference): boolean {
  const full = repositoryOf(ref);
  if (name === full) return true;
  if (ref.registry !== "docker.io") return false;
  return name === ref.path || name === ref.path.replace(/^library\//, "");
}
