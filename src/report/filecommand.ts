// The runner's file commands (GITHUB_OUTPUT, GITHUB_STATE), written as the runner reads them:
// `name<<DELIMITER`, the value, `DELIMITER`. @actions/core writes the same with a random
// delimiter from node:crypto, and loading node:crypto cost 4–6 ms of every step (node 24) that
// nothing else on a step's usual path needs. Here the delimiter is one that neither name nor
// value contains, which is what keeps a value from ending its entry early.
import { appendFileSync } from "node:fs";
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
