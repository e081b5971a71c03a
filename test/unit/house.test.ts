// The house's rules (issue 25): the folder tells where a behaviour lives, so the top of src/
// holds only the entries; no module grows past 300 lines nor a function past 60; no import
// cycle. Read with the TypeScript compiler the project already uses.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const SRC = resolve(import.meta.dirname, "../../src");

function modules(dir = SRC): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? modules(path) : path.endsWith(".ts") ? [path] : [];
  });
}

const sources = new Map(
  modules().map((file) => [file, ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true)]),
);
const name = (file: string) => relative(SRC, file);

/** Relative imports (type-only ones too: a cycle of types is still a knot for a reader). */
function importsOf(source: ts.SourceFile): string[] {
  const found: string[] = [];
  for (const statement of source.statements) {
    const specifier =
      (ts.isImportDeclaration(statement) || ts.isExportDeclaration(statement)) && statement.moduleSpecifier
        ? (statement.moduleSpecifier as ts.StringLiteral).text
        : undefined;
    if (specifier?.startsWith(".")) found.push(resolve(dirname(source.fileName), specifier.replace(/\.js$/, ".ts")));
  }
  return found;
}

function functionsOf(source: ts.SourceFile): { what: string; lines: number }[] {
  const found: { what: string; lines: number }[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isFunctionLike(node) && "body" in node && node.body) {
      const start = source.getLineAndCharacterOfPosition(node.getStart()).line;
      const end = source.getLineAndCharacterOfPosition(node.getEnd()).line;
      const named = (node as { name?: ts.Node }).name?.getText() ?? "(anonymous)";
      found.push({ what: `${name(source.fileName)}:${start + 1} ${named}`, lines: end - start + 1 });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** The top of src/: the entries (the action's step, its post step, the CLI, the bundle) and what only they share. */
const TOP = ["index.ts", "cli.ts", "main.ts", "post.ts", "background.ts", "bundle.ts", "host.ts", "lifecycle.ts"];

describe("the house", () => {
  it("keeps only the entries and what they share at the top of src/; the rest live in the folder of their stage", () => {
    const top = [...sources.keys()].filter((file) => dirname(file) === SRC).map(name);
    expect(
      top.filter((module) => !TOP.includes(module)),
      "modules at the top of src/ that are no entry: move them to the folder of their stage",
    ).toEqual([]);
  });

  it("has no module of 300 lines or more", () => {
    const long = [...sources.values()]
      .filter((s) => s.getLineAndCharacterOfPosition(s.getEnd()).line + 1 >= 300)
      .map((s) => name(s.fileName));
    expect(long).toEqual([]);
  });

  it("has no function of 60 lines or more", () => {
    const long = [...sources.values()].flatMap(functionsOf).filter((f) => f.lines >= 60);
    expect(long.map((f) => `${f.what} (${f.lines} lines)`)).toEqual([]);
  });

  it("has no import cycle", () => {
    const graph = new Map([...sources.values()].map((s) => [s.fileName, importsOf(s).filter((f) => sources.has(f))]));
    const cycles: string[] = [];
    const state = new Map<string, "open" | "done">();
    const walk = (file: string, path: string[]) => {
      if (state.get(file) === "done") return;
      if (state.get(file) === "open") {
        cycles.push([...path.slice(path.indexOf(file)), file].map(name).join(" → "));
        return;
      }
      state.set(file, "open");
      for (const next of graph.get(file) ?? []) walk(next, [...path, file]);
      state.set(file, "done");
    };
    for (const file of graph.keys()) walk(file, []);
    expect(cycles).toEqual([]);
  });

  it("sees the modules it judges (a rule that reads nothing cannot fail)", () => {
    expect(sources.size).toBeGreaterThan(20);
    expect([...sources.values()].flatMap(functionsOf).length).toBeGreaterThan(100);
  });
});
