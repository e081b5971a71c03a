// The esbuild options every bundle of prepull's is made with (scripts/build.mjs), shared with the
// benchmark that bundles the least action on the same stack (bench/minimal-action.ts) as dist is.
import { readFileSync } from "node:fs";

const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
export const common = {
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
export const metaUrl = 'var __prepull_import_meta_url = require("url").pathToFileURL(__filename).href;';
// src/resolve/buildfiles.ts (images-from's parsers: yaml and dockerfile-ast, over half of the
// bytes) is bundled apart and required only when images-from is used, so that no other run
// parses it at start. It is pure (no state shared with the main bundle).
export const buildfilesApart = {
  name: "buildfiles-apart",
  setup(build) {
    build.onResolve({ filter: /^\.\/buildfiles\.js$/ }, () => ({ path: "./buildfiles.cjs", external: true }));
  },
};
// @actions/http-client imports https and tunnel (both load node's TLS), and @actions/core
// crypto, at the top: each is given to them as a module whose named members load the real one
// on first use. node's TLS took 4–5 ms of a start and crypto 4–6 ms; the post step, `mode: wait`,
// a run with nothing to do and plain-HTTP caches need neither (core wants crypto only for a
// file command's delimiter, which prepull writes itself: src/report/filecommand.ts). Getters, not a
// Proxy: esbuild's interop reads keys such as __esModule, which must not load the module.
const LAZY_MEMBERS = {
  https: { module: "node:https", importer: /@actions[/\\]http-client[/\\]/, members: ["Agent", "globalAgent", "request", "get"] },
  tunnel: {
    module: "tunnel", // http-client's proxy agents: only behind a proxy
    importer: /@actions[/\\]http-client[/\\]/,
    members: ["httpOverHttp", "httpsOverHttp", "httpOverHttps", "httpsOverHttps"],
  },
  crypto: { module: "node:crypto", importer: /@actions[/\\]core[/\\]/, members: ["randomUUID"] },
  // @actions/core's platform details (never asked by prepull) run @actions/exec, which brings
  // @actions/io (node's fs/promises at its load); its job summary writer is not bundled at all
  // (scripts/summary-stub.cjs: prepull appends the summary itself, src/report/filecommand.ts).
  "@actions/exec": {
    module: "./node_modules/@actions/exec/lib/exec.js",
    importer: /@actions[/\\]core[/\\]/,
    members: ["exec", "getExecOutput"],
  },
  "./summary.js": {
    module: "./scripts/summary-stub.cjs",
    importer: /@actions[/\\]core[/\\]lib[/\\]core\.js$/,
    members: ["summary", "markdownSummary", "SUMMARY_ENV_VAR", "SUMMARY_DOCS_URL"],
  },
};
export const lazyBuiltins = {
  name: "lazy-builtins",
  setup(build) {
    build.onResolve({ filter: /^(https|tunnel|crypto|@actions\/exec|\.\/summary\.js)$/ }, ({ path, importer }) =>
      LAZY_MEMBERS[path].importer.test(importer) ? { path, namespace: "lazy" } : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: "lazy" }, ({ path }) => {
      const { module, members } = LAZY_MEMBERS[path];
      const getters = members.map((name) => `  get ${name}() { return load().${name}; },`).join("\n");
      return {
        contents: `let loaded;\nconst load = () => (loaded ??= require(${JSON.stringify(module)}));\nmodule.exports = {\n${getters}\n};\n`,
        loader: "js",
        // The repository's root, wherever the build is started from (the benchmark bundles too).
        resolveDir: build.initialOptions.absWorkingDir ?? process.cwd(),
      };
    });
  },
};
