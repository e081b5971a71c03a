// A command run as an argument vector with node's spawn (shell: false): no input reaches a
// shell. spawn rather than @actions/exec because a pull must be stoppable at its time limit
// and its output streamed as it comes, which @actions/exec does not offer.
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";
import { childEnv } from "../lifecycle.js";

export interface CommandResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
  /** stopped at its time limit */
  readonly timedOut: boolean;
}

export class EngineMissingError extends Error {
  override name = "EngineMissingError";
}

export interface RunOptions {
  readonly timeoutMs?: number;
  /** each line of stdout as it arrives */
  readonly onLine?: (line: string) => void;
  readonly env?: NodeJS.ProcessEnv;
  /** written to stdin, which is then closed (a credential helper's question) */
  readonly input?: string;
  /** aborted: the command is stopped as at its time limit, but not counted as timed out */
  readonly signal?: AbortSignal;
}

/** Runs `command args…`; never throws for a non-zero exit, throws EngineMissingError when the binary is absent. */
export async function runCommand(command: string, args: readonly string[], options: RunOptions = {}): Promise<CommandResult> {
  // Loaded with the first command: 2 ms of every start otherwise, and a hit over the engine's API runs none.
  const { spawn } = await import("node:child_process");
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      shell: false,
      stdio: [options.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
      env: options.env ?? childEnv(),
    });
    if (options.input !== undefined) child.stdin?.on("error", () => undefined);
    if (options.input !== undefined) child.stdin?.end(options.input);
    const output = { stdout: "", stderr: "" };
    const pending = { stdout: "", stderr: "" };
    let timedOut = false;
    const stop = () => {
      child.kill("SIGTERM");
      // A CLI that ignores SIGTERM is killed outright a little later.
      setTimeout(() => child.kill("SIGKILL"), 5000).unref();
    };
    const timer =
      options.timeoutMs !== undefined
        ? setTimeout(() => {
            timedOut = true;
            stop();
          }, options.timeoutMs)
        : undefined;
    if (options.signal?.aborted) stop();
    else options.signal?.addEventListener("abort", stop, { once: true });
    // docker prints its progress on stdout, podman on stderr: both are read as lines.
    for (const stream of ["stdout", "stderr"] as const) {
      child[stream]?.setEncoding("utf8").on("data", (chunk: string) => {
        output[stream] += chunk;
        if (!options.onLine) return;
        const lines = (pending[stream] + chunk).split(/\r?\n|\r/);
        pending[stream] = lines.pop() ?? "";
        for (const line of lines) options.onLine(line);
      });
    }
    child.on("error", (error: NodeJS.ErrnoException) => {
      if (timer) clearTimeout(timer);
      if (error.code === "ENOENT") reject(new EngineMissingError(`'${command}' was not found on PATH`));
      else reject(error);
    });
    child.on("close", (code, signal) => {
      if (timer) clearTimeout(timer);
      options.signal?.removeEventListener("abort", stop);
      for (const rest of [pending.stdout, pending.stderr]) if (rest !== "" && options.onLine) options.onLine(rest);
      resolve({ exitCode: code ?? (signal ? 128 : 1), stdout: output.stdout, stderr: output.stderr, timedOut });
    });
  });
}

/** Whether `command` is an executable file on PATH, asked without starting a process. */
export function onPath(command: string, path: string | undefined): boolean {
  for (const dir of (path ?? "").split(delimiter)) {
    if (!dir) continue;
    try {
      accessSync(join(dir, command), constants.X_OK);
      return true;
    } catch {
      // not here
    }
  }
  return false;
}

/** The engine's message (its stderr) on one line, its lines joined by " | " and cut at 1000 characters, for a log line or a `reason` (report/text.ts's oneLine only turns line ends to spaces). */
export function engineMessage(text: string): string {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== "")
    .join(" | ")
    .slice(0, 1000);
}
