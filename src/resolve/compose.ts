// A compose file's images as compose reads them: YAML (the `yaml` package) with anchors, aliases
// and merge keys (`<<: *defaults`, `<<: [*a, *b]`) followed, `extends:` within the file, and
// compose interpolation (./interpolate.ts) of every value read; a variable with no value is
// empty, as compose makes it, with a warning that says so.
import { type Document, isAlias, isMap, isScalar, isSeq, LineCounter, type Node, parseDocument, type YAMLMap } from "yaml";
import { type Lookup, substitute } from "./interpolate.js";

/** One image a build file names. */
export interface NamedImage {
  readonly text: string;
  /** 1-based line in the file */
  readonly line: number;
  /** a fixed `--platform=` / `platform:` it asks for */
  readonly platform?: string;
  /** the file that names it, where not the file read (a compose service's Dockerfile) */
  readonly file?: string;
  /** variables it was read with that have no value (read as empty, as docker and compose do) */
  readonly unset?: readonly string[];
}

export interface FileImages {
  readonly images: NamedImage[];
  /** lines that name an image prepull cannot work out, or works out from an unset variable, said as warnings */
  readonly warnings: string[];
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

const MAX_EXTENDS = 10;

/** A map's entries with merge keys followed: its own keys first, then each merged map's, earlier sources first. */
function entries(map: YAMLMap, doc: Document, depth = 0): Map<string, unknown> {
  const found = new Map<string, unknown>();
  const merged: unknown[] = [];
  for (const pair of map.items) {
    const key = isScalar(pair.key) ? pair.key.value : pair.key;
    if (key === "<<" || (typeof key === "symbol" && key.description === "<<")) {
      merged.push(...(isSeq(pair.value) ? pair.value.items : [pair.value]));
    } else found.set(String(key), pair.value);
  }
  for (const source of merged) {
    const target = isAlias(source) ? source.resolve(doc) : source;
    if (!isMap(target) || depth > MAX_EXTENDS) continue;
    for (const [key, value] of entries(target, doc, depth + 1)) if (!found.has(key)) found.set(key, value);
  }
  return found;
}

type Text = (node: unknown) => string | undefined;

/** Reads a document's scalars: aliases resolved, lines numbered, compose interpolation applied (warnings collected). */
function scalarReader(doc: Document, lines: LineCounter, lookup: Lookup, file: string, warnings: string[]) {
  const resolve = (node: unknown) => (isAlias(node) ? node.resolve(doc) : node);
  const lineOf = (node: unknown) => {
    const range = (resolve(node) as Node | undefined)?.range;
    return range ? lines.linePos(range[0]).line : 0;
  };
  const unsetOf = new Map<unknown, string[]>();
  const text: Text = (raw) => {
    const node = resolve(raw);
    if (!isScalar(node) || node.value === null || node.value === undefined) return undefined;
    const template = String(node.value);
    try {
      const { value, unset } = substitute(template, lookup);
      if (unset.length > 0) {
        warnings.push(
          `${file} line ${lineOf(node)}: ${template} needs ${unset.join(", ")}, which has no value; compose reads it as empty: ${value}`,
        );
        unsetOf.set(node, unset);
      }
      return value;
    } catch (error) {
      warnings.push(`${file} line ${lineOf(node)}: ${(error as Error).message}; compose refuses it too, not pre-pulled`);
      return undefined;
    }
  };
  return { resolve, lineOf, text, unsetOf: (node: unknown) => unsetOf.get(resolve(node)) };
}

/** A service's field, its merge keys and `extends:` (within the file) followed. */
function serviceFields(services: Map<string, unknown>, doc: Document, resolve: (node: unknown) => unknown) {
  return (name: string, key: string): unknown => {
    let current = name;
    for (let depth = 0; depth < MAX_EXTENDS; depth++) {
      const definition = resolve(services.get(current));
      if (!isMap(definition)) return undefined;
      const fields = entries(definition, doc);
      if (fields.has(key)) return fields.get(key);
      const extended = resolve(fields.get("extends"));
      const base = isMap(extended) && !extended.has("file") ? extended.get("service") : isScalar(extended) ? extended.value : undefined;
      if (typeof base !== "string") return undefined;
      current = base;
    }
    return undefined;
  };
}

/**
 * `services.*.image` with compose's interpolation (`lookup`: the environment over `.env`); a
 * service with `build:` contributes its Dockerfile (its `image:` names what it builds, not
 * what it pulls).
 */
export function composeImages(content: string, file: string, lookup: Lookup): ComposeImages {
  const lines = new LineCounter();
  const doc = parseDocument(content, { lineCounter: lines, merge: true });
  const images: NamedImage[] = [];
  const warnings: string[] = [];
  const builds: ComposeBuild[] = [];
  if (doc.errors.length > 0) {
    warnings.push(`${file}: not valid YAML (${doc.errors[0]?.message.split("\n")[0]}); no images read from it`);
    return { images, warnings, builds };
  }
  const { resolve, lineOf, text, unsetOf } = scalarReader(doc, lines, lookup, file, warnings);
  const servicesNode = resolve(doc.get("services", true));
  const services = isMap(servicesNode) ? entries(servicesNode, doc) : new Map<string, unknown>();
  const field = serviceFields(services, doc, resolve);
  for (const service of services.keys()) {
    const platformNode = field(service, "platform");
    const platform = platformNode ? text(platformNode) : undefined;
    const build = resolve(field(service, "build"));
    if (build !== undefined && build !== null && !(isScalar(build) && build.value === null)) {
      builds.push(readBuild(service, build, text, lineOf, doc, platform));
      continue;
    }
    const imageNode = field(service, "image");
    const image = imageNode ? text(imageNode) : undefined;
    const unset = unsetOf(imageNode);
    if (image) images.push({ text: image, line: lineOf(imageNode), ...(platform && { platform }), ...(unset && { unset }) });
  }
  return { images, warnings: [...new Set(warnings)], builds };
}

/** A service's `build:` (a context path, or `context`, `dockerfile`, `args` as a map or a list). */
function readBuild(
  service: string,
  build: unknown,
  text: Text,
  lineOf: (node: unknown) => number,
  doc: Document,
  platform?: string,
): ComposeBuild {
  let context = ".";
  let dockerfile = "Dockerfile";
  const args = new Map<string, string>();
  if (isScalar(build)) context = text(build) ?? ".";
  else if (isMap(build)) {
    const fields = entries(build, doc);
    context = text(fields.get("context")) ?? ".";
    dockerfile = text(fields.get("dockerfile")) ?? "Dockerfile";
    const argsNode = fields.get("args");
    if (isMap(argsNode)) {
      for (const [name, node] of entries(argsNode, doc)) {
        const value = text(node);
        if (value !== undefined) args.set(name, value);
      }
    } else if (isSeq(argsNode)) {
      for (const item of argsNode.items) {
        const entry = text(item);
        const eq = entry?.indexOf("=") ?? -1;
        if (entry && eq > 0) args.set(entry.slice(0, eq), entry.slice(eq + 1));
      }
    }
  }
  const path = dockerfile.startsWith("/") ? dockerfile : `${context.replace(/\/+$/, "")}/${dockerfile}`;
  return { service, line: lineOf(build), dockerfile: path, args, ...(platform && { platform }) };
}

/**
 * The environment compose interpolation may read: the step's, without its secrets (names with
 * TOKEN in them, INPUT_*, ACTIONS_*), so that `image: r/x:${GH_TOKEN}` sends no token to a registry.
 * Wider than a child process's (lifecycle.ts childEnv): an image name needs no credential at all.
 */
export function composeEnvironment(env: NodeJS.ProcessEnv): Lookup {
  return (name) => (/token/i.test(name) || /^(INPUT|ACTIONS)_/i.test(name) ? undefined : env[name]);
}
