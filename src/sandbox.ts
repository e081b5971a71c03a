// The set-vars script's sandbox: a fresh bash, sourced from a caller beside the script, an
// empty environment, a temporary directory, no stdin, a time limit, its own PID namespace
// where the host allows; only the named variables come back.
import { spawn } from "node:child_process";
import { chown, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";

export const SET_VARS_TIMEOUT_SECONDS = 30;
const OUTPUT_LIMIT = 64 * 1024;

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
}

/**
 * The caller the script is sourced from, written beside it as `.prepull-caller.sh`: `$0` is the
 * caller, not the script (a script that refuses a direct run, `[[ "${BASH_SOURCE[0]}" == "$0" ]]`,
 * is sourced as a build sources it) and `dirname "$0"` is still the script's directory. stderr
 * joins stdout, so what it printed is one ordered stream. The variable names come as
 * arguments, never as code; values go out on fd 3, NUL-separated, so nothing the script
 * prints can forge them.
 */
const CALLER = (scriptFile: string) =>
  [
    "exec 2>&1",
    '__prepull_vars=("$@")',
    "set --",
    `source "$(dirname "$0")/${scriptFile}"`,
    'for __prepull_v in "${__prepull_vars[@]}"; do printf "%s=%s\\0" "$__prepull_v" "${!__prepull_v-}" >&3; done',
    "",
  ].join("\n");

const NOBODY = 65534;

/** How the script is kept from seeing this step's processes, decided once a run. */
export interface Isolation {
  /** the command words in front of `bash` */
  readonly prefix: readonly string[];
  /** the uid the script runs as, where it is changed (root's runs drop to nobody) */
  readonly uid?: number;
  /** what the log says of it */
  readonly description: string;
}

let isolation: Promise<Isolation> | undefined;

/**
 * A PID namespace of its own (its /proc shows only its own processes, so no
 * /proc/PID/environ of the step, where github-token is), all capabilities dropped (it cannot
 * unmount that /proc), and, where prepull runs as root, the user nobody. As a user that is not
 * root, a user namespace makes the PID namespace possible. Where neither works (no unshare,
 * user namespaces disabled, macOS) the script runs without it, and the log says so.
 */
export function scriptIsolation(): Promise<Isolation> {
  isolation ??= (async () => {
    const root = process.getuid?.() === 0;
    const drop = ["setpriv", "--no-new-privs", "--inh-caps=-all", "--bounding-set=-all"];
    const prefix = [
      "unshare",
      ...(root ? [] : ["--user", "--map-root-user"]),
      "--pid",
      "--fork",
      "--mount-proc",
      "--kill-child",
      ...drop,
      ...(root ? [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups"] : []),
    ];
    const tried = await new Promise<{ ok: boolean; why: string }>((resolve) => {
      const child = spawn(prefix[0] ?? "unshare", [...prefix.slice(1), "true"], {
        stdio: ["ignore", "ignore", "pipe"],
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
      });
      let stderr = "";
      child.stderr?.on("data", (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      child.on("error", (error) => resolve({ ok: false, why: error.message }));
      child.on("close", (code) => resolve({ ok: code === 0, why: stderr.trim().split("\n")[0] || `exit code ${code}` }));
    });
    if (!tried.ok) return { prefix: [], description: `none (unshare/setpriv: ${tried.why})` };
    return {
      prefix,
      ...(root && { uid: NOBODY }),
      description: `its own PID namespace, no capabilities${root ? ", as the user nobody" : " (in a user namespace)"}`,
    };
  })();
  return isolation;
}

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
  const isolated = options.isolation ?? { prefix: [], description: "none" };
  try {
    const dirs = await prepare(root, script, options.scriptName, isolated);
    const env = { ...options.env, PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dirs.home };
    const [command = "bash", ...args] = [...isolated.prefix, "bash", "--noprofile", "--norc", dirs.caller, ...options.variables];
    return await runScript(command, args, { cwd: dirs.work, env, timeoutSeconds: options.timeoutSeconds ?? SET_VARS_TIMEOUT_SECONDS });
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

/** `scripts/` (the script and its caller), `home/`, `work/`; owned by the user the script runs as. */
async function prepare(root: string, script: Buffer, scriptName: string | undefined, isolated: Isolation) {
  const dirs = { scripts: join(root, "scripts"), home: join(root, "home"), work: join(root, "work") };
  await Promise.all(Object.values(dirs).map((dir) => mkdir(dir)));
  const scriptFile = (basename(scriptName ?? "set-vars.sh") || "set-vars.sh").replace(/[^A-Za-z0-9._-]/g, "_");
  const scriptPath = join(dirs.scripts, scriptFile);
  const caller = join(dirs.scripts, ".prepull-caller.sh");
  await writeFile(scriptPath, script, { mode: 0o600 });
  await writeFile(caller, CALLER(scriptFile), { mode: 0o600 });
  if (isolated.uid !== undefined) {
    for (const path of [root, ...Object.values(dirs), scriptPath, caller]) await chown(path, isolated.uid, isolated.uid);
  }
  return { ...dirs, caller };
}

/**
 * Runs the caller in its own process group with a time limit; stdout and stderr (one stream,
 * the caller joins them) and fd 3 (the values) are read. Nothing the script started outlives
 * it: when its shell ends, its process group goes too (a PID namespace ends with its first
 * process anyway). A process that left the group and holds the pipes open does not hold the
 * run: they are closed a moment later.
 */
function runScript(
  command: string,
  args: readonly string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; timeoutSeconds: number },
): Promise<Evaluation> {
  return new Promise<Evaluation>((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env,
      shell: false,
      detached: true,
      stdio: ["ignore", "pipe", "pipe", "pipe"],
    });
    let output = "";
    let values = "";
    let timedOut = false;
    let finished = false;
    const append = (chunk: Buffer) => {
      if (output.length < OUTPUT_LIMIT) output += chunk.toString("utf8");
    };
    child.stdout?.on("data", append);
    child.stderr?.on("data", append);
    (child.stdio[3] as NodeJS.ReadableStream | null)?.on("data", (chunk: Buffer) => {
      values += chunk.toString("utf8");
    });
    const killGroup = () => {
      try {
        if (child.pid) process.kill(-child.pid, "SIGKILL");
      } catch {
        // the group is gone already
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
      child.kill("SIGKILL");
    }, options.timeoutSeconds * 1000);
    const finish = (code: number | null, signal: NodeJS.Signals | null) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      resolve({ exitCode: code ?? (signal ? 128 : 1), timedOut, output: capped(output), values: parseValues(values) });
    };
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(new SetVarsError(`cannot run bash for the set-vars script: ${error.message}`));
    });
    child.on("exit", (code, signal) => {
      killGroup();
      setTimeout(() => {
        for (const stream of [child.stdout, child.stderr, child.stdio[3]])
          (stream as NodeJS.ReadableStream & { destroy?: () => void })?.destroy?.();
        finish(code, signal);
      }, 200).unref();
    });
    child.on("close", (code, signal) => finish(code, signal));
  });
}

const capped = (output: string) =>
  output.length > OUTPUT_LIMIT ? `${output.slice(0, OUTPUT_LIMIT)}\n… (output cut at 64 KiB)` : output.replace(/\n$/, "");

/** `NAME=value\0…` from fd 3; unset or empty variables are absent. */
function parseValues(values: string): Record<string, string> {
  const parsed: Record<string, string> = {};
  for (const pair of values.split("\0")) {
    const eq = pair.indexOf("=");
    if (eq > 0 && pair.slice(eq + 1) !== "") parsed[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return parsed;
}
