// A mirror's pull overlapped with its verification (issue 24; DESIGN.md: "the pull of a mirror
// may start before its verification ends, as long as nothing unverified is tagged under the
// upstream name, and an image a refused mirror brought is removed"). The engine pulls the
// mirror by the digest its HEAD named (`repo@sha256:…`: a digest reference, never a tag) while
// upstream is asked; the caller tags under the upstream name only once the verdict trusts that
// very digest. Refused, the early pull is stopped and what it brought is removed.
import type { Engine } from "../engine/engine.js";
import type { ProbeVerdict } from "./hooks.js";

/** The verdict, and the early pull where the verdict trusted its very reference (it settles as the pull would). */
export interface Overlap {
  readonly verdict: ProbeVerdict;
  /** absent: refused, or to be pulled by another reference; nothing of the early pull stays */
  readonly pulled?: Promise<void>;
}

/** `repo@sha256:…` of `repo:tag@sha256:…`: the reference a pull by digest leaves in the engine. */
export function digestOnly(pullRef: string): string {
  const at = pullRef.lastIndexOf("@");
  const name = pullRef.slice(0, at);
  const colon = name.lastIndexOf(":");
  return `${colon > name.lastIndexOf("/") ? name.slice(0, colon) : name}${pullRef.slice(at)}`;
}

/**
 * Starts `pull(signal)` of `early` at once and awaits `verdict` meanwhile. Trusted (the verdict
 * names `early` itself): the pull goes on. Otherwise the pull is stopped, and the reference it
 * made (when it was not here before) is removed: `leftovers` gets a check to run again once the
 * image is done, for an engine that finishes a stopped pull after its CLI has gone.
 */
export async function pullDuringVerification(
  early: string,
  verdict: Promise<ProbeVerdict>,
  pull: (signal: AbortSignal) => Promise<void>,
  engine: Engine,
  log: (line: string) => void,
  leftovers: (() => Promise<void>)[],
): Promise<Overlap> {
  const reference = digestOnly(early);
  // A reference that was here before the pull is the user's: it stays whatever the verdict.
  const before = await engine.inspect(reference).catch(() => undefined);
  log(`pulling ${early} while its verification runs; tagged only once verified`);
  const stop = new AbortController();
  const pulled = pull(stop.signal);
  pulled.catch(() => undefined);
  const said = await verdict;
  if (said.skip === undefined && said.pullRef === early) return { verdict: said, pulled };
  stop.abort(new Error("verification refused the mirror"));
  await pulled.catch(() => undefined);
  if (before === undefined) {
    const remove = () => removeReference(engine, reference, log);
    await remove();
    leftovers.push(remove);
  }
  return { verdict: said };
}

/** Removes `repo@digest` where it is here; the image goes with it when nothing else refers to it. */
async function removeReference(engine: Engine, reference: string, log: (line: string) => void): Promise<void> {
  if ((await engine.inspect(reference).catch(() => undefined)) === undefined) return;
  try {
    await engine.untag(reference);
    log(`removed ${reference}, which the pull started before verification brought`);
  } catch (error) {
    log(`could not remove ${reference}, which the pull started before verification brought: ${(error as Error).message}`);
  }
}
