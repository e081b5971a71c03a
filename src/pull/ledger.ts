// Who uses a `repo@sha256:…` reference in the engine during a run (issue 24). Images of one run
// can share a mirror's digest (two lines mapped onto one mirror image): one image's refused
// mirror must not remove the reference another image is pulling, or has pulled and not yet
// tagged. One ledger a run and engine; a reference is removed only when nobody holds it, it
// was not here before the run first used it, and no image kept it (verified and tagged).
import type { Engine } from "../engine/engine.js";

interface Entry {
  users: number;
  kept: boolean;
  /** whether the reference was here before the run's first use of it (the user's: it stays) */
  readonly before: Promise<boolean>;
}

const ledgers = new WeakMap<Engine, ReferenceLedger>();

/** A `repo@sha256:…` reference an image of the run holds, and the end of that hold. */
export interface HeldReference {
  readonly reference: string;
  readonly release: () => void;
}

export class ReferenceLedger {
  private readonly entries = new Map<string, Entry>();
  private constructor(private readonly engine: Engine) {}

  /** The run's ledger for `engine` (an engine is made once a run). */
  static of(engine: Engine): ReferenceLedger {
    let ledger = ledgers.get(engine);
    if (!ledger) {
      ledger = new ReferenceLedger(engine);
      ledgers.set(engine, ledger);
    }
    return ledger;
  }

  /**
   * One more user of `reference`, counted at once. Whether it was here before is asked of the
   * engine now; over its API it is not waited for (issue 24: the pull starts at once): a pull
   * makes its reference only when it ends, well after the engine has answered an inspect sent
   * before it; were that answer late, it could only say "here", which keeps the reference (a
   * refused mirror's image left behind, never a user's image removed). Through a CLI (podman,
   * tcp/ssh) the inspect is a process of its own, so it is waited for: the pull's process could
   * otherwise end first. The returned release ends that use, once.
   */
  async hold(reference: string): Promise<() => void> {
    let entry = this.entries.get(reference);
    if (!entry) {
      // An engine that cannot say counts as "here before": nothing is removed on a guess.
      const before = this.engine.inspect(reference).then(
        (found) => found !== undefined,
        () => true,
      );
      entry = { users: 0, kept: false, before };
      this.entries.set(reference, entry);
    }
    const held = entry;
    held.users++;
    let released = false;
    if (!(await this.engine.overApi())) await held.before;
    return () => {
      if (released) return;
      released = true;
      held.users--;
    };
  }

  /** hold, for a mirror's pull by `digest` from `repository` (`registry/path`): the reference it leaves in the engine. */
  async holdDigest(repository: string, digest: string): Promise<HeldReference> {
    const reference = `${repository}@${digest}`;
    return { reference, release: await this.hold(reference) };
  }

  /** A verified image was tagged from `reference`: it stays, as every verified pull's digest reference does. */
  keep(reference: string): void {
    const entry = this.entries.get(reference);
    if (entry) entry.kept = true;
  }

  /** Whether `reference` may be removed now: nobody holds it, nobody kept it, the run brought it. */
  async removable(reference: string): Promise<boolean> {
    const entry = this.entries.get(reference);
    if (!entry) return false;
    const before = await entry.before;
    return !before && entry.users === 0 && !entry.kept;
  }
}
