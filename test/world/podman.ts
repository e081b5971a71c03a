// podman for the e2e files that run the action with `engine: podman` (Debian's podman, rootful):
// whether it is here, and a store of a describe block's own (vfs, under a temporary directory).
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll } from "vitest";
import { type CommandResult, runCommand } from "../../src/engine/engine.js";

/** Why podman cannot run here ("" when it can). */
export const podmanMissing = (() => {
  try {
    execFileSync("podman", ["--version"], { stdio: "ignore" });
    return "";
  } catch {
    return "podman is not installed";
  }
})();

export interface PodmanStore {
  /** the environment that points podman (and the action) at the store */
  readonly env: Record<string, string>;
  podman(args: string[]): Promise<CommandResult>;
}

/**
 * Registers the block's hooks: a fresh store in its beforeAll (with CI=true, a missing podman
 * fails there), reset and removed in its afterAll.
 */
export function usePodmanStore(prefix: string): PodmanStore {
  let storage: string | undefined;
  const store: PodmanStore = {
    env: {},
    podman: (args) => runCommand("podman", args, { env: { ...process.env, ...store.env } }),
  };
  beforeAll(() => {
    if (podmanMissing) throw new Error(`CI=true and ${podmanMissing}`);
    storage = mkdtempSync(join(tmpdir(), prefix));
    writeFileSync(join(storage, "storage.conf"), `[storage]\ndriver = "vfs"\ngraphroot = "${storage}/graph"\nrunroot = "${storage}/run"\n`);
    Object.assign(store.env, { CONTAINERS_STORAGE_CONF: join(storage, "storage.conf") });
  });
  afterAll(async () => {
    if (!storage) return;
    await store.podman(["system", "reset", "--force"]).catch(() => undefined);
    rmSync(storage, { recursive: true, force: true });
  });
  return store;
}
