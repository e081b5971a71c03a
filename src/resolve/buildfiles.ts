// images-from: the images a build's own files name. Dockerfiles are read with dockerfile-ast
// (the parser of VS Code's Docker tooling) and each word as BuildKit reads it
// (src/resolve/shellword.ts); compose files in src/resolve/compose.ts, their .env by
// src/resolve/dotenv.ts. The rules are pure functions, table-tested with the peers' own cases.

import { Copy, DockerfileParser, From, type Instruction, Run } from "dockerfile-ast";
import type { FileImages, NamedImage } from "./compose.js";
import type { Lookup } from "./interpolate.js";
import { processWord, splitWords } from "./shellword.js";

// tinyglobby, for findFiles (./files.ts), which only images-from calls: in this bundle too.
export { glob, isDynamicPattern } from "tinyglobby";
export { composeEnvironment, composeImages, type FileImages, type NamedImage } from "./compose.js";

type Scope = Map<string, string | undefined>;

/** `--mount=type=cache,from=IMAGE,target=/x` → IMAGE */
function mountFrom(flag: string): string | undefined {
  for (const part of flag.split(",")) {
    const [key, ...rest] = part.split("=");
    if (key?.trim() === "from") return rest.join("=").trim();
  }
  return undefined;
}

/**
 * Every image a Dockerfile pulls: the `# syntax=` frontend, `FROM` (with the ARGs declared
 * before the first FROM substituted, `buildArgs` taking precedence over their defaults),
 * `COPY --from=` and `RUN --mount=…,from=` that name an image rather than a stage; stage names
 * and `scratch` left out. Each word is read as BuildKit reads it (quotes removed, a variable
 * with no value empty, with a warning). BuildKit's automatic platform ARGs ($BUILDPLATFORM,
 * $TARGETARCH…) have their values (`platforms`); a `--platform=` is kept where it has a value.
 */
export function dockerfileImages(
  content: string,
  file: string,
  buildArgs: ReadonlyMap<string, string>,
  platforms: { build?: string; target?: string } = {},
): FileImages {
  const automatic = automaticArgs(platforms.build ?? hostPlatform(), platforms.target);
  // the automatic ARGs are given as build-args are: over a default, without a declaration in FROM
  const given = new Map([...automatic, ...buildArgs]);
  const dockerfile = DockerfileParser.parse(content);
  const escapeChar = dockerfile.getEscapeCharacter();
  const images: NamedImage[] = [];
  const warnings: string[] = [];
  const stages = new Set<string>();
  const globalArgs: Scope = new Map();
  let stageArgs: Scope = new Map();
  let seenFrom = false;
  let stageIndex = 0;
  const lookupIn =
    (scope: Scope): Lookup =>
    (name) =>
      scope === globalArgs && !scope.has(name) ? automatic.get(name) : scope.get(name);

  const add = (raw: string, line: number, scope: Scope, what: string, platform?: string) => {
    const named = readImageWord({ raw, line, what, file, escapeChar, stages, warnings }, lookupIn(scope));
    if (named) images.push({ ...named, ...(platform && { platform }) });
  };

  const syntax = dockerfile.getDirectives().find((directive) => directive.getName().toLowerCase() === "syntax");
  if (syntax?.getValue()) add(syntax.getValue(), syntax.getRange().start.line + 1, new Map(), "# syntax=");
  for (const instruction of dockerfile.getInstructions()) {
    const keyword = instruction.getKeyword().toUpperCase();
    const line = instruction.getRange().start.line + 1;
    if (keyword === "ARG") {
      const scope = seenFrom ? stageArgs : globalArgs;
      for (const declaration of splitWords(instruction.getArgumentsContent() ?? "", escapeChar)) {
        declareArg(declaration, scope, seenFrom ? globalArgs : undefined, given, escapeChar);
      }
      continue;
    }
    if (instruction instanceof From) {
      seenFrom = true;
      const image = instruction.getImage();
      if (image)
        add(image, line, globalArgs, "FROM", fixedPlatform(instruction.getPlatformFlag()?.getValue(), lookupIn(globalArgs), escapeChar));
      const stage = instruction.getBuildStage();
      if (stage) stages.add(stage.toLowerCase());
      stages.add(String(stageIndex++));
      stageArgs = new Map();
      continue;
    }
    // in a stage, only the ARGs it declares (a global one comes in by `ARG NAME`), as docker reads it
    const scope = stageArgs;
    for (const [what, value] of flagImages(instruction, lookupIn(scope), escapeChar)) add(value, line, scope, what);
  }
  return { images, warnings };
}

/** The platform of the engine's host, as BuildKit names it (`linux/amd64`, `linux/arm64`, `linux/arm/v7`). */
function hostPlatform(): string {
  const arch: Record<string, string> = { x64: "amd64", ia32: "386", arm: "arm/v7", ppc64: "ppc64le" };
  return `linux/${arch[process.arch] ?? process.arch}`;
}

/** BuildKit's automatic platform ARGs: BUILD* of the builder's platform, TARGET* of the target (the builder's where none is asked). */
function automaticArgs(build: string, target = build): Map<string, string> {
  const args = new Map<string, string>();
  for (const [prefix, platform] of [
    ["BUILD", build],
    ["TARGET", target],
  ] as const) {
    const [os = "", arch = "", variant = ""] = platform.split("/");
    args.set(`${prefix}PLATFORM`, platform).set(`${prefix}OS`, os).set(`${prefix}ARCH`, arch).set(`${prefix}VARIANT`, variant);
  }
  return args;
}

/** An image word as BuildKit reads it; a stage, `scratch` or nothing is no image; an unset variable a warning. */
function readImageWord(
  at: { raw: string; line: number; what: string; file: string; escapeChar: string; stages: Set<string>; warnings: string[] },
  lookup: Lookup,
): NamedImage | undefined {
  const { raw, line, what, file, warnings } = at;
  let word: ReturnType<typeof processWord>;
  try {
    word = processWord(raw, lookup, at.escapeChar);
  } catch (error) {
    warnings.push(`${file} line ${line}: ${what} ${raw}: ${(error as Error).message}; not pre-pulled`);
    return undefined;
  }
  const name = word.value.trim();
  const { unset } = word;
  if (unset.length > 0) {
    warnings.push(
      `${file} line ${line}: ${what} ${raw} needs ${unset.join(", ")}, which has no value (set it in build-args); docker reads it as empty: ${name === "" ? "nothing" : name}`,
    );
  }
  if (name === "" || name.toLowerCase() === "scratch" || at.stages.has(name.toLowerCase()) || /^\d+$/.test(name)) return undefined;
  return { text: name, line, ...(unset.length > 0 && { unset }) };
}

/** `--platform=` as BuildKit reads it, where it needs no variable without a value. */
function fixedPlatform(flag: string | null | undefined, lookup: Lookup, escapeChar: string): string | undefined {
  if (!flag) return undefined;
  try {
    const { value, unset } = processWord(flag, lookup, escapeChar);
    return unset.length === 0 && value !== "" ? value : undefined;
  } catch {
    return undefined;
  }
}

/** `COPY --from=X` and `RUN --mount=…,from=X`: what may name an image (a stage is left out by the caller). */
function flagImages(instruction: Instruction, lookup: Lookup, escapeChar: string): [string, string][] {
  const found: [string, string][] = [];
  if (!(instruction instanceof Copy) && !(instruction instanceof Run)) return found;
  for (const flag of instruction.getFlags()) {
    const value = flag.getValue();
    if (!value) continue;
    if (instruction instanceof Copy && flag.getName() === "from") found.push(["COPY --from", value]);
    if (!(instruction instanceof Run) || flag.getName() !== "mount") continue;
    let mount = value;
    try {
      mount = processWord(value, lookup, escapeChar).value;
    } catch {}
    const from = mountFrom(mount);
    if (from) found.push(["RUN --mount from", from]);
  }
  return found;
}

/**
 * `ARG NAME[=default]`: a build-arg first (taken as given), else the default read as a word in
 * the scope so far; in a stage, `ARG NAME` brings the global value in.
 */
function declareArg(
  declaration: string,
  scope: Scope,
  globals: Scope | undefined,
  buildArgs: ReadonlyMap<string, string>,
  escapeChar: string,
): void {
  const eq = declaration.indexOf("=");
  const name = eq < 0 ? declaration : declaration.slice(0, eq);
  let declaredDefault: string | undefined;
  if (eq >= 0) {
    try {
      declaredDefault = processWord(declaration.slice(eq + 1), (n) => scope.get(n), escapeChar).value;
    } catch {
      declaredDefault = undefined;
    }
  }
  const inherited = globals && eq < 0 ? globals.get(name) : undefined;
  scope.set(name, buildArgs.get(name) ?? declaredDefault ?? inherited);
}

// Workflow files are parsed in their own module, bundled here with the other YAML parser.
export { workflowImages } from "./workflows.js";

export type BuildFileKind = "dockerfile" | "compose" | "workflow";

/** What kind of build file a path names: by its name (or place), or `dockerfile:` / `workflow:` in front. */
export function buildFileKind(name: string): BuildFileKind | undefined {
  const base = name.slice(name.lastIndexOf("/") + 1);
  if (/(?:^|\/)\.github\/workflows\/[^/]+\.ya?ml$/i.test(name)) return "workflow";
  if (/^(?:docker-)?compose(?:\.[\w.-]+)?\.ya?ml$/i.test(base)) return "compose";
  if (/^Dockerfile(?:\..+)?$/i.test(base) || /\.Dockerfile$/i.test(base)) return "dockerfile";
  return undefined;
}
