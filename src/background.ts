// background: true — the step resolves its images, starts a detached worker (this same
// bundle) that pulls exactly as the foreground would, and returns at once. The worker keeps
// its log and state under RUNNER_TEMP; a later `mode: wait` step streams the log and reports,
// and the post step reports (or stops) a worker nobody waited for.
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { childEnv } from "./lifecycle.js";
import { failedResult, type Result } from "./report/results.js";
import type { ImageSpec } from "./resolve/inputs.js";
import { formatReference } from "./resolve/reference.js";

/** Environment variable that turns the bundle into a worker for the given directory. */
export const WORKER_ENV = "PREPULL_WORKER_DIR";

export interface WorkerRequest {
  readonly images: readonly ImageSpec[];
  /** failed results known before pulling (invalid lines) */
  readonly invalid: readonly Result[];
  /** problems known before pulling (set-vars), for on-failure */
  readonly problems: readonly string[];
  readonly started: string;
  /** the step's inputs but github-token, which reaches the worker on its stdin, never in a file or its environment */
  readonly inputs: Readonly<Record<string, string>>;
}

export interface WorkerState {
  readonly status: "running" | "done";
  readonly pid: number;
  /** every image's result as it finishes (all of them once done) */
  readonly results?: Result[];
  readonly problems?: string[];
  readonly finished?: string;
}

/**
 * Every image the step asked for, with a result: the one the worker gave, else `failed` with
 * `why` (a worker that crashed, was stopped, or finished without one). Nothing is left out.
 */
export function completeResults(request: WorkerRequest, results: readonly Result[], why: string): Result[] {
  const given = new Map<string, number>();
  for (const r of results) given.set(r.image, (given.get(r.image) ?? 0) + 1);
  const take = (image: string) => {
    const n = given.get(image) ?? 0;
    if (n > 0) given.set(image, n - 1);
    return n > 0;
  };
  const invalid = request.invalid.filter((r) => !take(r.image));
  const missing = request.images.map((spec) => formatReference(spec.upstream)).filter((image) => !take(image));
  return [...invalid, ...results, ...missing.map((image) => failedResult(image, why))];
}

/** All workers of this job live here: RUNNER_TEMP is the job's own, emptied between jobs. */
export function workersRoot(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.RUNNER_TEMP || tmpdir(), "prepull-workers");
}

const file = (dir: string, name: string) => join(dir, name);

export function readState(dir: string): WorkerState | undefined {
  try {
    return JSON.parse(readFileSync(file(dir, "state.json"), "utf8")) as WorkerState;
  } catch {
    return undefined;
  }
}

/** Written aside, then renamed over: a reader sees the old state or the new, never half. */
export function writeState(dir: string, state: WorkerState): void {
  writeFileSync(file(dir, "state.json.tmp"), JSON.stringify(state), { mode: 0o600 });
  renameSync(file(dir, "state.json.tmp"), file(dir, "state.json"));
}

export function readRequest(dir: string): WorkerRequest {
  return JSON.parse(readFileSync(file(dir, "request.json"), "utf8")) as WorkerRequest;
}

/**
 * Starts the worker detached from this process. Its environment is the step's less the inputs
 * and tokens (readable by any process of the user at /proc/PID/environ); the inputs are in
 * its request file and the token comes on its stdin.
 */
export async function startWorker(
  request: WorkerRequest,
  entry: string,
  token: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ dir: string; pid: number }> {
  // Loaded here, not at start: every other step (post, wait, a foreground run) goes without it.
  const { spawn } = await import("node:child_process");
  const root = workersRoot(env);
  mkdirSync(root, { recursive: true });
  const id = `${Date.now().toString(36)}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const dir = join(root, id);
  mkdirSync(dir, { mode: 0o700 });
  writeFileSync(file(dir, "request.json"), JSON.stringify(request), { mode: 0o600 });
  const log = openSync(file(dir, "log"), "a", 0o600);
  const child = spawn(process.execPath, [entry], {
    detached: true, // its own process group: it outlives this step, and can be stopped as a whole
    stdio: ["pipe", log, log],
    env: { ...childEnv(env), [WORKER_ENV]: dir, GITHUB_OUTPUT: "", GITHUB_STEP_SUMMARY: "", GITHUB_STATE: "" },
  });
  closeSync(log);
  child.stdin?.on("error", () => undefined);
  child.stdin?.end(token);
  const pid = child.pid ?? 0;
  writeState(dir, { status: "running", pid });
  child.unref();
  return { dir, pid };
}

/** The worker's side of the stdin handshake: everything the step wrote (the token, or nothing). */
export async function readWorkerSecret(stdin: NodeJS.ReadableStream = process.stdin): Promise<string> {
  let text = "";
  for await (const chunk of stdin) text += chunk.toString();
  return text;
}

/** Running, not merely present: an orphaned worker that ended stays a zombie where nothing reaps it. */
export function isAlive(pid: number): boolean {
  if (pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
  try {
    // Field 3 of /proc/PID/stat is the state; the name before it is in parentheses.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return true; // no /proc (macOS): signal 0 answered
  }
}

/** Stops the worker and everything it started (its engine CLI calls). */
export function stopWorker(pid: number): void {
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, "SIGTERM");
    } catch {
      // already gone
    }
  }
}

/** Workers of this job that no wait step has collected, oldest first. */
export function uncollectedWorkers(env: NodeJS.ProcessEnv = process.env): string[] {
  const root = workersRoot(env);
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .map((name) => join(root, name))
    .filter((dir) => existsSync(file(dir, "request.json")) && !existsSync(file(dir, "collected")))
    .sort((a, b) => statSync(file(a, "request.json")).mtimeMs - statSync(file(b, "request.json")).mtimeMs);
}

export function markCollected(dir: string): void {
  writeFileSync(file(dir, "collected"), new Date().toISOString());
}

export function isCollected(dir: string): boolean {
  return existsSync(file(dir, "collected"));
}

/** Reads what the log gained since `offset`. */
export function readLogFrom(dir: string, offset: number): { text: string; offset: number } {
  let fd: number;
  try {
    fd = openSync(file(dir, "log"), "r");
  } catch {
    return { text: "", offset };
  }
  try {
    const size = statSync(file(dir, "log")).size;
    if (size <= offset) return { text: "", offset };
    const buffer = Buffer.alloc(size - offset);
    readSync(fd, buffer, 0, buffer.length, offset);
    // Hand out whole lines only; a partial last line waits for the next read.
    const text = buffer.toString("utf8");
    const end = text.lastIndexOf("\n") + 1;
    return { text: text.slice(0, end), offset: offset + Buffer.byteLength(text.slice(0, end)) };
  } finally {
    closeSync(fd);
  }
}
