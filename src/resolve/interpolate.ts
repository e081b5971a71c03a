// Compose interpolation, as compose-go's template package does it (the rules compose applies to
// every string of a compose file and to the values of its .env): `$$` is a literal `$`; `$NAME`,
// `${NAME}`; `${NAME:-word}`, `${NAME-word}`, `${NAME:+word}`, `${NAME+word}`, `${NAME:?msg}`,
// `${NAME?msg}`, with words that nest to any depth (`${A:-${B:-${C:-x}}}`). Written here because
// no npm package implements compose's exact grammar (braces nest, `$}` and a lone `$` stay text,
// `${ foo}` is an error); compose-go's own tests are the table (test/unit/peers-compose-go.test.ts).

export type Lookup = (name: string) => string | undefined;

/** What compose refuses: an invalid template, or a required variable (`:?`, `?`) without a value. */
export class TemplateError extends Error {
  override name = "TemplateError";
}

export interface Substituted {
  readonly value: string;
  /** variables read with no value (compose: "not set. Defaulting to a blank string") */
  readonly unset: string[];
}

const NAME = /^[_a-z][_a-z0-9]*/i;

/** `template` with its variables substituted as compose does; throws TemplateError where compose fails. */
export function substitute(template: string, lookup: Lookup): Substituted {
  const unset: string[] = [];
  const value = expand(template, lookup, unset);
  return { value, unset: [...new Set(unset)] };
}

function expand(template: string, lookup: Lookup, unset: string[]): string {
  let out = "";
  let i = 0;
  while (i < template.length) {
    const at = template.indexOf("$", i);
    if (at < 0) return out + template.slice(i);
    out += template.slice(i, at);
    const next = template[at + 1];
    if (next === "$") {
      out += "$";
      i = at + 2;
    } else if (next === "{") {
      const close = closingBrace(template, at + 2);
      if (close < 0) throw new TemplateError(`invalid interpolation format: ${template} (you may need to escape any $ with another $)`);
      out += braced(template.slice(at + 2, close), template, lookup, unset);
      i = close + 1;
    } else {
      const name = NAME.exec(template.slice(at + 1))?.[0];
      if (name) {
        out += read(name, lookup, unset);
        i = at + 1 + name.length;
      } else {
        out += "$"; // `$}`, `$ `, a final `$`: text
        i = at + 1;
      }
    }
  }
  return out;
}

/** The `}` that closes a `${` whose body starts at `from`, braces inside it counted. */
function closingBrace(text: string, from: number): number {
  let depth = 1;
  for (let i = from; i < text.length; i++) {
    if (text[i] === "{") depth++;
    else if (text[i] === "}" && --depth === 0) return i;
  }
  return -1;
}

function read(name: string, lookup: Lookup, unset: string[]): string {
  const value = lookup(name);
  if (value === undefined) unset.push(name);
  return value ?? "";
}

/** The body of `${…}`: a name, then nothing or an operator and its word (expanded only where used). */
function braced(body: string, template: string, lookup: Lookup, unset: string[]): string {
  const name = NAME.exec(body)?.[0];
  const rest = name ? body.slice(name.length) : "";
  const op = /^:?[-+?]/.exec(rest)?.[0];
  if (!name || (rest !== "" && !op)) {
    throw new TemplateError(`invalid interpolation format: ${template} (you may need to escape any $ with another $)`);
  }
  if (!op) return read(name, lookup, unset);
  const word = () => expand(rest.slice(op.length), lookup, unset);
  const value = lookup(name);
  const set = value !== undefined && (!op.startsWith(":") || value !== "");
  switch (op.replace(":", "")) {
    case "-":
      return set ? (value ?? "") : word();
    case "+":
      return set ? word() : "";
    default: {
      if (set) return value ?? "";
      const message = word();
      throw new TemplateError(`required variable ${name} is missing a value${message ? `: ${message}` : ""}`);
    }
  }
}
