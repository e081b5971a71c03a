// A Dockerfile word as BuildKit's shell lexer reads it (moby/buildkit frontend/dockerfile/shell,
// ProcessWord): quotes removed as a shell removes them ('…' literal; "…" with `$` expanded and
// `\"`, `\$`, `\\` escaped), the escape character (`\`, or the backtick of `# escape=`) outside
// quotes keeps the next character, and `$NAME`, `${NAME}`, `${NAME:-word}`, `${NAME-word}`,
// `${NAME:+word}`, `${NAME+word}`, `${NAME:?msg}`, `${NAME?msg}` expanded, words nesting. A
// variable with no value is empty, as docker reads it; the names are returned for a warning.
import type { Lookup } from "./interpolate.js";

/** What BuildKit refuses (an unterminated quote, a bad substitution, `:?` without a value). */
export class WordError extends Error {
  override name = "WordError";
}

export interface Word {
  readonly value: string;
  /** variables read that had no value (docker reads them as empty) */
  readonly unset: string[];
}

/** One word (an ARG value, a FROM image, a flag's value) as BuildKit reads it. */
export function processWord(word: string, lookup: Lookup, escapeChar = "\\"): Word {
  const lexer = new Lexer(word, lookup, escapeChar);
  const value = lexer.until(undefined);
  return { value, unset: [...new Set(lexer.unset)] };
}

/** An instruction's arguments split at unquoted, unescaped whitespace; quotes and escapes kept. */
export function splitWords(text: string, escapeChar = "\\"): string[] {
  const words: string[] = [];
  let current = "";
  let quote: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const char = text[i] ?? "";
    if (quote === undefined && /\s/.test(char)) {
      if (current !== "") words.push(current);
      current = "";
      continue;
    }
    if (char === escapeChar && quote !== "'" && i + 1 < text.length) {
      current += char + text[++i];
      continue;
    }
    if (char === quote) quote = undefined;
    else if (quote === undefined && (char === '"' || char === "'")) quote = char;
    current += char;
  }
  if (current !== "") words.push(current);
  return words;
}

class Lexer {
  i = 0;
  readonly unset: string[] = [];
  constructor(
    private readonly text: string,
    private readonly lookup: Lookup,
    private readonly escapeChar: string,
  ) {}

  /** Reads to the end, or to `stop` (left unread), outside quotes. */
  until(stop: string | undefined): string {
    let out = "";
    while (this.i < this.text.length) {
      const char = this.text[this.i] ?? "";
      if (char === stop) return out;
      if (char === this.escapeChar) {
        this.i++;
        if (this.i < this.text.length) out += this.text[this.i++];
      } else if (char === "'") {
        const end = this.text.indexOf("'", this.i + 1);
        if (end < 0) throw new WordError(`unexpected end of statement while looking for matching single-quote in ${this.text}`);
        out += this.text.slice(this.i + 1, end);
        this.i = end + 1;
      } else if (char === '"') out += this.doubleQuoted();
      else if (char === "$") out += this.dollar();
      else {
        out += char;
        this.i++;
      }
    }
    if (stop !== undefined) throw new WordError(`missing '${stop}' in ${this.text}`);
    return out;
  }

  private doubleQuoted(): string {
    let out = "";
    this.i++;
    while (this.i < this.text.length) {
      const char = this.text[this.i] ?? "";
      if (char === '"') {
        this.i++;
        return out;
      }
      const next = this.text[this.i + 1];
      if (char === this.escapeChar && (next === '"' || next === "$" || next === this.escapeChar)) {
        out += next;
        this.i += 2;
      } else if (char === "$") out += this.dollar();
      else {
        out += char;
        this.i++;
      }
    }
    throw new WordError(`unexpected end of statement while looking for matching double-quote in ${this.text}`);
  }

  private dollar(): string {
    this.i++;
    if (this.text[this.i] !== "{") {
      // positional and special parameters (`$1`, `$$`, `$@`…) are names BuildKit knows and has no value for
      const name = /^(?:[0-9]+|[$@*#?!]|[A-Za-z_][A-Za-z0-9_]*)/.exec(this.text.slice(this.i))?.[0];
      if (!name) return "$";
      this.i += name.length;
      return this.read(name);
    }
    this.i++;
    const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.text.slice(this.i))?.[0];
    if (!name) throw new WordError(`bad substitution in ${this.text}`);
    this.i += name.length;
    const op = /^:?[-+?]/.exec(this.text.slice(this.i))?.[0];
    if (!op) {
      if (this.text[this.i] !== "}") throw new WordError(`prepull does not read this modifier (only :- - :+ + :? ?) in ${this.text}`);
      this.i++;
      return this.read(name);
    }
    this.i += op.length;
    const unsetBefore = this.unset.length;
    const word = this.until("}");
    this.i++;
    const value = this.lookup(name);
    const set = value !== undefined && (!op.startsWith(":") || value !== "");
    const used = op.endsWith("-") ? !set : op.endsWith("+") ? set : !set;
    if (!used) this.unset.length = unsetBefore; // a default not taken says nothing of its variables
    if (op.endsWith("-")) return set ? (value ?? "") : word;
    if (op.endsWith("+")) return set ? word : "";
    if (!set) throw new WordError(`${name}: ${word || "is not set"}`);
    return value ?? "";
  }

  private read(name: string): string {
    const value = this.lookup(name);
    if (value === undefined) this.unset.push(name);
    return value ?? "";
  }
}
