// set-vars: fetch a build's own script that names its images, and read the names back
// without ever sourcing it into this process or the step's shell. It runs in a fresh bash
// with an empty environment (PATH, a temporary HOME, the set-vars-env pairs), in a
// temporary directory, with no stdin and a time limit; only the named variables come back.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { chown, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { HttpClient } from "@actions/http-client";
import { type Config, type ImageSpec, parseImageLine } from "./inputs.js";
import { classifyHttp } from "./policy.js";
import { formatReference } from "./reference.js";
import type { Logger } from "./report.js";
import { type RetrySettings, retryTransient, TransientError } from "./retry.js";

export const SET_VARS_TIMEOUT_SECONDS = 30;
const OUTPUT_LIMIT = 64 * 1024;

export class SetVarsError extends Error {
  override name = "SetVarsError";
}

export type FetchOutcome = { readonly found: true; readonly body: Buffer } | { readonly found: false; readonly status: number };

export interface FetchOptions extends RetrySettings {
  readonly log: (line: string) => void;
  readonly timeoutMs?: number;
}

/** GET the script: 5xx, 429 and network failures are retried; 404/410 is an answer (no script at that ref). */
export async function fetchScript(url: string, options: FetchOptions): Promise<FetchOutcome> {
  const client = new HttpClient("prepull", [], { socketTimeout: options.timeoutMs ?? 30_000, allowRetries: false });
  const once = async (): Promise<FetchOutcome> => {
    let response: Awaited<ReturnType<HttpClient["get"]>>;
    try {
      response = await client.get(url);
    } catch (error) {
      throw new TransientError(`no answer (${(error as Error).message})`);
    }
    const status = response.message.statusCode ?? 0;
    if (status === 200) {
      const body = response.readBodyBuffer ? await response.readBodyBuffer() : Buffer.from(await response.readBody());
      return { found: true, body };
    }
    const body = await response.readBody().catch(() => "");
    if (status === 404 || status === 410) return { found: false, status };
    const classified = classifyHttp(status, new URL(url).host, response.message.headers, body);
    if (classified.errorClass === "transient") throw new TransientError(`HTTP ${status} (${classified.label})`, classified.retryAfter);
    throw new SetVarsError(`HTTP ${status} (${classified.label})`);
  };
  try {
    return await retryTransient("set-vars fetch", once, options, options.log);
  } catch (error) {
    throw new SetVarsError(`cannot fetch set-vars-url ${url}: ${(error as Error).message}`);
  } finally {
    client.dispose();
  }
}

export function sha256Hex(body: Buffer): string {
  return createHash("sha256").update(body).digest("hex");
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
  const timeoutSeconds = options.timeoutSeconds ?? SET_VARS_TIMEOUT_SECONDS;
  const isolated = options.isolation ?? { prefix: [], description: "none" };
  try {
    const dirs = { scripts: join(root, "scripts"), home: join(root, "home"), work: join(root, "work") };
    await Promise.all(Object.values(dirs).map((dir) => mkdir(dir)));
    const scriptFile = (basename(options.scriptName ?? "set-vars.sh") || "set-vars.sh").replace(/[^A-Za-z0-9._-]/g, "_");
    const scriptPath = join(dirs.scripts, scriptFile);
    const callerPath = join(dirs.scripts, ".prepull-caller.sh");
    await writeFile(scriptPath, script, { mode: 0o600 });
    await writeFile(callerPath, CALLER(scriptFile), { mode: 0o600 });
    if (isolated.uid !== undefined) {
      for (const path of [root, ...Object.values(dirs), scriptPath, callerPath]) await chown(path, isolated.uid, isolated.uid);
    }
    const env = { ...options.env, PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dirs.home };
    const [command = "bash", ...rest] = [...isolated.prefix, "bash", "--noprofile", "--norc", callerPath, ...options.variables];
    return await new Promise<Evaluation>((resolve, reject) => {
      const child = spawn(command, rest, {
        cwd: dirs.work,
        env,
        shell: false,
        detached: true, // its own process group: whatever it started is stopped with it
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
      }, timeoutSeconds * 1000);
      const finish = (code: number | null, signal: NodeJS.Signals | null) => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        const parsed: Record<string, string> = {};
        for (const pair of values.split("\0")) {
          const eq = pair.indexOf("=");
          if (eq > 0 && pair.slice(eq + 1) !== "") parsed[pair.slice(0, eq)] = pair.slice(eq + 1);
        }
        resolve({
          exitCode: code ?? (signal ? 128 : 1),
          timedOut,
          output: output.length > OUTPUT_LIMIT ? `${output.slice(0, OUTPUT_LIMIT)}\n… (output cut at 64 KiB)` : output.replace(/\n$/, ""),
          values: parsed,
        });
      };
      child.on("error", (error) => {
        clearTimeout(timer);
        reject(new SetVarsError(`cannot run bash for the set-vars script: ${error.message}`));
      });
      // Nothing the script started outlives it: when its shell ends, its process group goes
      // too (a PID namespace ends with its first process anyway). A process that left the
      // group and holds the pipes open does not hold the run: they are closed a moment later.
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
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

export interface SetVarsOutcome {
  readonly images: (ImageSpec | { text: string; origin: string; message: string })[];
  /** a failure that `on-failure` decides about */
  readonly problem?: string;
}

export async function resolveSetVars(config: Config, log: Logger): Promise<SetVarsOutcome> {
  const setVars = config.setVars;
  if (!setVars) return { images: [] };
  let body: Buffer;
  try {
    const fetched = await fetchScript(setVars.url, {
      attempts: config.attempts,
      backoffSeconds: config.backoffSeconds,
      log: (l) => log.info(l),
    });
    if (!fetched.found) {
      log.notice(
        `set-vars-url answered HTTP ${fetched.status}: there is no set-vars script at ${setVars.url} (a ref without it); no images from it, skipped`,
      );
      return { images: [] };
    }
    body = fetched.body;
  } catch (error) {
    if (!(error instanceof SetVarsError)) throw error;
    return fail(error.message);
  }
  if (setVars.sha256) {
    const actual = sha256Hex(body);
    if (actual !== setVars.sha256) {
      return fail(`set-vars script refused: its sha256 is ${actual}, set-vars-sha256 pins ${setVars.sha256}; it was not run`);
    }
  }
  const scriptName = new URL(setVars.url).pathname.split("/").pop() || "set-vars.sh";
  const isolation = await scriptIsolation();
  if (isolation.prefix.length > 0) log.info(`set-vars: the script runs in ${isolation.description}: it cannot see this step's processes`);
  else {
    log.warning(
      `set-vars: no isolation from this step's processes is available here (${isolation.description.replace(/^none \((.*)\)$/, "$1")}): the script could read this step's environment, github-token included, at /proc/<pid>/environ; pin it with set-vars-sha256`,
    );
  }
  const evaluation = await evaluateScript(body, { env: setVars.env, variables: setVars.variables, scriptName, isolation });
  if (evaluation.output !== "") log.untrusted(`set-vars script ${scriptName} printed:`, evaluation.output);
  if (evaluation.timedOut)
    return fail(
      `set-vars script did not finish within ${SET_VARS_TIMEOUT_SECONDS} s and was stopped (does it wait for input or the network?)`,
    );
  const last = evaluation.output.trim().split("\n").pop() ?? "";
  if (evaluation.exitCode === 1) {
    // The script's own word that this combination of set-vars-env names no image (DESIGN.md).
    log.notice(`set-vars script exited with status 1${last ? ` (${last})` : ""}: no image for this set-vars-env; skipped`);
    return { images: [] };
  }
  if (evaluation.exitCode !== 0) {
    return fail(`set-vars script exited with status ${evaluation.exitCode}${last ? `: ${last}` : ""}; no image from it`);
  }
  const images: SetVarsOutcome["images"] = [];
  const unset: string[] = [];
  for (const variable of setVars.variables) {
    const value = evaluation.values[variable];
    if (value === undefined) unset.push(variable);
    else images.push(parseImageLine(value, `set-vars ${variable}`));
  }
  for (const spec of images) if (!("message" in spec)) log.info(`set-vars: ${spec.origin} = ${formatReference(spec.upstream)}`);
  return unset.length > 0 ? { images, problem: `set-vars script left ${unset.join(", ")} unset or empty` } : { images };

  function fail(problem: string): SetVarsOutcome {
    return { images: [], problem };
  }
}
