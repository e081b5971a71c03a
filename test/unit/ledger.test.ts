// The run's ledger of mirror digest references (pull/ledger.ts): whether a reference was here
// before the run, from the repository's listing asked early (issue 24) or the reference's inspect.
import { describe, expect, it } from "vitest";
import type { Engine, LocalImage } from "../../src/engine/engine.js";
import { ReferenceLedger } from "../../src/pull/ledger.js";
import { familiarName, parseRepository } from "../../src/resolve/reference.js";

const REPO = "ghcr.io/org/app";
const HELD = `${REPO}@sha256:${"a".repeat(64)}`;
const NEW = `${REPO}@sha256:${"b".repeat(64)}`;

/** An engine that answers the listing with `listed` (undefined: no API) and counts inspects. */
function fakeEngine(listed: string[] | undefined, local: string[] = []) {
  const asked = { listings: [] as string[], inspects: [] as string[] };
  const engine = {
    digestReferences: async (repository: string) => {
      asked.listings.push(repository);
      return listed && new Set(listed);
    },
    inspect: async (ref: string): Promise<LocalImage | undefined> => {
      asked.inspects.push(ref);
      return local.includes(ref) ? { repoDigests: [ref] } : undefined;
    },
  } as unknown as Engine;
  return { engine, asked };
}

describe("ReferenceLedger", () => {
  it("answers `here before` from the listing asked early, with no inspect", async () => {
    const { engine, asked } = fakeEngine([HELD]);
    const ledger = ReferenceLedger.of(engine);
    ledger.expect(REPO);
    ledger.expect(REPO); // asked once a repository
    (await ledger.hold(HELD))();
    (await ledger.hold(NEW))();
    expect(asked).toEqual({ listings: [REPO], inspects: [] });
    expect(await ledger.removable(HELD)).toBe(false); // the user's: it stays
    expect(await ledger.removable(NEW)).toBe(true); // the run brought it, nobody holds or kept it
  });

  it("inspects the reference where no listing was asked, or the engine listed nothing usable (no API)", async () => {
    const { engine, asked } = fakeEngine(undefined, [HELD]);
    const ledger = ReferenceLedger.of(engine);
    ledger.expect(REPO);
    (await ledger.hold(HELD))();
    expect(asked.inspects).toEqual([HELD]);
    expect(await ledger.removable(HELD)).toBe(false);
    const other = fakeEngine([HELD]);
    (await ReferenceLedger.of(other.engine).hold(NEW))();
    expect(other.asked).toEqual({ listings: [], inspects: [NEW] });
  });

  it("a held or kept reference is not removable", async () => {
    const { engine } = fakeEngine([]);
    const ledger = ReferenceLedger.of(engine);
    ledger.expect(REPO);
    const release = await ledger.hold(NEW);
    expect(await ledger.removable(NEW)).toBe(false);
    release();
    expect(await ledger.removable(NEW)).toBe(true);
    ledger.keep(NEW);
    expect(await ledger.removable(NEW)).toBe(false);
  });
});

describe("familiarName (the engine's reference filter)", () => {
  it.each([
    ["docker.io/library/alpine", "alpine"],
    ["alpine", "alpine"],
    ["docker.io/org/app", "org/app"],
    ["docker.io/library/a/b", "library/a/b"],
    ["ghcr.io/org/app", "ghcr.io/org/app"],
    ["127.0.0.1:5000/mirror/x", "127.0.0.1:5000/mirror/x"],
  ])("%s → %s", (input, familiar) => {
    expect(familiarName(parseRepository(input))).toBe(familiar);
  });
});
