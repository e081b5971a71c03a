// Bundles everything once, minified, into dist/prepull.cjs (with its source map), behind two
// thin entries: dist/index.cjs (the action) and dist/cli.cjs (the `prepull` bin); and the
// licenses of everything bundled (dist/licenses.txt). Output is deterministic, so a fresh
// build of an unchanged src/ leaves dist/ byte-identical (CI checks it).
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as esbuild from "esbuild";
import { buildfilesApart, common, lazyBuiltins, metaUrl } from "./bundle-options.mjs";

// PREPULL_OUTDIR: build elsewhere (the stale-dist test compares that with dist/).
const outdir = process.env.PREPULL_OUTDIR ?? "dist";

const results = [
  await esbuild.build({
    ...common,
    entryPoints: ["src/bundle.ts"],
    outfile: join(outdir, "prepull.cjs"),
    banner: { js: metaUrl },
    plugins: [buildfilesApart, lazyBuiltins],
  }),
  await esbuild.build({
    ...common,
    entryPoints: ["src/resolve/buildfiles.ts"],
    outfile: join(outdir, "buildfiles.cjs"),
    banner: { js: metaUrl },
  }),
];

// Node's compile cache (node 22.1+) keeps the bundle's compiled code between the steps of a job.
const cache = 'try { require("node:module").enableCompileCache?.(); } catch {}';
writeFileSync(
  join(outdir, "index.cjs"),
  `// The action's entry (action.yml main and post): the bundle does the work.\n${cache}\nrequire("./prepull.cjs").runAction();\n`,
);
writeFileSync(
  join(outdir, "cli.cjs"),
  `#!/usr/bin/env node\n// The prepull command line: the bundle does the work.\n${cache}\nrequire("./prepull.cjs").runCli();\n`,
);
chmodSync(join(outdir, "cli.cjs"), 0o755); // the `prepull` bin

// Licenses: every package whose files went into a bundle.
const packages = new Map();
for (const { metafile } of results) {
  for (const input of Object.keys(metafile.inputs)) {
    const match = input.match(/node_modules\/((?:@[^/]+\/)?[^/]+)\//);
    if (match) packages.set(match[1], join("node_modules", match[1]));
  }
}
const sections = [...packages.entries()]
  .sort(([a], [b]) => a.localeCompare(b))
  .map(([name, dir]) => {
    const meta = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
    const licenseFile = ["LICENSE", "LICENSE.md", "license", "LICENSE.txt", "license.md"]
      .map((f) => join(dir, f))
      .find((f) => {
        try {
          readFileSync(f);
          return true;
        } catch {
          return false;
        }
      });
    const text = licenseFile ? readFileSync(licenseFile, "utf8").trim() : "(no license file in the package)";
    return `${name}@${meta.version} — ${meta.license ?? "UNKNOWN"}\n\n${text}\n`;
  });
writeFileSync(join(outdir, "licenses.txt"), `Third-party software bundled in dist/\n\n${sections.join("\n---\n\n")}`);
