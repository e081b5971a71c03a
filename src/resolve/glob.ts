// tinyglobby, for findFiles (./files.ts): bundled apart (dist/glob.cjs) and loaded only when
// images-from is used, as the build-file parsers are (see scripts/build.mjs).
export { glob, isDynamicPattern } from "tinyglobby";
