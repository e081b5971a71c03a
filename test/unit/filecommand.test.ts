import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { fileCommandEntry, writeFileCommand, writeStepSummary } from "../../src/report/filecommand.js";
import { parseOutputFile } from "../world/action.js";

describe("file commands (GITHUB_OUTPUT, GITHUB_STATE) and the step summary", () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it("reads back as written, multi-line values included", () => {
    const values = { images: "a:1\nb:2", results: '[{"image":"a:1"}]', empty: "" };
    const text = Object.entries(values)
      .map(([name, value]) => fileCommandEntry(name, value))
      .join("");
    expect(parseOutputFile(text)).toEqual(values);
  });

  it("picks a delimiter the value does not contain, so a value cannot end its entry and add another", () => {
    const hostile = "x\nprepull_EOF\nfailed<<prepull_EOF_1\n0\nprepull_EOF_1\ny";
    const entry = fileCommandEntry("results", hostile);
    expect(entry.split("\n")[0]).toBe("results<<prepull_EOF_2");
    expect(parseOutputFile(`${entry}${fileCommandEntry("failed", "1")}`)).toEqual({ results: hostile, failed: "1" });
  });

  it("appends to the runner's file; says false when the runner gave none", () => {
    const file = join(mkdtempSync(join(tmpdir(), "prepull-filecommand-")), "output");
    vi.stubEnv("GITHUB_OUTPUT", file);
    expect(writeFileCommand("OUTPUT", "failed", "0")).toBe(true);
    expect(writeFileCommand("OUTPUT", "images", "a:1")).toBe(true);
    expect(parseOutputFile(readFileSync(file, "utf8"))).toEqual({ failed: "0", images: "a:1" });
    vi.stubEnv("GITHUB_STATE", "");
    expect(writeFileCommand("STATE", "isPost", "true")).toBe(false);
  });

  it("the step's summary: appended to the file the runner made, never a file made here, nothing without one", () => {
    const dir = mkdtempSync(join(tmpdir(), "prepull-summary-"));
    const file = join(dir, "step_summary");
    writeFileSync(file, "before\n");
    vi.stubEnv("GITHUB_STEP_SUMMARY", file);
    writeStepSummary("## prepull\n");
    writeStepSummary("| a | b |\n");
    expect(readFileSync(file, "utf8")).toBe("before\n## prepull\n| a | b |\n");
    vi.stubEnv("GITHUB_STEP_SUMMARY", join(dir, "missing"));
    expect(() => writeStepSummary("x")).toThrow(/GITHUB_STEP_SUMMARY.*ENOENT/);
    expect(existsSync(join(dir, "missing"))).toBe(false);
    vi.stubEnv("GITHUB_STEP_SUMMARY", "");
    expect(() => writeStepSummary("x")).not.toThrow();
  });
});
