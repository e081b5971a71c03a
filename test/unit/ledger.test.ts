// The run's ledger of mirror digest references (pull/ledger.ts): who holds a reference, whether
// it was here before the run (the engine's inspect, asked at the first hold and not waited for:
// issue 24), and when a refused mirror's reference may be removed.
import { describe, expect, it } from "vitest";
import type { Engine, LocalImage } from "../../src/engine/engine.js";
import { ReferenceLedger } from "../../src/pull/ledger.js";

const REPO = "ghcr.io/org/app";
const HELD = `${REPO}@sha256:${"a".repeat(64)}`;
const NEW = `${REPO}@sha256:${"b".repeat(64)}`;

/** An engine whose inspects answer only when `answer()` is called (the user's images: `local`), or fail. */
function fakeEngine(local: string[], fails = false) {
  const asked: string[] = [];
  const waiting: (() => void)[] = [];
  const engine = {
    overApi: async () => true,
    inspect: (ref: string) =>
      new Promise<LocalImage | undefined>((resolve, reject) => {
        asked.push(ref);
        waiting.push(() => (fails ? reject(new Error("engine gone")) : resolve(local.includes(ref) ? { repoDigests: [ref] } : undefined)));
      }),
  } as unknown as Engine;
  return {
    engine,
    asked,
    answer: () => {
      for (const go of waiting.splice(0)) go();
    },
  };
}

describe("ReferenceLedger", () => {
  it("a hold does not wait for the engine's answer; the inspect is asked once a reference", async () => {
    const { engine, asked, answer } = fakeEngine([HELD]);
    const ledger = ReferenceLedger.of(engine);
    // Resolves although the engine has not answered: the pull may start at once.
    const releases = [await ledger.hold(HELD), await ledger.hold(HELD), await ledger.hold(NEW)];
    expect(asked).toEqual([HELD, NEW]);
    for (const release of releases) release();
    const removable = Promise.all([ledger.removable(HELD), ledger.removable(NEW)]);
    answer();
    // The user's reference stays; the one the run brought may go (nobody holds or kept it).
    expect(await removable).toEqual([false, true]);
  });

  it("an engine that cannot say whether a reference was here: it is kept (nothing removed on a guess)", async () => {
    const { engine, answer } = fakeEngine([], true);
    const ledger = ReferenceLedger.of(engine);
    (await ledger.hold(NEW))();
    answer();
    expect(await ledger.removable(NEW)).toBe(false);
  });

  it("a held or kept reference is not removable; one the run never held is not either", async () => {
    const { engine, answer } = fakeEngine([]);
    const ledger = ReferenceLedger.of(engine);
    const [first, second] = [await ledger.hold(NEW), await ledger.hold(NEW)];
    answer();
    expect(await ledger.removable(NEW)).toBe(false);
    first();
    first(); // a release counts once: the second user still holds it
    expect(await ledger.removable(NEW)).toBe(false);
    second();
    expect(await ledger.removable(NEW)).toBe(true);
    ledger.keep(NEW);
    expect(await ledger.removable(NEW)).toBe(false);
    expect(await ledger.removable(HELD)).toBe(false);
  });

  it("through a CLI (podman, tcp/ssh) a hold waits for the inspect: its process could end after the pull's", async () => {
    const { engine, answer } = fakeEngine([HELD]);
    const cli = Object.assign(Object.create(engine) as Engine, { overApi: async () => false });
    let resolved = false;
    const held = ReferenceLedger.of(cli)
      .hold(HELD)
      .then((release) => {
        resolved = true;
        return release;
      });
    await new Promise((r) => setImmediate(r));
    expect(resolved).toBe(false);
    answer();
    (await held)();
    expect(resolved).toBe(true);
    expect(await ReferenceLedger.of(cli).removable(HELD)).toBe(false);
  });
});
