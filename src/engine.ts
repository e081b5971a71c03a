// The container engine's CLI (docker or podman), behind argument builders that tests check.
// Commands run as argument vectors with node's spawn (shell: false): no input reaches a
// shell. spawn rather than @actions/exec because a pull must be stoppable at its time
// limit and its output streamed as it comes, which @actions/exec does not offer.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { childEnv } from "./lifecycle.js";

export type EngineName = "docker" | "podman";

/** Argument vectors, one builder per command: pure, so tests pin them down. */
export const engineArgs = {
  /**
   * `insecure`: a loopback registry, which docker reaches over plain HTTP by default and
   * podman only when told (--tls-verify=false); prepull's own probes do the same.
   */
  pull: (engine: EngineName, ref: string, options: { platform?: string; insecure?: boolean } = {}): string[] => [
    "pull",
    ...(options.platform ? ["--platform", options.platform] : []),
    ...(engine === "podman" && options.insecure ? ["--tls-verify=false"] : []),
    ref,
  ],
  tag: (from: string, to: string): string[] => ["tag", from, to],
  untag: (engine: EngineName, ref: string): string[] => (engine === "podman" ? ["untag", ref] : ["image", "rm", ref]),
  inspect: (ref: string): string[] => ["image", "inspect", ref],
  version: (): string[] => ["version", "--format", "{{json .}}"],
  info: (engine: EngineName): string[] => (engine === "podman" ? ["info", "--format", "json"] : ["info", "--format", "{{json .}}"]),
};

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
}

/** Runs `command args…`; never throws for a non-zero exit, throws EngineMissingError when the binary is absent. */
export function runCommand(command: string, args: readonly string[], options: RunOptions = {}): Promise<CommandResult> {
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
    const timer =
      options.timeoutMs !== undefined
        ? setTimeout(() => {
            timedOut = true;
            child.kill("SIGTERM");
            // A CLI that ignores SIGTERM is killed outright a little later.
            setTimeout(() => child.kill("SIGKILL"), 5000).unref();
          }, options.timeoutMs)
        : undefined;
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
      for (const rest of [pending.stdout, pending.stderr]) if (rest !== "" && options.onLine) options.onLine(rest);
      resolve({ exitCode: code ?? (signal ? 128 : 1), stdout: output.stdout, stderr: output.stderr, timedOut });
    });
  });
}

const InspectSchema = z.array(
  z.object({
    RepoDigests: z.array(z.string()).nullish(),
    Size: z.number().optional(),
  }),
);

export interface LocalImage {
  readonly repoDigests: readonly string[];
  readonly size?: number;
}

/** The environment of the engine's CLI, asked before each call (the engine config may change during a run). */
export type EngineEnv = () => NodeJS.ProcessEnv | Promise<NodeJS.ProcessEnv>;

/** The engine CLI the build will use; every call is an argument vector. */
export class Engine {
  constructor(
    readonly name: EngineName,
    private readonly env: EngineEnv = () => process.env,
  ) {}

  /** The same CLI under another environment (e.g. without stored credentials). */
  withEnv(env: EngineEnv): Engine {
    return new Engine(this.name, env);
  }

  async run(args: readonly string[], options: Omit<RunOptions, "env"> = {}): Promise<CommandResult> {
    // The step's inputs and tokens stay out of the CLI's environment.
    return runCommand(this.name, args, { ...options, env: engineEnv(this.name, childEnv(await this.env())) });
  }

  /** Throws EngineMissingError with a message a user can act on. */
  async check(): Promise<void> {
    let result: CommandResult;
    try {
      result = await this.run(engineArgs.version(), { timeoutMs: 30_000 });
    } catch (error) {
      if (error instanceof EngineMissingError) {
        throw new EngineMissingError(
          `'${this.name}' was not found on PATH: this runner has no ${this.name} CLI (macOS and Windows runners have no Docker engine); nothing can be pulled`,
        );
      }
      throw error;
    }
    if (result.exitCode !== 0) {
      throw new EngineMissingError(`'${this.name} version' failed, so the engine cannot be reached: ${oneLine(result.stderr)}`);
    }
  }

  pull(
    ref: string,
    options: { platform?: string; insecure?: boolean; timeoutMs: number; onLine?: (line: string) => void },
  ): Promise<CommandResult> {
    const { platform, insecure } = options;
    return this.run(engineArgs.pull(this.name, ref, { ...(platform && { platform }), ...(insecure && { insecure }) }), {
      timeoutMs: options.timeoutMs,
      ...(options.onLine && { onLine: options.onLine }),
    });
  }

  async tag(from: string, to: string): Promise<void> {
    const result = await this.run(engineArgs.tag(from, to), { timeoutMs: 60_000 });
    if (result.exitCode !== 0) throw new Error(`${this.name} tag ${from} ${to} failed: ${oneLine(result.stderr)}`);
  }

  async untag(ref: string): Promise<void> {
    const result = await this.run(engineArgs.untag(this.name, ref), { timeoutMs: 60_000 });
    if (result.exitCode !== 0) throw new Error(`removing tag ${ref} failed: ${oneLine(result.stderr)}`);
  }

  /** Where the engine keeps images (docker: DockerRootDir; podman: store.graphRoot), if it says. */
  async dataRoot(): Promise<string | undefined> {
    const result = await this.run(engineArgs.info(this.name), { timeoutMs: 30_000 });
    if (result.exitCode !== 0) return undefined;
    try {
      const info = JSON.parse(result.stdout) as { DockerRootDir?: string; store?: { graphRoot?: string } };
      return info.DockerRootDir ?? info.store?.graphRoot;
    } catch {
      return undefined;
    }
  }

  /** The local image under `ref`, or undefined when there is none. */
  async inspect(ref: string): Promise<LocalImage | undefined> {
    const result = await this.run(engineArgs.inspect(ref), { timeoutMs: 60_000 });
    if (result.exitCode !== 0) return undefined;
    const [image] = InspectSchema.parse(JSON.parse(result.stdout));
    if (!image) return undefined;
    return {
      repoDigests: image.RepoDigests ?? [],
      ...(image.Size !== undefined && { size: image.Size }),
    };
  }
}

/**
 * podman fails every pull when DOCKER_CONFIG names a directory without config.json (docker
 * does not mind); such a DOCKER_CONFIG says nothing, so podman does not see it.
 */
export function engineEnv(engine: EngineName, env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  if (engine !== "podman" || !env.DOCKER_CONFIG || existsSync(join(env.DOCKER_CONFIG, "config.json"))) return env;
  const { DOCKER_CONFIG: _unused, ...rest } = env;
  return rest;
}

/** The engine's message on one line, for a log line or a `reason`. */
export function oneLine(text: string): string {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== "")
    .join(" | ")
    .slice(0, 1000);
}
