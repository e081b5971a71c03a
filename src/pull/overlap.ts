// A mirror's pull overlapped with its verification (issue 24; DESIGN.md: "the pull of a mirror
// may start before its verification ends, as long as nothing unverified is tagged under the
// upstream name, and an image a refused mirror brought is removed"). The engine pulls the
// mirror by the digest its HEAD named (`repo@sha256:…`: a digest reference, never a tag) while
// upstream is asked; the caller tags under the upstream name only once the verdict trusts that
// very digest. Refused, the early pull is stopped and what it brought is removed.
import type { Engine } from "../engine/engine.js";
import type { EarlyPull, ProbeVerdict } from "./hooks.js";
import { type HeldReference, ReferenceLedger } from "./ledger.js";

/** The verdict, and the early pull where the verdict trusted its very reference (it settles as the pull would). */
export interface Overlap {
  readonly verdict: ProbeVerdict;
  /** absent: refused, or to be pulled by another reference; nothing of the early pull stays */
  readonly pulled?: Promise<void>;
  /** with `pulled`: this image's hold on the reference, ended once it is tagged or its pull failed */
  readonly held?: HeldReference;
}

/**
 * Starts `pull(signal)` of `early` at once and awaits `verdict` meanwhile. Trusted (the verdict
 * names `early` itself): the pull goes on. Otherwise the pull is stopped, and the reference it
 * made is removed, when it was not here before the run and no other image of the run pulls or
 * keeps it: `leftovers` gets a check to run again once the image is done, for an engine that
 * finishes a stopped pull after its CLI has gone.
 */
export async function pullDuringVerification(
  held: HeldReference,
  early: EarlyPull,
  verdict: Promise<ProbeVerdict>,
  pull: (signal: AbortSignal) => Promise<void>,
  engine: Engine,
  log: (line: string) => void,
  leftovers: (() => Promise<void>)[],
): Promise<Overlap> {
  // `held`: taken before the pull; another image of the run refused the same digest removes it
  // only once no image pulls or needs it (ledger.ts); one that was here before the run stays.
  const { reference, release } = held;
  const ledger = ReferenceLedger.of(engine);
  log(`pulling ${early.pullRef} while its verification runs; tagged only once verified`);
  const stop = new AbortController();
  const pulled = pull(stop.signal);
  pulled.catch(() => undefined);
  const said = await verdict;
  if (said.skip === undefined && said.pullRef === early.pullRef) return { verdict: said, pulled, held };
  stop.abort(new Error("verification refused the mirror"));
  await pulled.catch(() => undefined);
  release();
  const remove = () => removeReference(engine, ledger, reference, log);
  await remove();
  leftovers.push(remove);
  return { verdict: said };
}

/** Removes `repo@digest` where it is here; the image goes with it when nothing else refers to it. */
async function removeReference(engine: Engine, ledger: ReferenceLedger, reference: string, log: (line: string) => void): Promise<void> {
  if (!(await ledger.removable(reference))) return;
  const local = await engine.inspect(reference).catch(() => undefined);
  if (local === undefined) return;
  try {
    await engine.untag(reference);
    log(`removed ${reference}, which the pull started before verification brought`);
    // docker's untag removes an image left with no name; podman's drops only the name.
    const left = local.id !== undefined && engine.name === "podman" ? await engine.inspect(local.id) : undefined;
    if (left && left.repoTags?.length === 0 && left.repoDigests.length === 0) {
      await engine.removeImage(local.id ?? "");
      log(`removed image ${local.id}, which had no name left`);
    }
  } catch (error) {
    log(`could not remove ${reference}, which the pull started before verification brought: ${(error as Error).message}`);
  }
}
