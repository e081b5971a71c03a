// images-from: the images a GitHub workflow file makes the runner pull before any step runs
// (`jobs.*.container`, `jobs.*.services.*.image`) or as a step (`uses: docker://IMAGE`), with
// `${{ matrix.X }}` expanded over the job's literal matrix as GitHub expands it. Bundled with
// the other build-file parsers (dist/buildfiles.cjs), re-exported by src/resolve/buildfiles.ts.
import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument, type YAMLMap } from "yaml";
import type { FileImages, NamedImage } from "./compose.js";

/** One combination of a job's matrix: key → value (strings, numbers, objects as written). */
export type Combination = Readonly<Record<string, unknown>>;

const EXPRESSION = /\$\{\{\s*(.*?)\s*\}\}/g;
const MATRIX_PATH = /^matrix((?:\.[A-Za-z_][\w-]*)+)$/;

/** Whether `value` has an expression anywhere (a matrix built by `fromJSON(…)` is not literal). */
function hasExpression(value: unknown): boolean {
  if (typeof value === "string") return value.includes("${{");
  if (Array.isArray(value)) return value.some(hasExpression);
  if (value && typeof value === "object") return Object.entries(value).some(([k, v]) => hasExpression(k) || hasExpression(v));
  return false;
}

/** `expected` matches `actual` where every key of `expected` has an equal (objects: matching) value. */
function matches(actual: unknown, expected: unknown): boolean {
  if (expected && typeof expected === "object" && !Array.isArray(expected)) {
    if (!actual || typeof actual !== "object") return false;
    return Object.entries(expected).every(([k, v]) => matches((actual as Record<string, unknown>)[k], v));
  }
  return JSON.stringify(actual) === JSON.stringify(expected);
}

/**
 * A literal matrix's combinations as GitHub makes them: the product of its lists, less each
 * `exclude` (a partial match), then each `include` entry added to every original combination
 * whose original values it does not change, or else made a combination of its own.
 * Undefined when the matrix is not literal (an expression anywhere in it).
 */
export function matrixCombinations(matrix: unknown): Combination[] | undefined {
  if (matrix === undefined || matrix === null) return [{}];
  if (typeof matrix !== "object" || Array.isArray(matrix) || hasExpression(matrix)) return undefined;
  const { include = [], exclude = [], ...lists } = matrix as Record<string, unknown>;
  if (!Array.isArray(include) || !Array.isArray(exclude) || !Object.values(lists).every(Array.isArray)) return undefined;
  const keys = Object.keys(lists);
  let product: Record<string, unknown>[] = keys.length > 0 ? [{}] : [];
  for (const key of keys) {
    product = product.flatMap((combo) => (lists[key] as unknown[]).map((value) => ({ ...combo, [key]: value })));
  }
  const originals = product.filter((combo) => !exclude.some((entry) => matches(combo, entry)));
  const combinations = originals.map((combo) => ({ ...combo }));
  for (const entry of include as Record<string, unknown>[]) {
    let added = false;
    originals.forEach((original, i) => {
      const fits = Object.entries(entry).every(([k, v]) => !keys.includes(k) || matches(original[k], v));
      if (!fits) return;
      Object.assign(combinations[i] as Record<string, unknown>, entry);
      added = true;
    });
    if (!added) combinations.push({ ...entry });
  }
  return combinations;
}

/**
 * What one image text expands to: an image per combination (duplicates once), and what could
 * not be expanded. A combination without the value names no image where the text is that value
 * alone (`container: ${{ matrix.container }}` for the combinations that have none, as on GitHub).
 */
export function expandImage(text: string, combinations: Combination[] | undefined): { images: string[]; problems: string[] } {
  const expressions = [...text.matchAll(EXPRESSION)].map((m) => m[1] ?? "");
  if (expressions.length === 0) return { images: [text.trim()], problems: [] };
  const other = expressions.find((e) => !MATRIX_PATH.test(e));
  if (other !== undefined) {
    const shown = other.length > 60 ? `${other.slice(0, 60)}…` : other;
    return { images: [], problems: [`the expression \${{ ${shown} }} cannot be known before the job runs`] };
  }
  if (!combinations) return { images: [], problems: ["the job's matrix is not literal (it holds an expression)"] };
  const alone = /^\$\{\{[^}]*\}\}$/.test(text.trim());
  const images = new Set<string>();
  const problems = new Set<string>();
  for (const combo of combinations) {
    let missing: string | undefined;
    const value = text.replace(EXPRESSION, (_, expression: string) => {
      const found = (expression.match(MATRIX_PATH)?.[1] ?? "")
        .slice(1)
        .split(".")
        .reduce<unknown>((at, key) => (at && typeof at === "object" ? (at as Record<string, unknown>)[key] : undefined), combo);
      if (typeof found === "string" || typeof found === "number" || typeof found === "boolean") return String(found);
      if (found !== undefined && found !== null) missing ??= `${expression} is not text`;
      else if (!alone) missing ??= `${expression} has no value`;
      return "";
    });
    if (missing !== undefined) problems.add(`${missing} in the matrix combination ${JSON.stringify(combo)}`);
    else if (value.trim() !== "") images.add(value.trim());
  }
  return { images: [...images], problems: [...problems] };
}

/** The image-naming nodes of one job: its container, its services' images, its `docker://` steps. */
function jobImageNodes(job: YAMLMap): { node: Node; what: string; prefix?: string }[] {
  const found: { node: Node; what: string; prefix?: string }[] = [];
  const container: unknown = job.get("container", true);
  const image: unknown = isMap(container) ? container.get("image", true) : undefined;
  if (isScalar(container)) found.push({ node: container, what: "container" });
  else if (isScalar(image)) found.push({ node: image, what: "container image" });
  const services = job.get("services", true);
  if (isMap(services)) {
    for (const pair of services.items) {
      const service: unknown = isMap(pair.value) ? pair.value.get("image", true) : undefined;
      if (isScalar(service)) found.push({ node: service, what: `service ${String(isScalar(pair.key) ? pair.key.value : pair.key)}` });
    }
  }
  const steps = job.get("steps", true);
  if (isSeq(steps)) {
    for (const step of steps.items) {
      const uses: unknown = isMap(step) ? step.get("uses", true) : undefined;
      if (isScalar(uses) && typeof uses.value === "string" && uses.value.trim().startsWith("docker://")) {
        found.push({ node: uses, what: "step", prefix: "docker://" });
      }
    }
  }
  return found;
}

/** Every image a workflow file names, each with its line; what cannot be known is a warning naming file and line. */
export function workflowImages(content: string, file: string): FileImages {
  const lines = new LineCounter();
  const document = parseDocument(content, { lineCounter: lines });
  const images: NamedImage[] = [];
  const warnings: string[] = [];
  if (document.errors.length > 0) {
    warnings.push(`${file}: not valid YAML (${document.errors[0]?.message.split("\n")[0]}); no images read from it`);
    return { images, warnings };
  }
  const jobs = document.get("jobs");
  if (!isMap(jobs)) return { images, warnings };
  const lineOf = (node: Node) => (node.range ? lines.linePos(node.range[0]).line : 0);
  for (const pair of jobs.items) {
    if (!isMap(pair.value)) continue;
    const job = pair.value;
    const name = String(isScalar(pair.key) ? pair.key.value : pair.key);
    const matrixNode = job.getIn(["strategy", "matrix"], true) as Node | undefined;
    const combinations = matrixCombinations(matrixNode?.toJSON());
    for (const { node, what, prefix } of jobImageNodes(job)) {
      const raw = String((node as { value?: unknown }).value ?? "").trim();
      const text = prefix ? raw.slice(prefix.length) : raw;
      if (text === "") continue;
      const line = lineOf(node);
      const expanded = expandImage(text, combinations);
      // What cannot be expanded is named (the expression), the line is not echoed whole.
      for (const problem of expanded.problems) warnings.push(`${file} line ${line}: job ${name}, ${what}: ${problem}; not pre-pulled`);
      for (const image of expanded.images) images.push({ text: image, line });
    }
  }
  return { images, warnings };
}
