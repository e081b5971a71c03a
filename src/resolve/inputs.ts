// Every input is read and validated here, once. Errors name the input and, for lists, the line.
import * as z from "zod/mini";
import { type MirrorMap, type MirrorRule, parseMirrorRule } from "../pull/sources.js";
import { readWorkspaceFile, unreadable } from "./files.js";
import { type ImageLineError, type ImageSpec, mergeImages, parseFileImageLine, parseImageLine } from "./images.js";
import { InputError, type Line, parseLines, readDotEnvInput, readPairs, VARIABLE_RE } from "./lines.js";
import { parseRepository, type Reference, repositoryOf } from "./reference.js";

export { type ImageLineError, type ImageSpec, mergeImages, parseFileImageLine, parseImageLine } from "./images.js";
export { InputError, type Line, parseLines } from "./lines.js";

export type GetInput = (name: string) => string;

/** Every input of action.yml (a test checks the two agree); the CLI's flags are named after them. */
export const INPUT_NAMES = [
  "images",
  "images-file",
  "images-from",
  "build-args",
  "set-vars-url",
  "set-vars-env",
  "set-vars-image",
  "set-vars-sha256",
  "mirrors",
  "mirror-map",
  "verify",
  "attempts",
  "backoff",
  "pull-timeout",
  "concurrency",
  "platform",
  "engine",
  "github-token",
  "on-failure",
  "keep-mirror-tag",
  "mode",
  "background",
  "fill-mirror",
] as const;

export const MODES = ["pull", "plan", "mirror", "wait"] as const;
export type Mode = (typeof MODES)[number];

export interface SetVarsConfig {
  readonly url: string;
  readonly env: Readonly<Record<string, string>>;
  readonly variables: readonly string[];
  readonly sha256?: string;
}

export interface Config {
  readonly images: readonly ImageSpec[];
  readonly imageErrors: readonly ImageLineError[];
  readonly setVars?: SetVarsConfig;
  /** `images-from` lines: paths or globs of build files, relative to the workspace */
  readonly imagesFrom: readonly Line[];
  /** `build-args`: values for the Dockerfiles' ARGs */
  readonly buildArgs: ReadonlyMap<string, string>;
  readonly workspace: string;
  readonly mirrors: readonly MirrorRule[];
  readonly mirrorMap: MirrorMap;
  readonly verify: "digest" | "none";
  readonly attempts: number;
  readonly backoffSeconds: number;
  readonly pullTimeoutSeconds: number;
  readonly concurrency: number;
  readonly platform?: string;
  readonly engine: "docker" | "podman";
  readonly githubToken?: string;
  readonly onFailure: "warn" | "fail";
  readonly keepMirrorTag: boolean;
  readonly mode: Mode;
  readonly background: boolean;
  /** copy an image that came from upstream because the first mirror lacked it into that mirror, in the post step */
  readonly fillMirror: boolean;
}

/** Defaults as in action.yml; the CLI, which has no action.yml, relies on them. */
export const DEFAULTS: Readonly<Record<string, string>> = {
  "set-vars-image": "CONTAINER_SOURCE",
  verify: "digest",
  attempts: "3",
  backoff: "2",
  "pull-timeout": "900",
  concurrency: "2",
  engine: "docker",
  "on-failure": "warn",
  "keep-mirror-tag": "false",
  mode: "pull",
  background: "false",
  "fill-mirror": "false",
};

const BOOLEAN_TRUE = ["true", "True", "TRUE"];
const BOOLEAN_FALSE = ["false", "False", "FALSE"];
const PLATFORM_RE = /^[a-z0-9_]+\/[a-z0-9_]+(\/[a-z0-9_.]+)?$/;

function scalar<T>(name: string, value: string, schema: z.ZodMiniType<T>, expected: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new InputError(name, `"${value}" is not ${expected}`);
  return parsed.data;
}

const intIn = (min: number, max: number) =>
  z.pipe(z.string().check(z.regex(/^\d+$/)), z.pipe(z.transform(Number), z.int().check(z.gte(min), z.lte(max))));

type Get = (name: string) => string;

/** `files: false`: the files `images-file` and `images-from` name are not read (a step that resolved its images already). */
export interface ReadOptions {
  readonly files?: boolean;
}

export function readConfig(input: GetInput, workspace = process.cwd(), { files = true }: ReadOptions = {}): Config {
  const getRaw: GetInput = files ? input : (name) => (name === "images-file" || name === "images-from" ? "" : input(name));
  const get: Get = (name) => {
    const value = getRaw(name).trim();
    return value === "" ? (DEFAULTS[name] ?? "") : value;
  };
  const bool = (name: string): boolean => {
    const value = get(name);
    if (BOOLEAN_TRUE.includes(value)) return true;
    if (BOOLEAN_FALSE.includes(value)) return false;
    throw new InputError(name, `"${value}" is not a boolean (true or false)`);
  };
  const oneOf = <T extends string>(name: string, values: readonly T[]): T =>
    scalar(name, get(name), z.enum(values as [T, ...T[]]), `one of ${values.join(", ")}`);
  const { images, imageErrors } = readImages(get, workspace);
  const setVars = readSetVars(get, getRaw);
  const platform = get("platform");
  if (platform !== "" && !PLATFORM_RE.test(platform)) {
    throw new InputError("platform", `"${platform}" is not os/arch[/variant], e.g. linux/arm64`);
  }
  const githubToken = get("github-token");
  const mode = oneOf("mode", MODES);
  const fillMirror = bool("fill-mirror");
  if (fillMirror && mode !== "pull") {
    throw new InputError("fill-mirror", `applies to mode: pull (the step that pulls, background or not), not to mode: ${mode}`);
  }
  return {
    images: mergeImages(images),
    imageErrors,
    ...(setVars && { setVars }),
    imagesFrom: parseLines(get("images-from"), { inlineComments: true }),
    buildArgs: new Map(Object.entries(readPairs(get, "build-args", "NAME=value with an ARG name"))),
    workspace,
    mirrors: readMirrors(get),
    mirrorMap: readMirrorMap(get),
    verify: oneOf("verify", ["digest", "none"] as const),
    attempts: scalar("attempts", get("attempts"), intIn(1, 100), "a whole number from 1 to 100"),
    backoffSeconds: scalar("backoff", get("backoff"), SECONDS, "a number of seconds from 0 to 60"),
    pullTimeoutSeconds: scalar("pull-timeout", get("pull-timeout"), intIn(1, 86400), "a whole number of seconds from 1 to 86400"),
    concurrency: scalar("concurrency", get("concurrency"), intIn(1, 32), "a whole number from 1 to 32"),
    ...(platform !== "" && { platform }),
    engine: oneOf("engine", ["docker", "podman"] as const),
    ...(githubToken !== "" && { githubToken }),
    onFailure: oneOf("on-failure", ["warn", "fail"] as const),
    keepMirrorTag: bool("keep-mirror-tag"),
    mode,
    background: bool("background"),
    fillMirror,
  };
}

const SECONDS = z.pipe(z.string().check(z.regex(/^\d+(\.\d+)?$/)), z.pipe(z.transform(Number), z.number().check(z.gte(0), z.lte(60))));

function readMirrors(get: Get): MirrorRule[] {
  return parseLines(get("mirrors"), { inlineComments: true }).map(({ text, line }) => {
    try {
      return parseMirrorRule(text, line);
    } catch (error) {
      throw new InputError("mirrors", `"${text}": ${(error as Error).message}`, line);
    }
  });
}

function readMirrorMap(get: Get): MirrorMap {
  const mirrorMap = new Map<string, Reference>();
  for (const { text, line } of parseLines(get("mirror-map"), { inlineComments: true })) {
    const parts = text.split("=>");
    if (parts.length !== 2) throw new InputError("mirror-map", `"${text}" is not "UPSTREAM_REPOSITORY => MIRROR_REPOSITORY"`, line);
    try {
      mirrorMap.set(repositoryOf(parseRepository(parts[0] ?? "")), parseRepository(parts[1] ?? ""));
    } catch (error) {
      throw new InputError("mirror-map", `"${text}": ${(error as Error).message}`, line);
    }
  }
  return mirrorMap;
}

/** `images` and `images-file`: every valid line an image, every invalid one an error naming it. */
function readImages(get: Get, workspace: string): { images: ImageSpec[]; imageErrors: ImageLineError[] } {
  const imageErrors: ImageLineError[] = [];
  const images: ImageSpec[] = [];
  const addImages = (text: string, where: string, parse: typeof parseImageLine) => {
    for (const { text: item, line } of parseLines(text, { inlineComments: true })) {
      const parsed = parse(item, `${where} line ${line}`);
      if ("message" in parsed) imageErrors.push(parsed);
      else images.push(parsed);
    }
  };
  // A mirror named by `=>` in the input itself is the workflow author's (fill-mirror may push there);
  // one read from a file is not (modes/fill.ts).
  addImages(get("images"), "images", (text, origin) => {
    const spec = parseImageLine(text, origin);
    return "message" in spec || !spec.explicitMirror ? spec : { ...spec, mirrorFromInput: true };
  });
  const imagesFile = get("images-file");
  if (imagesFile !== "") {
    // A file that cannot be read is that line's failure, as an invalid line is: the rest go ahead.
    let content = "";
    try {
      content = readWorkspaceFile(imagesFile, workspace);
    } catch (error) {
      imageErrors.push({ text: `images-file ${imagesFile}`, origin: "images-file line 1", message: unreadable(error, imagesFile) });
    }
    addImages(content, `images-file ${imagesFile}`, parseFileImageLine);
  }
  return { images, imageErrors };
}

function readSetVars(get: Get, getRaw: GetInput): SetVarsConfig | undefined {
  const setVarsUrl = get("set-vars-url");
  if (setVarsUrl === "") {
    for (const name of ["set-vars-env", "set-vars-sha256"]) {
      if (getRaw(name).trim() !== "") throw new InputError(name, "is set but set-vars-url is empty");
    }
    return undefined;
  }
  let url: URL;
  try {
    url = new URL(setVarsUrl);
  } catch {
    throw new InputError("set-vars-url", `"${setVarsUrl}" is not a URL`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new InputError("set-vars-url", `"${setVarsUrl}" is not an http(s) URL`);
  const env = readDotEnvInput(get("set-vars-env"), "set-vars-env", "KEY=VALUE with a shell variable name");
  const variables = parseLines(get("set-vars-image"), { inlineComments: true }).map(({ text, line }) => {
    if (!VARIABLE_RE.test(text)) throw new InputError("set-vars-image", `"${text}" is not a shell variable name`, line);
    return text;
  });
  const sha256 = get("set-vars-sha256")
    .toLowerCase()
    .replace(/^sha256:/, "");
  if (sha256 !== "" && !/^[a-f0-9]{64}$/.test(sha256)) {
    throw new InputError("set-vars-sha256", `"${get("set-vars-sha256")}" is not a sha256 (64 hexadecimal digits)`);
  }
  return { url: url.toString(), env, variables, ...(sha256 !== "" && { sha256 }) };
}
