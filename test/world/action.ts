// Runs the bundled action exactly as the Actions runner does: every input of action.yml as
// INPUT_<NAME> (defaults applied from action.yml), outputs through the GITHUB_OUTPUT file,
// the job summary through GITHUB_STEP_SUMMARY.
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parse } from "yaml";

export const REPO = resolve(import.meta.dirname, "../..");

/**
 * The job token every step of a real job carries (`${{ github.token }}` is never empty): a
 * made-up one that no test registry accepts, so it is valid for nothing private, as on a runner.
 */
export const JOB_TOKEN = "ghs_JOBtokenVALIDforNOTHINGprivate000000";

/** A token the test token servers accept for private repositories (a PAT given as github-token), for the user GITHUB_ACTOR. */
export const PACKAGES_TOKEN = "ghp_PACKAGEStokenFORprivateMIRRORS0000000";
export const ACTION_ENTRY = join(REPO, "dist/index.cjs");

interface ActionYml {
  inputs: Record<string, { default?: string }>;
}

export interface ActionRun {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly outputs: Record<string, string>;
  readonly summary: string;
  /** what the step saved for its post step (GITHUB_STATE) */
  readonly state: Record<string, string>;
  /** parsed `results` output */
  readonly results: Array<
    Record<string, unknown> & {
      image: string;
      status: string;
      source: string;
      reason: string;
      digest: string;
      ref: string;
      attempts: number;
    }
  >;
  readonly seconds: number;
}

export interface RunOptions {
  readonly env?: Record<string, string>;
  /** the job's RUNNER_TEMP, shared by the steps of one job (default: a new one) */
  readonly runnerTemp?: string;
  /** state from an earlier step, given as STATE_* (the runner does so for post steps) */
  readonly state?: Record<string, string>;
  readonly entry?: string;
  readonly timeoutMs?: number;
  /** run as this runner-shaped user, in its layout (test/world/runner.ts) */
  readonly runner?: RunnerStep;
  /**
   * `fresh`: node's compile cache starts empty, as for the first step of a job on a hosted
   * runner (a new VM: the bundle has never been compiled there); the benchmarks time that.
   * Otherwise the machine's own cache (os.tmpdir()), warm after the first run.
   */
  readonly compileCache?: "fresh";
  /** called with the action's process once it is started (to signal it) */
  readonly onSpawn?: (child: ChildProcess) => void;
}

/** What the runner gives a step of a non-root user: its uid, HOME, RUNNER_TEMP, workspace and file-command directory. */
export interface RunnerStep {
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
  readonly temp: string;
  readonly fileCommands: string;
  readonly workspace: string;
}

/** The runner's format: `name<<DELIM\nvalue\nDELIM`. */
export function parseOutputFile(text: string): Record<string, string> {
  const outputs: Record<string, string> = {};
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const match = lines[i]?.match(/^([^<=]+)<<(.+)$/);
    if (match?.[1] && match[2]) {
      const value: string[] = [];
      for (i++; i < lines.length && lines[i] !== match[2]; i++) value.push(lines[i] ?? "");
      outputs[match[1]] = value.join("\n");
    } else if (lines[i]?.includes("=")) {
      const [name = "", ...rest] = (lines[i] ?? "").split("=");
      outputs[name] = rest.join("=");
    }
  }
  return outputs;
}

export async function runAction(inputs: Record<string, string>, options: RunOptions = {}): Promise<ActionRun> {
  const runner = options.runner;
  const dir = runner?.fileCommands ?? mkdtempSync(join(tmpdir(), "prepull-run-"));
  // The runner's own names (set_env_<uuid> …) in a runner layout, plain ones otherwise.
  const id = randomUUID();
  const named = (plain: string, kind: string) => join(dir, runner ? `${kind}_${id}` : plain);
  const outputFile = named("output", "set_output");
  const summaryFile = named("summary", "step_summary");
  const stateFile = named("state", "save_state");
  const envFile = named("env", "set_env");
  const pathFile = named("path", "add_path");
  // The runner creates all five command files for every step, owned by the step's user.
  for (const file of [outputFile, summaryFile, stateFile, envFile, pathFile]) {
    writeFileSync(file, "");
    if (runner) chownSync(file, runner.uid, runner.gid);
  }
  const action = parse(readFileSync(join(REPO, "action.yml"), "utf8")) as ActionYml;
  const compileCache = options.compileCache === "fresh" ? mkdtempSync(join(tmpdir(), "prepull-compile-cache-")) : undefined;
  // The runner's user writes its own cache (a directory it cannot write leaves node's cache off).
  if (compileCache && runner) chownSync(compileCache, runner.uid, runner.gid);
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: runner?.home ?? process.env.HOME ?? dir,
    GITHUB_OUTPUT: outputFile,
    GITHUB_STEP_SUMMARY: summaryFile,
    GITHUB_STATE: stateFile,
    GITHUB_ENV: envFile,
    GITHUB_PATH: pathFile,
    GITHUB_ACTIONS: "true",
    GITHUB_ACTOR: "octo-runner",
    RUNNER_TEMP: options.runnerTemp ?? runner?.temp ?? dir,
    // A runner always names the workspace, and starts the step there.
    GITHUB_WORKSPACE: runner?.workspace ?? dir,
    ...Object.fromEntries(Object.entries(options.state ?? {}).map(([name, value]) => [`STATE_${name}`, value])),
    // A runner-shaped user has its own ~/.docker/config.json, as on a runner.
    ...(!runner && { DOCKER_CONFIG: join(dir, "docker-config") }),
    ...(compileCache && { NODE_COMPILE_CACHE: compileCache }),
    ...options.env,
  };
  for (const [name, spec] of Object.entries(action.inputs)) {
    let value = inputs[name] ?? spec.default ?? "";
    // The runner evaluates ${{ github.token }} to the job's token: never empty.
    if (value.includes("${{ github.token }}")) value = JOB_TOKEN;
    else if (value.includes("${{")) throw new Error(`input '${name}': no expression but github.token is known here`);
    env[`INPUT_${name.replace(/ /g, "_").toUpperCase()}`] = value;
  }
  for (const name of Object.keys(inputs)) if (!(name in action.inputs)) throw new Error(`action.yml has no input '${name}'`);
  const started = performance.now();
  const finished = new Promise<{ exitCode: number; stdout: string; stderr: string }>((resolvePromise, reject) => {
    const entry = [process.execPath, options.entry ?? ACTION_ENTRY];
    // As the runner's user with its groups (docker): node's own uid/gid option drops supplementary groups.
    const argv = runner ? ["setpriv", `--reuid=${runner.uid}`, `--regid=${runner.gid}`, "--init-groups", "--", ...entry] : entry;
    const child = spawn(argv[0] ?? "node", argv.slice(1), { env, cwd: runner?.workspace ?? dir, stdio: ["ignore", "pipe", "pipe"] });
    options.onSpawn?.(child);
    let out = "";
    let err = "";
    child.stdout.on("data", (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on("data", (c: Buffer) => {
      err += c.toString();
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 170_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolvePromise({ exitCode: code ?? 1, stdout: out, stderr: err });
    });
  });
  const { exitCode, stdout, stderr } = await finished.finally(() => {
    if (compileCache) rmSync(compileCache, { recursive: true, force: true });
  });
  const outputs = parseOutputFile(readFileSync(outputFile, "utf8"));
  return {
    exitCode,
    stdout,
    stderr,
    outputs,
    summary: readFileSync(summaryFile, "utf8"),
    state: parseOutputFile(readFileSync(stateFile, "utf8")),
    results: outputs.results ? JSON.parse(outputs.results) : [],
    seconds: (performance.now() - started) / 1000,
  };
}

/** .NET's whitespace (Char.IsWhiteSpace), which the runner's `TrimStart()` removes: JavaScript's `\s` less U+FEFF, plus U+0085. */
const NET_LEADING_WHITESPACE = /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/;

/**
 * The workflow commands the runner would read in a step's output, as actions/runner reads them:
 * ProcessInvoker reads lines with StreamReader.ReadLine (a line ends at `\n`, `\r\n` or a bare
 * `\r`, never at U+0085, U+2028 or U+2029); ActionCommand.TryParseV2 takes a line that starts
 * with `::` after `TrimStart()` (.NET whitespace, U+0085 and U+2028/9 included), and the legacy
 * ActionCommand.TryParse a `##[` anywhere in it. Each command is returned trimmed.
 */
export function workflowCommands(output: string): string[] {
  return output
    .split(/\r\n|\r|\n/)
    .map((line) => line.replace(NET_LEADING_WHITESPACE, ""))
    .filter((line) => line.startsWith("::") || line.includes("##["));
}
