// Runs the bundled action exactly as the Actions runner does: every input of action.yml as
// INPUT_<NAME> (defaults applied from action.yml), outputs through the GITHUB_OUTPUT file,
// the job summary through GITHUB_STEP_SUMMARY.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
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
  const dir = mkdtempSync(join(tmpdir(), "prepull-run-"));
  const outputFile = join(dir, "output");
  const summaryFile = join(dir, "summary");
  const stateFile = join(dir, "state");
  const envFile = join(dir, "env");
  const pathFile = join(dir, "path");
  // The runner creates all five command files for every step.
  for (const file of [outputFile, summaryFile, stateFile, envFile, pathFile]) writeFileSync(file, "");
  const action = parse(readFileSync(join(REPO, "action.yml"), "utf8")) as ActionYml;
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: process.env.HOME ?? dir,
    GITHUB_OUTPUT: outputFile,
    GITHUB_STEP_SUMMARY: summaryFile,
    GITHUB_STATE: stateFile,
    GITHUB_ENV: envFile,
    GITHUB_PATH: pathFile,
    GITHUB_ACTIONS: "true",
    GITHUB_ACTOR: "octo-runner",
    RUNNER_TEMP: options.runnerTemp ?? dir,
    // A runner always names the workspace, and starts the step there.
    GITHUB_WORKSPACE: dir,
    ...Object.fromEntries(Object.entries(options.state ?? {}).map(([name, value]) => [`STATE_${name}`, value])),
    DOCKER_CONFIG: join(dir, "docker-config"),
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
  const { exitCode, stdout, stderr } = await new Promise<{ exitCode: number; stdout: string; stderr: string }>((resolvePromise, reject) => {
    const child = spawn(process.execPath, [options.entry ?? ACTION_ENTRY], { env, cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
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
