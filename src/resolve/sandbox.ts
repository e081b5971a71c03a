// The set-vars script's run: a fresh bash, sourced from a caller beside the script, an empty
// environment, no stdin, a time limit, bounded output on every stream, inside the sandbox
// that resolve/isolation.ts chose; only the named variables come back.
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { onExit, removeOnExit } from "../lifecycle.js";
import { type Isolation, reaperArgv, sandboxArgv } from "./isolation.js";

export type { Isolation } from "./isolation.js";
export { scriptIsolation } from "./isolation.js";

export const SET_VARS_TIMEOUT_SECONDS = 30;
/** What is kept of the script's output, and of the values it hands back: more is read and dropped. */
const OUTPUT_LIMIT = 64 * 1024;
const VALUES_LIMIT = 64 * 1024;

export class SetVarsError extends Error {
  override name = "SetVarsError";
}

export interface Evaluation {
  /** exit status of the shell: non-zero when the script itself ran `exit N` */
  readonly exitCode: number;
  readonly timedOut: boolean;
  /** what the script printed, stdout and stderr interleaved, capped at 64 KiB */
  readonly output: string;
  /** the named variables the script left set (unset or empty ones are absent) */
  readonly values: Readonly<Record<string, string>>;
  /** the values stream went past its 64 KiB bound: no value is trusted */
  readonly valuesOverflow?: boolean;
}

/**
 * The caller the script is sourced from, written beside it as `.prepull-caller.sh`: `$0` is the
 * caller, not the script (a script that refuses a direct run, `[[ "${BASH_SOURCE[0]}" == "$0" ]]`,
 * is sourced as a build sources it) and `dirname "$0"` is still the script's directory. The
 * caller's stdout becomes fd 3, the values' channel (only fds 0-2 pass through sudo), and the
 * script's stdout joins its stderr: what it printed is one ordered stream. The variable names
 * come as arguments, never as code; values go out on fd 3, NUL-separated, closed while the
 * script runs, so nothing the script prints can forge them.
 */
const CALLER = (scriptFile: string) =>
  [
    "exec 3>&1 1>&2",
    // set-vars-env's pairs come on stdin, NUL-separated (never on a command line, where ps and
    // sudo's log would show them); stdin is then /dev/null.
    "while IFS= read -r -d '' __prepull_p; do [[ ${__prepull_p%%=*} =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] && export \"$__prepull_p\"; done",
    "exec 0</dev/null",
    "unset __prepull_p",
    '__prepull_vars=("$@")',
    "set --",
    `source "$(dirname "$0")/${scriptFile}" 3>&-`,
    'for __prepull_v in "${__prepull_vars[@]}"; do printf "%s=%s\\0" "$__prepull_v" "${!__prepull_v-}" >&3; done',
    "",
  ].join("\n");

const NO_ISOLATION: Isolation = { kind: "none", description: "none" };

export async function evaluateScript(
  script: Buffer,
  options: {
    env: Readonly<Record<string, string>>;
    variables: readonly string[];
    scriptName?: string;
    timeoutSeconds?: number;
    isolation?: Isolation;
  },
): Promise<Evaluation> {
  const root = await mkdtemp(join(tmpdir(), "prepull-set-vars-"));
  const isolation = options.isolation ?? NO_ISOLATION;
  const timeoutSeconds = options.timeoutSeconds ?? SET_VARS_TIMEOUT_SECONDS;
  const path = process.env.PATH ?? "/usr/bin:/bin";
  const removeRoot = removeOnExit(root);
  try {
    const dirs = await prepare(root, script, options.scriptName);
    const pairs = Object.entries(options.env).filter(([name]) => name !== "PATH" && name !== "HOME");
    // The caller reads them from stdin (CALLER).
    const input = pairs.map(([k, v]) => `${k}=${v}\0`).join("");
    const bash = (caller: string) => ["bash", "--noprofile", "--norc", caller, ...options.variables];
    if (isolation.kind === "none") {
      const argv = isolation.reaper ? reaperArgv(bash(dirs.caller)) : bash(dirs.caller);
      const env = { PATH: path, HOME: dirs.home };
      return await runScript(argv, { cwd: dirs.work, env, input, timeoutSeconds, isolation });
    }
    // Inside: the scripts at /scripts, HOME and the working directory the sandbox's empty /tmp.
    const inner = ["env", "-i", `PATH=${path}`, "HOME=/tmp", ...bash("/scripts/.prepull-caller.sh")];
    const argv = sandboxArgv(isolation.kind, { newRoot: dirs.newRoot, scripts: dirs.scripts, inner, timeoutSeconds: timeoutSeconds + 5 });
    return await runScript(argv, { cwd: root, env: { PATH: path }, input, timeoutSeconds, isolation });
  } finally {
    removeRoot();
  }
}

/**
 * `scripts/` (the script and its caller, readable by nobody: the sandbox binds it read-only);
 * `root/` (the sandbox's mount point); `home/` and `work/` (without a sandbox).
 */
async function prepare(root: string, script: Buffer, scriptName: string | undefined) {
  const dirs = { scripts: join(root, "scripts"), newRoot: join(root, "root"), home: join(root, "home"), work: join(root, "work") };
  await Promise.all(Object.values(dirs).map((dir) => mkdir(dir, { mode: 0o755 })));
  const scriptFile = (basename(scriptName ?? "set-vars.sh") || "set-vars.sh").replace(/[^A-Za-z0-9._-]/g, "_");
  const caller = join(dirs.scripts, ".prepull-caller.sh");
  await writeFile(join(dirs.scripts, scriptFile), script, { mode: 0o644 });
  await writeFile(caller, CALLER(scriptFile), { mode: 0o644 });
  return { ...dirs, caller };
}

function killQuietly(target: number, signal: NodeJS.Signals): void {
  try {
    process.kill(target, signal);
  } catch {
    // gone already, or not ours to signal (the root side of sudo)
  }
}

/**
 * Stops the run and everything it started. sudo relays SIGTERM (not SIGKILL) to the root-side
 * `timeout`, which KILLs unshare a second later; the namespace's first process dies with
 * unshare and takes its PID namespace with it; the reaper answers SIGTERM by killing
 * every descendant; otherwise the process group is killed at once. After a relay or the
 * reaper, a SIGKILL of the group follows a moment later, for one that did not end.
 */
function stopper(pid: number | undefined, isolation: Isolation): () => void {
  const kill = killQuietly;
  return () => {
    if (!pid) return;
    const relays = isolation.kind === "sudo" || isolation.reaper === true;
    kill(relays ? pid : -pid, relays ? "SIGTERM" : "SIGKILL");
    if (relays) setTimeout(() => kill(-pid, "SIGKILL"), 2000).unref();
  };
}

/** Drains a stream, keeping at most `limit` bytes; `overflow` tells whether more came. */
function bounded(stream: NodeJS.ReadableStream | null | undefined, limit: number) {
  const kept: Buffer[] = [];
  const state = { size: 0, overflow: false, text: () => Buffer.concat(kept).toString("utf8") };
  stream?.on("data", (chunk: Buffer) => {
    const room = limit - state.size;
    if (chunk.length > room) state.overflow = true;
    if (room > 0) kept.push(chunk.subarray(0, room));
    state.size += Math.min(room > 0 ? room : 0, chunk.length);
  });
  return state;
}

/**
 * Runs the sandbox's command in its own process group with a time limit: fd 1 carries the
 * values, fd 2 what the script printed, each bounded. Nothing the script started outlives it:
 * in a sandbox its PID namespace ends with its first process; without one, the reaper or the
 * process group goes when its shell ends, at the time limit and when this process is stopped.
 * A process that escaped and holds the pipes open does not hold the run: they are closed a
 * moment later.
 */
function runScript(
  argv: readonly string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; input: string; timeoutSeconds: number; isolation: Isolation },
): Promise<Evaluation> {
  return new Promise<Evaluation>((resolve, reject) => {
    const [command = "bash", ...args] = argv;
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env,
      shell: false,
      detached: true,
      stdio: ["pipe", "pipe", "pipe"],
    });
    // Gone already (a script that ended at once) is no error here.
    child.stdin?.on("error", () => {});
    child.stdin?.end(options.input);
    const values = bounded(child.stdout, VALUES_LIMIT);
    const output = bounded(child.stderr, OUTPUT_LIMIT);
    const stop = stopper(child.pid, options.isolation);
    const stopAtExit = onExit(stop);
    let timedOut = false;
    let finished = false;
    const timer = setTimeout(() => {
      timedOut = true;
      stop();
    }, options.timeoutSeconds * 1000);
    const finish = (code: number | null, signal: NodeJS.Signals | null) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      stopAtExit();
      resolve({
        exitCode: code ?? (signal ? 128 : 1),
        timedOut,
        output: capped(output.text(), output.overflow),
        values: values.overflow ? {} : parseValues(values.text()),
        ...(values.overflow && { valuesOverflow: true }),
      });
    };
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(new SetVarsError(`cannot run bash for the set-vars script: ${error.message}`));
    });
    child.on("exit", (code, signal) => {
      // A sandbox's PID namespace has ended with its first process. Without one, the script's
      // process group goes now: the reaper has reaped, unless the script killed it (it runs as
      // the same user), and then what is left of the group is ended here.
      if (options.isolation.kind === "none" && child.pid) killQuietly(-child.pid, "SIGKILL");
      setTimeout(() => {
        for (const stream of [child.stdout, child.stderr]) stream?.destroy();
        finish(code, signal);
      }, 200).unref();
    });
    child.on("close", (code, signal) => finish(code, signal));
  });
}

const capped = (output: string, overflow: boolean) => (overflow ? `${output}\n… (output cut at 64 KiB)` : output.replace(/\n$/, ""));

/** `NAME=value\0…` from fd 3; unset or empty variables are absent. */
function parseValues(values: string): Record<string, string> {
  const parsed: Record<string, string> = {};
  for (const pair of values.split("\0")) {
    const eq = pair.indexOf("=");
    if (eq > 0 && pair.slice(eq + 1) !== "") parsed[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return parsed;
}
