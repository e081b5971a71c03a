// The one bundle (dist/prepull.cjs) behind both thin entries: dist/index.cjs (the action, its
// post step and its background worker) and dist/cli.cjs (the command line).
export { runCli } from "./cli.js";
export { runAction } from "./index.js";
