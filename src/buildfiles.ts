// images-from: the images a build's own files name. Dockerfiles are read with dockerfile-ast
// (the parser of VS Code's Docker tooling), compose files with yaml; the substitution rules
// (Dockerfile ARGs, compose interpolation) are pure functions here, table-tested.

import { Copy, DockerfileParser, From, type Instruction, Run } from "dockerfile-ast";
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Scalar, type YAMLMap } from "yaml";

/** One image a build file names. */
export interface NamedImage {
  readonly text: string;
  /** 1-based line in the file */
  readonly line: number;
  /** a fixed `--platform=` / `platform:` it asks for */
  readonly platform?: string;
  /** the file that names it, where not the file read (a compose service's Dockerfile) */
  readonly file?: string;
}

export interface FileImages {
  readonly images: NamedImage[];
  /** lines that name an image prepull cannot work out (a variable with no value), said as warnings */
  readonly warnings: string[];
}

type Lookup = (name: string) => string | undefined;

/**
 * Expands `$VAR`, `${VAR}`, `${VAR:-word}`, `${VAR-word}`, `${VAR:+word}`, `${VAR+word}`,
 * `${VAR:?message}` and `${VAR?message}` (Dockerfile and compose alike); `$$` is a literal `$`
 * where `dollarEscape` (compose). Returns the names that had no value, instead of guessing.
 */
export function expandVariables(
  text: string,
  lookup: Lookup,
  options: { dollarEscape?: boolean } = {},
): { value: string; missing: string[] } {
  const missing: string[] = [];
  const pattern = /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-+?])((?:[^{}]|\{[^{}]*\})*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g;
  const value = text.replace(pattern, (match, braced?: string, colon?: string, op?: string, word?: string, bare?: string) => {
    if (match === "$$") return options.dollarEscape ? "$" : match;
    const name = braced ?? bare ?? "";
    const current = lookup(name);
    const set = current !== undefined && (colon !== ":" || current !== "");
    if (op === "-") return set ? (current ?? "") : expandVariables(word ?? "", lookup, options).value;
    if (op === "+") return set ? expandVariables(word ?? "", lookup, options).value : "";
    if (op === "?" && !set) {
      missing.push(name);
      return "";
    }
    if (current === undefined) {
      missing.push(name);
      return "";
    }
    return current;
  });
  return { value, missing };
}

/** `--mount=type=cache,from=IMAGE,target=/x` → IMAGE */
function mountFrom(flag: string): string | undefined {
  for (const part of flag.split(",")) {
    const [key, ...rest] = part.split("=");
    if (key?.trim() === "from") return rest.join("=").trim();
  }
  return undefined;
}

/**
 * Every image a Dockerfile pulls: `FROM` (with the ARGs declared before the first FROM
 * substituted, `buildArgs` taking precedence over their defaults), `COPY --from=` and
 * `RUN --mount=…,from=` that name an image rather than a stage; stage names and `scratch`
 * left out. A fixed `--platform=` is kept; one that names a variable ($BUILDPLATFORM) is not.
 */
export function dockerfileImages(content: string, file: string, buildArgs: ReadonlyMap<string, string>): FileImages {
  const dockerfile = DockerfileParser.parse(content);
  const images: NamedImage[] = [];
  const warnings: string[] = [];
  const stages = new Set<string>();
  const globalArgs = new Map<string, string | undefined>();
  let stageArgs = new Map<string, string | undefined>();
  let seenFrom = false;
  let stageIndex = 0;
  const lookupIn = (scope: Map<string, string | undefined>) => (name: string) => (scope.has(name) ? scope.get(name) : undefined);

  const add = (raw: string, line: number, scope: Map<string, string | undefined>, what: string, platform?: string) => {
    const { value, missing } = expandVariables(raw, lookupIn(scope));
    if (missing.length > 0) {
      warnings.push(
        `${file} line ${line}: ${what} ${raw} needs ${missing.join(", ")}, which has no value (set it in build-args); not pre-pulled`,
      );
      return;
    }
    const name = value.trim();
    if (name === "" || name.toLowerCase() === "scratch" || stages.has(name.toLowerCase()) || /^\d+$/.test(name)) return;
    images.push({ text: name, line, ...(platform && { platform }) });
  };

  for (const instruction of dockerfile.getInstructions()) {
    const keyword = instruction.getKeyword().toUpperCase();
    const line = instruction.getRange().start.line + 1;
    if (keyword === "ARG") {
      declareArgs(
        instruction.getArguments().map((a) => a.getValue()),
        seenFrom ? stageArgs : globalArgs,
        seenFrom ? globalArgs : undefined,
        buildArgs,
      );
      continue;
    }
    if (instruction instanceof From) {
      seenFrom = true;
      const platformFlag = instruction.getPlatformFlag()?.getValue() ?? undefined;
      const image = instruction.getImage();
      if (image) add(image, line, globalArgs, "FROM", platformFlag && !platformFlag.includes("$") ? platformFlag : undefined);
      const stage = instruction.getBuildStage();
      if (stage) stages.add(stage.toLowerCase());
      stages.add(String(stageIndex++));
      stageArgs = new Map();
      continue;
    }
    const scope = new Map([...globalArgs, ...stageArgs]);
    for (const [what, value] of flagImages(instruction)) add(value, line, scope, what);
  }
  return { images, warnings };
}

type Scope = Map<string, string | undefined>;

/** `COPY --from=X` and `RUN --mount=…,from=X`: what may name an image (a stage is left out by the caller). */
function flagImages(instruction: Instruction): [string, string][] {
  const found: [string, string][] = [];
  if (!(instruction instanceof Copy) && !(instruction instanceof Run)) return found;
  for (const flag of instruction.getFlags()) {
    const value = flag.getValue();
    if (!value) continue;
    if (instruction instanceof Copy && flag.getName() === "from") found.push(["COPY --from", value]);
    const from = instruction instanceof Run && flag.getName() === "mount" ? mountFrom(value) : undefined;
    if (from) found.push(["RUN --mount from", from]);
  }
  return found;
}

/** `ARG NAME[=default]…`: build-args first, then the default; in a stage, `ARG NAME` brings the global value in. */
function declareArgs(
  declarations: readonly string[],
  scope: Scope,
  globals: Scope | undefined,
  buildArgs: ReadonlyMap<string, string>,
): void {
  for (const declaration of declarations) {
    const [name = "", ...rest] = declaration.split("=");
    const declaredDefault = rest.length > 0 ? expandVariables(rest.join("="), (n) => scope.get(n)).value : undefined;
    const inherited = globals && rest.length === 0 ? globals.get(name) : undefined;
    scope.set(name, buildArgs.get(name) ?? declaredDefault ?? inherited);
  }
}

/** `.env` lines as compose reads them: `NAME=value`, quotes removed, `#` comments and blank lines ignored. */
export function parseDotEnv(content: string): Map<string, string> {
  const values = new Map<string, string>();
  for (const raw of content.split(/\r?\n/)) {
    const line = raw.trim().replace(/^export\s+/, "");
    if (line === "" || line.startsWith("#")) continue;
    const eq = line.indexOf("=");
    if (eq <= 0) continue;
    let value = line.slice(eq + 1).trim();
    const quoted = value.match(/^(["'])(.*)\1$/s);
    if (quoted) value = quoted[2] ?? "";
    else value = value.replace(/\s+#.*$/, "");
    values.set(line.slice(0, eq).trim(), value);
  }
  return values;
}

/** A service that builds: where its Dockerfile is (relative to the compose file) and its build args. */
export interface ComposeBuild {
  readonly service: string;
  readonly line: number;
  readonly dockerfile: string;
  readonly args: ReadonlyMap<string, string>;
  readonly platform?: string;
}

export interface ComposeImages extends FileImages {
  readonly builds: ComposeBuild[];
}

/**
 * `services.*.image` with compose's interpolation (the step's environment over `.env`); a
 * service with `build:` contributes its Dockerfile (its `image:` names what it builds, not
 * what it pulls).
 */
export function composeImages(content: string, file: string, lookup: Lookup): ComposeImages {
  const lines = new LineCounter();
  const document = parseDocument(content, { lineCounter: lines });
  const images: NamedImage[] = [];
  const warnings: string[] = [];
  const builds: ComposeBuild[] = [];
  if (document.errors.length > 0) {
    warnings.push(`${file}: not valid YAML (${document.errors[0]?.message.split("\n")[0]}); no images read from it`);
    return { images, warnings, builds };
  }
  const services = document.get("services");
  if (!isMap(services)) return { images, warnings, builds };
  const lineOf = (node: unknown) => {
    const range = (node as { range?: [number, number, number] } | undefined)?.range;
    return range ? lines.linePos(range[0]).line : 0;
  };
  const text: Text = (node, where) => {
    if (!isScalar(node) || node.value === null || node.value === undefined) return undefined;
    const { value, missing } = expandVariables(String((node as Scalar).value), lookup, { dollarEscape: true });
    if (missing.length > 0) {
      warnings.push(
        `${file} line ${where}: ${String((node as Scalar).value)} needs ${missing.join(", ")}, which has no value; not pre-pulled`,
      );
      return undefined;
    }
    return value;
  };
  for (const pair of (services as YAMLMap).items) {
    const service = String(isScalar(pair.key) ? pair.key.value : pair.key);
    const definition = pair.value;
    if (!isMap(definition)) continue;
    const platformNode = definition.get("platform", true);
    const platform = platformNode ? text(platformNode, lineOf(platformNode)) : undefined;
    const build: unknown = definition.get("build", true);
    if (build !== undefined && build !== null) {
      builds.push(readBuild(service, build, text, lineOf, platform));
      continue;
    }
    const imageNode = definition.get("image", true);
    if (!imageNode) continue;
    const line = lineOf(imageNode);
    const image = text(imageNode, line);
    if (image) images.push({ text: image, line, ...(platform && { platform }) });
  }
  return { images, warnings, builds };
}

type Text = (node: unknown, line: number) => string | undefined;

/** A service's `build:` (a context path, or `context`, `dockerfile`, `args` as a map or a list). */
function readBuild(service: string, build: unknown, text: Text, lineOf: (node: unknown) => number, platform?: string): ComposeBuild {
  const where = lineOf(build);
  let context = ".";
  let dockerfile = "Dockerfile";
  const args = new Map<string, string>();
  if (isScalar(build)) context = text(build, where) ?? ".";
  else if (isMap(build)) {
    const map = build as YAMLMap;
    context = text(map.get("context", true), where) ?? ".";
    dockerfile = text(map.get("dockerfile", true), where) ?? "Dockerfile";
    const argsNode = map.get("args", true);
    if (isMap(argsNode)) {
      for (const item of argsNode.items) {
        const value = text(item.value, lineOf(item.value));
        if (value !== undefined) args.set(String(isScalar(item.key) ? item.key.value : item.key), value);
      }
    } else if (isSeq(argsNode)) {
      for (const item of argsNode.items) {
        const entry = text(item, lineOf(item));
        const eq = entry?.indexOf("=") ?? -1;
        if (entry && eq > 0) args.set(entry.slice(0, eq), entry.slice(eq + 1));
      }
    }
  }
  const path = dockerfile.startsWith("/") ? dockerfile : `${context.replace(/\/+$/, "")}/${dockerfile}`;
  return { service, line: where, dockerfile: path, args, ...(platform && { platform }) };
}

export type BuildFileKind = "dockerfile" | "compose";

/** What kind of build file a path names: by its name, or `dockerfile:` in front. */
export function buildFileKind(name: string): BuildFileKind | undefined {
  const base = name.slice(name.lastIndexOf("/") + 1);
  if (/^(?:docker-)?compose(?:\.[\w.-]+)?\.ya?ml$/i.test(base)) return "compose";
  if (/^Dockerfile(?:\..+)?$/i.test(base) || /\.Dockerfile$/i.test(base)) return "dockerfile";
  return undefined;
}
