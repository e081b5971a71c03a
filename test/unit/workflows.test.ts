import { describe, expect, it } from "vitest";
import { buildFileKind } from "../../src/resolve/buildfiles.js";
import { expandImage, matrixCombinations, workflowImages } from "../../src/resolve/workflows.js";

describe("matrixCombinations: as GitHub expands a job's matrix", () => {
  it("the product of the lists", () => {
    expect(matrixCombinations({ os: ["a", "b"], v: [1, 2] })).toEqual([
      { os: "a", v: 1 },
      { os: "a", v: 2 },
      { os: "b", v: 1 },
      { os: "b", v: 2 },
    ]);
  });

  it("GitHub's documented include example: added where no original value changes, else a combination of its own", () => {
    const combos = matrixCombinations({
      fruit: ["apple", "pear"],
      animal: ["cat", "dog"],
      include: [
        { color: "green" },
        { color: "pink", animal: "cat" },
        { fruit: "apple", shape: "circle" },
        { fruit: "banana" },
        { fruit: "banana", animal: "cat" },
      ],
    });
    expect(combos).toEqual([
      { fruit: "apple", animal: "cat", color: "pink", shape: "circle" },
      { fruit: "apple", animal: "dog", color: "green", shape: "circle" },
      { fruit: "pear", animal: "cat", color: "pink" },
      { fruit: "pear", animal: "dog", color: "green" },
      { fruit: "banana" },
      { fruit: "banana", animal: "cat" },
    ]);
  });

  it("exclude (a partial match) before include; include alone makes one combination an entry", () => {
    expect(matrixCombinations({ os: ["a", "b"], v: [1, 2], exclude: [{ os: "b", v: 2 }] })).toEqual([
      { os: "a", v: 1 },
      { os: "a", v: 2 },
      { os: "b", v: 1 },
    ]);
    expect(matrixCombinations({ os: ["a", "b"], v: [1, 2], exclude: [{ os: "a" }] })).toEqual([
      { os: "b", v: 1 },
      { os: "b", v: 2 },
    ]);
    expect(matrixCombinations({ include: [{ image: "x" }, { image: "y" }] })).toEqual([{ image: "x" }, { image: "y" }]);
  });

  it("no matrix is one empty combination; an expression anywhere makes it not literal", () => {
    expect(matrixCombinations(undefined)).toEqual([{}]);
    expect(matrixCombinations("${{ fromJSON(needs.a.outputs.m) }}")).toBeUndefined();
    expect(matrixCombinations({ v: "${{ fromJSON(x) }}" })).toBeUndefined();
    expect(matrixCombinations({ v: [1], include: [{ v: "${{ github.ref }}" }] })).toBeUndefined();
  });
});

describe("expandImage", () => {
  const combos = [{ v: "3.20" }, { v: "3.21", o: { image: "x" } }, { v: "3.20" }];
  it.each([
    ["alpine:3", ["alpine:3"], []],
    ["alpine:${{ matrix.v }}", ["alpine:3.20", "alpine:3.21"], []],
    ["${{matrix.o.image}}", ["x"], []],
    ["alpine:${{ github.sha }}", [], ["the expression ${{ github.sha }} cannot be known before the job runs"]],
    [
      "alpine:${{ matrix.o }}",
      [],
      [
        'matrix.o has no value in the matrix combination {"v":"3.20"}',
        'matrix.o is not text in the matrix combination {"v":"3.21","o":{"image":"x"}}',
      ],
    ],
    ["alpine:${{ matrix.nope }}", [], expect.arrayContaining([expect.stringMatching(/^matrix.nope has no value/)])],
  ])("%s", (text, images, problems) => {
    expect(expandImage(text, combos)).toEqual({ images, problems });
  });

  it("a matrix value not literal: any matrix use is a problem", () => {
    expect(expandImage("a:${{ matrix.v }}", undefined).problems).toEqual(["the job's matrix is not literal (it holds an expression)"]);
  });
});

describe("workflowImages", () => {
  const workflow = [
    "name: ci", // 1
    "on: push", // 2
    "jobs:", // 3
    "  test:", // 4
    "    runs-on: ubuntu-latest", // 5
    "    strategy:", // 6
    "      matrix:", // 7
    "        alpine: ['3.20', '3.21']", // 8
    "        include:", // 9
    "          - alpine: '3.19'", // 10
    "            extra: busybox:1.36", // 11
    "    container: alpine:${{ matrix.alpine }}", // 12
    "    services:", // 13
    "      db:", // 14
    "        image: postgres:16", // 15
    "      cache:", // 16
    "        image: ${{ matrix.extra }}", // 17
    "    steps:", // 18
    "      - uses: actions/checkout@v4", // 19
    "      - uses: docker://ghcr.io/org/tool:1", // 20
    "      - uses: docker://alpine:${{ github.sha }}", // 21
    "      - run: echo docker://not-an-image", // 22
    "  build:", // 23
    "    runs-on: ubuntu-latest", // 24
    "    container:", // 25
    "      image: node:20", // 26
    "      options: --cpus 1", // 27
    "    steps: []", // 28
    "",
  ].join("\n");

  it("container (string and image:), services, docker:// steps, the matrix expanded; other expressions warned with file and line", () => {
    const found = workflowImages(workflow, ".github/workflows/ci.yml");
    expect(found.images).toEqual([
      { text: "alpine:3.20", line: 12 },
      { text: "alpine:3.21", line: 12 },
      { text: "alpine:3.19", line: 12 },
      { text: "postgres:16", line: 15 },
      { text: "busybox:1.36", line: 17 },
      { text: "ghcr.io/org/tool:1", line: 20 },
      { text: "node:20", line: 26 },
    ]);
    expect(found.warnings).toEqual([
      ".github/workflows/ci.yml line 21: job test, step: the expression ${{ github.sha }} cannot be known before the job runs; not pre-pulled",
    ]);
  });

  it("invalid YAML is one warning", () => {
    expect(workflowImages("jobs: [\n", "w.yml").warnings[0]).toMatch(/^w\.yml: not valid YAML/);
  });
});

describe("buildFileKind: workflows by their place", () => {
  it.each([
    [".github/workflows/ci.yml", "workflow"],
    ["/home/runner/work/r/r/.github/workflows/release.yaml", "workflow"],
    [".github/workflows/sub/x.yml", undefined],
    ["workflows/ci.yml", undefined],
  ])("%s → %s", (name, kind) => {
    expect(buildFileKind(name)).toBe(kind);
  });
});
