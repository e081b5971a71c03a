// The runner's file commands (GITHUB_OUTPUT, GITHUB_STATE), written as the runner reads them:
// `name<<DELIMITER`, the value, `DELIMITER`. @actions/core writes the same with a random
// delimiter from node:crypto, and loading node:crypto cost 4–6 ms of every step (node 24) that
// nothing else on a step's usual path needs. Here the delimiter is one that neither name nor
// value contains, which is what keeps a value from ending its entry early. And the step's
// summary (GITHUB_STEP_SUMMARY), appended as core's summary writer does.
import { appendFileSync, closeSync, constants, openSync, writeFileSync } from "node:fs";
import { EOL } from "node:os";

export function fileCommandEntry(name: string, value: string): string {
  let delimiter = "prepull_EOF";
  for (let n = 1; name.includes(delimiter) || value.includes(delimiter); n++) delimiter = `prepull_EOF_${n}`;
  return `${name}<<${delimiter}${EOL}${value}${EOL}${delimiter}${EOL}`;
}

/** Appends to the runner's file for `kind`; false where the runner gave none (core's stdout command serves then). */
export function writeFileCommand(kind: "OUTPUT" | "STATE", name: string, value: string): boolean {
  const file = process.env[`GITHUB_${kind}`];
  if (!file) return false;
  appendFileSync(file, fileCommandEntry(name, value), "utf8");
  return true;
}

/**
 * Appends markdown to the step's summary, as core.summary's write() does, without loading its
 * module and fs/promises at the end of every step (2–3 ms of a hit). The runner made the file:
 * it is not created here (core refuses a missing one too).
 */
export function writeStepSummary(markdown: string): void {
  const file = process.env.GITHUB_STEP_SUMMARY;
  if (!file) return;
  let fd: number;
  try {
    fd = openSync(file, constants.O_WRONLY | constants.O_APPEND);
  } catch (error) {
    throw new Error(`the step summary (GITHUB_STEP_SUMMARY) cannot be appended to: ${(error as Error).message}`);
  }
  try {
    writeFileSync(fd, markdown, "utf8"); // the whole text, however many writes it takes
  } finally {
    closeSync(fd);
  }
}
