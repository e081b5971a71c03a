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

export class ReferenceLedger {
  private readonly entries = new Map<string, Entry>();
  /** by repository: the digest references the engine held when first asked (expect) */
  private readonly listings = new Map<string, Promise<ReadonlySet<string> | undefined>>();

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
   * One more user of `reference`, counted at once; resolves once the run knows whether it was
   * here before (the pull starts after that). The returned release ends that use, once.
   */
  async hold(reference: string): Promise<() => void> {
    let entry = this.entries.get(reference);
    if (!entry) {
      const inspected = () =>
        this.engine.inspect(reference).then(
          (found) => found !== undefined,
          () => false,
        );
      // From the repository's listing where one was asked for, else the reference's own inspect.
      const listing = this.listings.get(reference.slice(0, reference.lastIndexOf("@")));
      const before = listing ? listing.then((held) => held?.has(reference) ?? inspected()) : inspected();
      entry = { users: 0, kept: false, before };
      this.entries.set(reference, entry);
    }
    const held = entry;
    held.users++;
    let released = false;
    await held.before;
    return () => {
      if (released) return;
      released = true;
      held.users--;
    };
  }

  /**
   * Asks now which digest references the engine holds for `repository` (`registry/path`), so
   * that `hold` of one of them need not ask the engine again once a HEAD named the digest
   * (issue 24: the mirror's pull then starts at once). Asked once a repository, before the run uses it.
   */
  expect(repository: string): void {
    if (!this.listings.has(repository))
      this.listings.set(
        repository,
        this.engine.digestReferences(repository).catch(() => undefined),
      );
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
