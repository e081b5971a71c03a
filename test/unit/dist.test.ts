// The action runs dist/, not src/: a stale bundle is a failing test, not a surprise.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const repo = resolve(import.meta.dirname, "../..");

describe("dist/", () => {
  it("matches a fresh build of src/", () => {
    const out = mkdtempSync(join(tmpdir(), "prepull-dist-"));
    execFileSync(process.execPath, [join(repo, "scripts/build.mjs")], {
      cwd: repo,
      env: { ...process.env, PREPULL_OUTDIR: out },
      stdio: "pipe",
    });
    for (const file of ["prepull.cjs", "buildfiles.cjs", "index.cjs", "cli.cjs", "licenses.txt"]) {
      const fresh = readFileSync(join(out, file), "utf8");
      const committed = readFileSync(join(repo, "dist", file), "utf8");
      expect(committed === fresh, `dist/${file} is stale: run 'npm run build' and commit dist/`).toBe(true);
    }
  }, 60_000);
});
