// The inputs' list format: one item a line (blank lines and `#` comments ignored), `NAME=value`
// pairs and dotenv documents; an error names the input and the line.
import { DotEnvError, parseDotEnvLines } from "./dotenv.js";

export const VARIABLE_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

export class InputError extends Error {
  override name = "InputError";
  constructor(
    readonly input: string,
    message: string,
    line?: number,
  ) {
    super(`input '${input}'${line !== undefined ? ` line ${line}` : ""}: ${message}`);
  }
}

export interface Line {
  readonly text: string;
  /** 1-based line number within the input (or file). */
  readonly line: number;
}

/** Splits a multiline input: one item a line, blank lines and `#` comments ignored. */
export function parseLines(text: string, options: { inlineComments?: boolean } = {}): Line[] {
  const lines: Line[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    let content = raw;
    if (options.inlineComments) content = content.replace(/(^|\s)#.*$/, "");
    content = content.trim();
    if (content === "" || content.startsWith("#")) return;
    lines.push({ text: content, line: index + 1 });
  });
  return lines;
}

/** `NAME=value` lines (set-vars-env, build-args); a value in matching quotes is unquoted. */
export function readPairs(get: (name: string) => string, input: string, expected: string): Record<string, string> {
  const pairs: Record<string, string> = {};
  for (const { text, line } of parseLines(get(input))) {
    const eq = text.indexOf("=");
    const key = eq > 0 ? text.slice(0, eq).trim() : "";
    if (!VARIABLE_RE.test(key)) throw new InputError(input, `"${text}" is not ${expected}`, line);
    pairs[key] = unquote(text.slice(eq + 1).trim());
  }
  return pairs;
}

/**
 * `set-vars-env`: a .env document, read as compose reads its .env (src/resolve/dotenv.ts): quotes,
 * ` # comment`, escapes in double quotes, `$NAME` of earlier lines; nothing of the step's environment.
 */
export function readDotEnvInput(text: string, input: string, expected: string): Record<string, string> {
  let parsed: ReturnType<typeof parseDotEnvLines>;
  try {
    parsed = parseDotEnvLines(text);
  } catch (error) {
    if (error instanceof DotEnvError) throw new InputError(input, error.reason, error.line);
    throw new InputError(input, (error as Error).message);
  }
  for (const [key, line] of parsed.lines) {
    if (VARIABLE_RE.test(key)) continue;
    throw new InputError(input, `"${key || text.split(/\r?\n/)[line - 1]?.trim() || ""}" is not ${expected}`, line);
  }
  return Object.fromEntries(parsed.values);
}

/** A value in matching quotes means what is inside them, as in a dotenv line: `"_2_28"` and `'_2_28'` are `_2_28`. */
function unquote(value: string): string {
  const match = value.match(/^(["'])(.*)\1$/s);
  return match ? (match[2] ?? "") : value;
}
