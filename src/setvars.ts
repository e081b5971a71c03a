// set-vars: fetch a build's own script that names its images, and read the names back
// without ever sourcing it into this process or the step's shell. It runs in a fresh bash
// with an empty environment (PATH, a temporary HOME, the set-vars-env pairs), in a
// temporary directory, with no stdin and a time limit; only the named variables come back.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
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

// Runs as `bash -c WRAPPER SCRIPT_PATH VAR…`: $0 is the script's own path, as when the
// script is run by name (it may look for siblings beside it), and the variable names
// reach bash as arguments, never as code. Values go out on fd 3, NUL-separated, so
// nothing the script prints can forge them.
const WRAPPER = [
  '__prepull_vars=("$@")',
  "set --",
  'source "$0"',
  'for __prepull_v in "${__prepull_vars[@]}"; do printf "%s=%s\\0" "$__prepull_v" "${!__prepull_v-}" >&3; done',
].join("\n");

export async function evaluateScript(
  script: Buffer,
  options: { env: Readonly<Record<string, string>>; variables: readonly string[]; scriptName?: string; timeoutSeconds?: number },
): Promise<Evaluation> {
  const root = await mkdtemp(join(tmpdir(), "prepull-set-vars-"));
  const timeoutSeconds = options.timeoutSeconds ?? SET_VARS_TIMEOUT_SECONDS;
  try {
    const dirs = { scripts: join(root, "scripts"), home: join(root, "home"), work: join(root, "work") };
    await Promise.all(Object.values(dirs).map((dir) => mkdir(dir)));
    const scriptPath = join(dirs.scripts, basename(options.scriptName ?? "set-vars.sh") || "set-vars.sh");
    await writeFile(scriptPath, script, { mode: 0o600 });
    const env = { ...options.env, PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dirs.home };
    return await new Promise<Evaluation>((resolve, reject) => {
      const child = spawn("bash", ["--noprofile", "--norc", "-c", WRAPPER, scriptPath, ...options.variables], {
        cwd: dirs.work,
        env,
        shell: false,
        detached: true, // its own process group, so a time-out stops whatever it started too
        stdio: ["ignore", "pipe", "pipe", "pipe"],
      });
      let output = "";
      let values = "";
      let timedOut = false;
      const append = (chunk: Buffer) => {
        if (output.length < OUTPUT_LIMIT) output += chunk.toString("utf8");
      };
      child.stdout?.on("data", append);
      child.stderr?.on("data", append);
      (child.stdio[3] as NodeJS.ReadableStream | null)?.on("data", (chunk: Buffer) => {
        values += chunk.toString("utf8");
      });
      const timer = setTimeout(() => {
        timedOut = true;
        try {
          if (child.pid) process.kill(-child.pid, "SIGKILL");
        } catch {
          child.kill("SIGKILL");
        }
      }, timeoutSeconds * 1000);
      child.on("error", (error) => {
        clearTimeout(timer);
        reject(new SetVarsError(`cannot run bash for the set-vars script: ${error.message}`));
      });
      child.on("close", (code, signal) => {
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
      });
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
  const evaluation = await evaluateScript(body, { env: setVars.env, variables: setVars.variables, scriptName });
  if (evaluation.output !== "") log.untrusted(`set-vars script ${scriptName} printed:`, evaluation.output);
  if (evaluation.timedOut)
    return fail(
      `set-vars script did not finish within ${SET_VARS_TIMEOUT_SECONDS} s and was stopped (does it wait for input or the network?)`,
    );
  if (evaluation.exitCode !== 0) {
    const last = evaluation.output.trim().split("\n").pop() ?? "";
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
