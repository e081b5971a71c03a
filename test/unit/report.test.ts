// Issue 21 §4: every text sink neutralised. The log's neutraliser, judged by the runner's own
// reading of a line (test/world/action.ts workflowCommands), and the job summary's escaping.
import { describe, expect, it } from "vitest";
import { fillSummary } from "../../src/modes/fill.js";
import { driftSummary } from "../../src/modes/plan.js";
import { consoleLogger } from "../../src/report/log.js";
import { makeResult } from "../../src/report/results.js";
import { summaryMarkdown, textTable } from "../../src/report/summary.js";
import { jsonForLog, markdownCode, neutralise } from "../../src/report/text.js";
import { workflowCommands } from "../world/action.js";

/** What a line reads as once the zero-width spaces neutralise() adds are taken out again. */
const shown = (lines: string[]) => lines.join("\n").replaceAll("\u200b", "");

describe("neutralise: no line the runner would read as a workflow command", () => {
  const table: [string, string][] = [
    ["plain", "::warning title=x::pwned"],
    ["leading blanks", "  \t::error::pwned"],
    ["U+0085 (NEL), .NET whitespace, not JavaScript's", "\u0085::warning title=x::pwned"],
    ["U+2028 (line separator) leading", "\u2028::warning::pwned"],
    ["U+2029 (paragraph separator) before the colons", "\u2029::add-mask::prepull"],
    ["U+2028 and U+2029 leading", "\u2028\u2029 ::set-output name=failed::0"],
    ["NBSP and the ideographic space", "\u00a0\u3000::error::pwned"],
    ["a lone \\r ends a line", "engine said\r::set-output name=failed::0"],
    ["\\r\\n and \\n", "a\r\n::error::one\n::error::two"],
    ["mixed: \\r then NEL then blanks", "gone\r\u0085 \u2028::error::pwned"],
    ["three colons", ":::warning::pwned"],
    ["a zero-width space before the colons (ICU ignores it in StartsWith)", "\u200b::warning::pwned"],
    ["legacy ##[ anywhere", "fine ##[error]legacy-pwned"],
    ["legacy ##[ after NEL", "\u0085##[set-output name=x;]1"],
  ];
  it.each(table)("%s", (_name, text) => {
    const lines = neutralise(text);
    expect(workflowCommands(lines.join("\n"))).toEqual([]);
    // Shown all the same, line for line as the runner splits it.
    expect(shown(lines)).toBe(
      text
        .split(/\r\n|\r|\n/)
        .join("\n")
        .replaceAll("\u200b", ""),
    );
  });

  it("the runner's reading, which the table relies on, finds each of them raw", () => {
    // (but the zero-width space, which TrimStart keeps: neutralised all the same, at no cost)
    for (const [, text] of table.filter(([, text]) => !text.startsWith("\u200b"))) {
      expect(workflowCommands(text), JSON.stringify(text)).not.toEqual([]);
    }
    // U+2028 is no line end for the runner: text before it keeps the line from being a command.
    expect(workflowCommands("text\u2028::warning::x")).toEqual([]);
  });

  it("the console logger (the CLI) writes every line through it, a results table too", () => {
    const written: string[] = [];
    const log = consoleLogger((line) => written.push(line));
    for (const [, text] of table) {
      log.info(text);
      log.error(text);
      log.untrusted("script output", text);
      log.group(text, [text]);
    }
    const table2 = textTable(table.map(([, text]) => makeResult(text, { status: "failed", reason: text })));
    expect(workflowCommands([...written, ...neutralise(table2)].join("\n"))).toEqual([]);
    expect(table2.split("\n")).toHaveLength(table.length + 1); // one line a row
  });

  it("JSON for a log keeps its value and loses the legacy ##[", () => {
    const json = JSON.stringify([{ reason: "a\r##[error]b\u0085::warning::c" }]);
    expect(workflowCommands(jsonForLog(json))).toEqual([]);
    expect(JSON.parse(jsonForLog(json))).toEqual(JSON.parse(json));
  });
});

/** GitHub's table rule: a row is split at every `|` not written `\|`. */
const cells = (row: string) =>
  row
    .slice(1, -1)
    .split(/(?<!\\)\|/)
    .map((cell) => cell.trim());

/** A cell is empty or exactly one code span (CommonMark): an opening run of n backticks closed only by the last run. */
function codeSpanText(cell: string): string {
  if (cell === "") return "";
  const open = cell.match(/^`+/)?.[0] ?? "";
  expect(open.length, cell).toBeGreaterThan(0);
  const runs = [...cell.slice(open.length).matchAll(/`+/g)];
  const closing = runs.find((run) => run[0].length === open.length);
  expect(closing && (closing.index ?? 0) + open.length + closing[0].length, cell).toBe(cell.length);
  let inner = cell.slice(open.length, -open.length);
  if (inner.startsWith(" ") && inner.endsWith(" ") && inner.trim() !== "") inner = inner.slice(1, -1);
  return inner.replaceAll("\\|", "|");
}

describe("the job summary: untrusted text is text", () => {
  const hostile = [
    "a | b",
    "cr\rthen\nlf\r\nboth",
    '<img src=x onerror="alert(1)"><script>x</script>',
    "[click](https://evil.example/) and ![pic](https://evil.example/p.png)",
    "<https://evil.example/> www.evil.example https://evil.example/x",
    "closes `the span` and ``two`` and a trailing `",
    "`",
    "``` fence ```",
    "back\\|slash before a pipe",
    "**bold** _em_ # heading &amp; &lt;",
  ];

  it.each(hostile)("%j stays one cell, a code span that gives the text back", (text) => {
    const markdown = summaryMarkdown([makeResult(text, { status: "failed", reason: text, ref: text, mirror: text })]);
    const lines = markdown.split("\n");
    const head = lines[2] ?? "";
    const row = lines[4] ?? "";
    expect(lines).toHaveLength(6); // title, blank, head, rule, the one row, end
    expect(cells(row)).toHaveLength(cells(head).length);
    const byName = Object.fromEntries(cells(head).map((name, i) => [name, cells(row)[i] ?? ""]));
    const flat = text.replace(/\r\n|[\r\n]/g, " ");
    for (const column of ["image", "ref", "mirror", "reason"]) expect(codeSpanText(byName[column] ?? "")).toBe(flat);
  });

  // fill-mirror's and plan drift's tables had an escaping of their own that left `www.host/path` a link.
  const registryText = "log in at www.evil.example/login?x";
  it.each([...hostile, registryText])("fill-mirror's and plan drift's summaries: %j is one cell, a code span", (text) => {
    const fill = fillSummary([{ target: { image: text, from: text, to: text, digest: "sha256:0" }, status: "failed", detail: text }]);
    const drift = driftSummary("head", [{ image: text, origin: text, mirror: text, state: "differs", detail: text }]);
    const flat = text.replace(/\r\n|[\r\n]/g, " ");
    for (const [markdown, columns] of [
      [fill, ["image", "mirror", "detail"]],
      [drift, ["mirror", "image", "named in"]],
    ] as const) {
      const lines = markdown.split("\n");
      expect(lines).toHaveLength(6);
      const head = cells(lines[2] ?? "");
      const row = cells(lines[4] ?? "");
      expect(row).toHaveLength(head.length);
      const byName = Object.fromEntries(head.map((name, i) => [name, row[i] ?? ""]));
      for (const column of columns) expect(codeSpanText(byName[column] ?? "")).toBe(flat);
    }
  });

  it("a code span's fence is longer than any run of backticks in the text", () => {
    expect(markdownCode("a ``` b")).toBe("````a ``` b````");
    expect(markdownCode("`x`")).toBe("`` `x` ``");
    expect(markdownCode("")).toBe("");
  });
});
