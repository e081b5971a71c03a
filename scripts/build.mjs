// Bundles everything once, minified, into dist/prepull.cjs (with its source map), behind two
// thin entries: dist/index.cjs (the action) and dist/cli.cjs (the `prepull` bin); and the
// licenses of everything bundled (dist/licenses.txt). Output is deterministic, so a fresh
// build of an unchanged src/ leaves dist/ byte-identical (CI checks it).
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as esbuild from "esbuild";

const pkg = JSON.parse(readFileSync("package.json", "utf8"));
// PREPULL_OUTDIR: build elsewhere (the stale-dist test compares that with dist/).
const outdir = process.env.PREPULL_OUTDIR ?? "dist";
const common = {
  bundle: true,
  platform: "node",
  target: "node20",
  format: "cjs",
  sourcemap: true,
  sourcesContent: false,
  legalComments: "none",
  minify: true,
  keepNames: true,
  // undici is used by @actions/http-client only for a fetch proxy prepull never asks for.
  alias: { undici: "./scripts/undici-stub.cjs" },
  metafile: true,
  logLevel: "warning",
  // ESM dependencies (fdir, under tinyglobby) read import.meta.url, which a CJS bundle lacks.
  define: { PREPULL_VERSION: JSON.stringify(pkg.version), "import.meta.url": "__prepull_import_meta_url" },
};
const metaUrl = 'var __prepull_import_meta_url = require("url").pathToFileURL(__filename).href;';
// src/buildfiles.ts (images-from's parsers: yaml, dockerfile-ast, tinyglobby, over half of the
// bytes) is bundled apart and required only when images-from is used, so that no other run
// parses it at start. It is pure (no state shared with the main bundle).
const buildfilesApart = {
  name: "buildfiles-apart",
  setup(build) {
    build.onResolve({ filter: /^\.\/buildfiles\.js$/ }, () => ({ path: "./buildfiles.cjs", external: true }));
  },
};
// @actions/http-client imports https and tunnel (both load node's TLS), and @actions/core
// crypto, at the top; they are given to them behind getters that load them on first use
// (scripts/lazy-*.cjs).
const lazyBuiltins = {
  name: "lazy-builtins",
  setup(build) {
    const lazy = (path) => ({ path: join(process.cwd(), "scripts", `lazy-${path}.cjs`) });
    build.onResolve({ filter: /^(https|tunnel)$/ }, ({ path, importer }) =>
      /@actions[/\\]http-client[/\\]/.test(importer) ? lazy(path) : undefined,
    );
    build.onResolve({ filter: /^crypto$/ }, ({ path, importer }) => (/@actions[/\\]core[/\\]/.test(importer) ? lazy(path) : undefined));
  },
};
const results = [
  await esbuild.build({
    ...common,
    entryPoints: ["src/bundle.ts"],
    outfile: join(outdir, "prepull.cjs"),
    banner: { js: metaUrl },
    plugins: [buildfilesApart, lazyBuiltins],
  }),
  await esbuild.build({ ...common, entryPoints: ["src/buildfiles.ts"], outfile: join(outdir, "buildfiles.cjs"), banner: { js: metaUrl } }),
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
