// A .env file (and a `set-vars-env` line) read as compose reads it: compose-go's dotenv parser
// (dotenv/parser.go), ported. `NAME=value`, `NAME: value`, `export NAME=value`; an unquoted value
// ends at the line and at ` #`; a quoted one may span lines and be followed by a comment; inside
// double quotes `\n`, `\t`, `\"`, `\\`, `\$`, `\0NNN`… are escapes and `$VAR`/`${VAR:-d}` expand
// (from the lookup first, then earlier lines), as they do in an unquoted value; single quotes
// keep `$` and backslashes but `\'`; a name alone on a line takes its value from the lookup.
// Why not an npm dotenv: `dotenv` + `dotenv-expand` follow the Ruby/Node rules (no `\'` in
// single quotes, no `\$`, different comment and nesting rules); compose's are these, and
// compose-go's tests are the table (test/unit/peers-compose-go.test.ts).
import { type Lookup, substitute } from "./interpolate.js";

/** A .env compose would refuse, with the line it stops at. */
export class DotEnvError extends Error {
  override name = "DotEnvError";
  constructor(
    readonly line: number,
    readonly reason: string,
  ) {
    super(`line ${line}: ${reason}`);
  }
}

const SPACE = new Set(["\t", "\v", "\f", "\r", " ", "\u0085", "\u00a0"]);
const ESCAPES: Record<string, string> = { a: "\x07", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t", v: "\v", '"': '"', "\\": "\\" };

/** The variables a .env defines, in order; `lookup` (the environment) wins over earlier lines in expansions. */
export function parseDotEnv(content: string, lookup: Lookup = () => undefined): Map<string, string> {
  return parseDotEnvLines(content, lookup).values;
}

/** parseDotEnv, with the line each variable is defined on (its last definition). */
export function parseDotEnvLines(
  content: string,
  lookup: Lookup = () => undefined,
): { values: Map<string, string>; lines: Map<string, number> } {
  const out = new Map<string, string>();
  const lines = new Map<string, number>();
  const find: Lookup = (name) => lookup(name) ?? out.get(name);
  const state = { line: 1 };
  let rest = content.replace(/^\uFEFF/, "");
  for (;;) {
    rest = statementStart(rest, state);
    if (rest === "") return { values: out, lines };
    const line = state.line;
    const { key, left, inherited } = keyName(rest, state);
    if (key.includes(" ")) throw new DotEnvError(state.line, "key cannot contain a space");
    if (inherited) {
      const value = lookup(key);
      if (value !== undefined) {
        out.set(key, value);
        lines.set(key, line);
      }
      rest = left;
      continue;
    }
    const parsed = value(left, find, state);
    out.set(key, parsed.value);
    lines.set(key, line);
    rest = parsed.left;
  }
}

/** Skips whitespace and `#` comment lines, counting lines. */
function statementStart(text: string, state: { line: number }): string {
  let src = text;
  for (;;) {
    const start = src.search(/[^\s\u0085]/u);
    if (start < 0) return "";
    state.line += (src.slice(0, start).match(/\n/g) ?? []).length;
    src = src.slice(start);
    if (!src.startsWith("#")) return src;
    const end = src.indexOf("\n");
    if (end < 0) return "";
    src = src.slice(end);
  }
}

function keyName(text: string, state: { line: number }): { key: string; left: string; inherited: boolean } {
  let src = text;
  if (/^export\s+/.test(src)) src = trimSpaceStart(src.slice("export".length));
  const end = /[=:\n]/.exec(src);
  const candidate = end ? src.slice(0, end.index) : src;
  const bad = [...candidate].find((char) => !SPACE.has(char) && !/[_.\-[\]\p{L}\p{N}]/u.test(char));
  if (bad !== undefined) throw new DotEnvError(state.line, `unexpected character "${bad}" in variable name "${src.split("\n")[0]}"`);
  const key = end ? candidate : "";
  const inherited = end?.[0] === "\n";
  const offset = end ? end.index + 1 : 0;
  if (inherited && !key.includes(" ")) state.line++;
  return { key: key.trimEnd(), left: trimSpaceStart(src.slice(offset)), inherited };
}

function trimSpaceStart(text: string): string {
  let i = 0;
  while (i < text.length && SPACE.has(text[i] ?? "")) i++;
  return text.slice(i);
}

function value(src: string, lookup: Lookup, state: { line: number }): { value: string; left: string } {
  const quote = src[0];
  if (quote !== '"' && quote !== "'") {
    const end = src.indexOf("\n");
    state.line++;
    const raw = (end < 0 ? src : src.slice(0, end)).split(" #")[0] ?? "";
    return { value: expandIn(raw.trimEnd(), lookup, state), left: end < 0 ? "" : src.slice(end + 1) };
  }
  let chars = "";
  let escaped = false;
  for (let i = 1; i < src.length; i++) {
    const char = src[i] ?? "";
    if (char === "\n") state.line++;
    if (char !== quote) {
      if (!escaped && char === "\\") {
        escaped = true;
        continue;
      }
      if (escaped) chars += "\\";
      escaped = false;
      chars += char;
      continue;
    }
    if (escaped) {
      escaped = false;
      chars += char;
      continue;
    }
    return { value: quote === '"' ? expandIn(unescapeDoubleQuoted(chars), lookup, state) : chars, left: src.slice(i + 1) };
  }
  throw new DotEnvError(state.line, `unterminated quoted value ${src.split("\n")[0]}`);
}

function expandIn(text: string, lookup: Lookup, state: { line: number }): string {
  try {
    return substitute(text, lookup).value;
  } catch (error) {
    throw new DotEnvError(state.line, (error as Error).message);
  }
}

/** Shell escapes in double quotes, as compose-go's expandEscapes (`\$` becomes `$$`, a literal `$` after expansion). */
function unescapeDoubleQuoted(text: string): string {
  return text.replace(/\\(?:[abcfnrtv$"\\]|0\d{0,3})/g, (match) => {
    if (match === "\\$") return "$$";
    if (match.startsWith("\\0")) {
      const octal = match.slice(2);
      return /^[0-7]{3}$/.test(octal) && Number.parseInt(octal, 8) < 256 ? String.fromCharCode(Number.parseInt(octal, 8)) : match;
    }
    return ESCAPES[match.slice(1)] ?? match;
  });
}
