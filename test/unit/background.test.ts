// Issue 21 §6: a background worker's results are never lost, and the wait step's deadline
// leaves room for every source and the backoff.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { completeResults, readState, type WorkerRequest } from "../../src/background.js";
import { runWorker } from "../../src/main.js";
import { waitSeconds } from "../../src/modes/wait.js";
import { recordLogger } from "../../src/report/log.js";
import { failedResult, makeResult } from "../../src/report/results.js";
import type { ImageSpec } from "../../src/resolve/inputs.js";
import { parseImageLine, readConfig } from "../../src/resolve/inputs.js";

const spec = (text: string) => parseImageLine(text, "images line 1") as ImageSpec;
const request = (images: string[]): WorkerRequest => ({
  images: images.map(spec),
  invalid: [failedResult("Bad:", "images line 9: invalid")],
  problems: [],
  started: "",
  inputs: {},
});

describe("completeResults: every image asked for has a result", () => {
  it("keeps the worker's, adds a failed one with why for each image it gave none, and the invalid lines", () => {
    const pulled = makeResult("docker.io/library/a:1", { status: "pulled" });
    const results = completeResults(request(["a:1", "b:1"]), [pulled], "the worker crashed");
    expect(results.map((r) => [r.image, r.status, r.reason])).toEqual([
      ["Bad:", "failed", "images line 9: invalid"],
      ["docker.io/library/a:1", "pulled", ""],
      ["docker.io/library/b:1", "failed", "the worker crashed"],
    ]);
  });

  it("no results at all (done with results=[]): every image failed, never failed=0", () => {
    const results = completeResults(request(["a:1", "b:1"]), [], "no result");
    expect(results.filter((r) => r.status === "failed")).toHaveLength(3);
  });
});

describe("runWorker: an exception keeps what the worker had", () => {
  it("a worker that cannot start its pulls leaves a failed result with why for each image (and reads no images-file)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "prepull-worker-"));
    const inputs: Record<string, string> = { engine: "nope", "images-file": "gone-since.txt" };
    const lines: string[] = [];
    await runWorker(
      {
        getInput: (name) => inputs[name] ?? "",
        log: recordLogger((line) => lines.push(line)),
        setOutput: () => {},
        writeSummary: async () => {},
        setFailed: () => {},
        setSecret: () => {},
        workspace: dir,
      },
      dir,
      request(["a:1", "b:1"]),
    );
    const state = readState(dir);
    expect(state?.status).toBe("done");
    expect(state?.results?.map((r) => [r.image, r.status])).toEqual([
      ["Bad:", "failed"],
      ["docker.io/library/a:1", "failed"],
      ["docker.io/library/b:1", "failed"],
    ]);
    expect(state?.results?.[1]?.reason).toMatch(/^the background worker failed before this image's result: input 'engine'/);
    expect(state?.problems).toEqual([expect.stringMatching(/^background worker failed: input 'engine'/)]);
  });
});

describe("waitSeconds: rounds × sources × attempts × (pull-timeout + probes), with backoff", () => {
  const config = (inputs: Record<string, string>) => readConfig((name) => inputs[name] ?? "");
  it.each([
    // one source, one attempt: 4 + 30 probes, + 10
    [{ "pull-timeout": "4", attempts: "1" }, ["a:1", "b:1"], 44],
    // two attempts, backoff 8 (at most 12 s once, before the probe's retry and the pull's): 2 × 34 + 24 = 92 a source
    [{ "pull-timeout": "4", attempts: "2", backoff: "8" }, ["a:1"], 102],
    // a mirror doubles it
    [{ "pull-timeout": "4", attempts: "2", backoff: "8", mirrors: "ghcr.io/o" }, ["a:1"], 194],
    // three images two at a time: two rounds
    [{ "pull-timeout": "4", attempts: "1", concurrency: "2" }, ["a:1", "b:1", "c:1"], 78],
    // the backoff is capped at 60 s a wait
    [{ "pull-timeout": "1", attempts: "3", backoff: "60" }, ["a:1"], 3 * 31 + 2 * 120 + 10],
  ])("%j, %j → %d s", (inputs, images, seconds) => {
    expect(waitSeconds(images.map(spec), config(inputs))).toBe(seconds);
  });
});
