// The container engine (docker or podman): its CLI behind argument builders that tests check
// (run as argument vectors, command.ts), and its API over the unix socket where it has one.
import { existsSync } from "node:fs";
import { join } from "node:path";
import * as z from "zod/mini";
import { childEnv } from "../lifecycle.js";
import { parseReference } from "../resolve/reference.js";
import { type ApiAnswer, ApiUnavailable, apiMessage, callEngine, engineSocket } from "./api.js";
import { type CommandResult, EngineMissingError, engineMessage, onPath, type RunOptions, runCommand } from "./command.js";
import { cachedRegistryAuthHeader, type HandedToken, handedTokenHeader, pullOverApi } from "./pullapi.js";

export { type CommandResult, EngineMissingError, engineMessage, type RunOptions, runCommand } from "./command.js";

export type EngineName = "docker" | "podman";

/** A pull's answer; `tokenHanded`: the engine was given prepull's own token for the registry (pullapi.ts). */
export type PullResult = CommandResult & { readonly tokenHanded?: boolean };

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
  /** an image by its ID, where it has no name left (podman's untag leaves it in the store) */
  removeImage: (id: string): string[] => ["image", "rm", id],
  inspect: (ref: string): string[] => ["image", "inspect", ref],
  version: (): string[] => ["version", "--format", "{{json .}}"],
  info: (engine: EngineName): string[] => (engine === "podman" ? ["info", "--format", "json"] : ["info", "--format", "{{json .}}"]),
};

const InspectedImage = z.object({
  Id: z.optional(z.string()),
  RepoTags: z.nullish(z.array(z.string())),
  RepoDigests: z.nullish(z.array(z.string())),
  Size: z.optional(z.number()),
});
const InspectSchema = z.array(InspectedImage);

export interface LocalImage {
  readonly id?: string;
  readonly repoTags?: readonly string[];
  readonly repoDigests: readonly string[];
  readonly size?: number;
}

/** The environment of the engine's CLI, asked before each call (the engine config may change during a run). */
export type EngineEnv = () => NodeJS.ProcessEnv | Promise<NodeJS.ProcessEnv>;

/**
 * The engine the build will use. Info, inspect, tag, untag, and pulls whose credentials need no
 * helper go to its API over the unix socket where there is one (api.ts); everything else
 * runs its CLI (an argument vector, the user's credential helpers).
 */
export class Engine {
  private socket?: Promise<string | undefined>;
  private checked?: Promise<void>;
  private root?: Promise<string | undefined>;
  private readonly requests = new AbortController();

  constructor(
    readonly name: EngineName,
    private readonly env: EngineEnv = () => process.env,
  ) {}

  /** The same engine under another environment (e.g. without stored credentials). */
  withEnv(env: EngineEnv): Engine {
    return new Engine(this.name, env);
  }

  async run(args: readonly string[], options: Omit<RunOptions, "env"> = {}): Promise<CommandResult> {
    // The step's inputs and tokens stay out of the CLI's environment.
    return runCommand(this.name, args, { ...options, env: engineEnv(this.name, childEnv(await this.env())) });
  }

  /** The API socket, for docker only, asked once; the user's environment decides which engine it is. */
  private api(): Promise<string | undefined> {
    this.socket ??= (async () => (this.name === "docker" ? engineSocket(await this.env()) : undefined))();
    return this.socket;
  }

  /** Whether calls go to the API (answered at once) rather than through a CLI process (tens of ms to start). */
  async overApi(): Promise<boolean> {
    return (await this.api()) !== undefined;
  }

  /** Through the API where it answers, else `fallback` (the CLI). */
  private async viaApi<T>(method: string, path: string, use: (answer: ApiAnswer) => T, fallback: () => Promise<T>): Promise<T> {
    const socket = await this.api();
    if (socket === undefined) return fallback();
    try {
      return use(await callEngine(socket, method, path, this.requests.signal));
    } catch (error) {
      if (!(error instanceof ApiUnavailable)) throw error;
      this.socket = Promise.resolve(undefined); // gone or not ours: the CLI from now on
      return fallback();
    }
  }

  /** The CLI is on PATH and the engine answers (`/_ping`, or the CLI's `version`). Throws EngineMissingError with a message a user can act on. */
  check(): Promise<void> {
    this.checked ??= (async () => {
      if (!onPath(this.name, (await this.env()).PATH)) {
        throw new EngineMissingError(
          `'${this.name}' was not found on PATH: this runner has no ${this.name} CLI (macOS and Windows runners have no Docker engine); nothing can be pulled`,
        );
      }
      await this.viaApi(
        "GET",
        "/_ping",
        (answer) => {
          if (answer.status !== 200) throw new EngineMissingError(`the engine cannot be reached: ${apiMessage(answer)}`);
        },
        async () => {
          const result = await this.run(engineArgs.version(), { timeoutMs: 30_000 });
          if (result.exitCode !== 0) {
            throw new EngineMissingError(`'${this.name} version' failed, so the engine cannot be reached: ${engineMessage(result.stderr)}`);
          }
        },
      );
    })();
    return this.checked;
  }

  /** Where the engine keeps images (docker: DockerRootDir; podman: store.graphRoot), if it says; asked once (`info` is slow). */
  dataRoot(): Promise<string | undefined> {
    this.root ??= this.viaApi(
      "GET",
      "/info",
      (answer) => (answer.status === 200 ? (JSON.parse(answer.body) as { DockerRootDir?: string }).DockerRootDir : undefined),
      async () => {
        const result = await this.run(engineArgs.info(this.name), { timeoutMs: 30_000 });
        if (result.exitCode !== 0) return undefined;
        try {
          const info = JSON.parse(result.stdout) as { DockerRootDir?: string; store?: { graphRoot?: string } };
          return info.DockerRootDir ?? info.store?.graphRoot;
        } catch {
          return undefined;
        }
      },
    );
    return this.root;
  }

  /** Ends what is still asked of the engine's API (an `info` nobody waits for must not hold the process). */
  dispose(): void {
    this.requests.abort();
  }

  /**
   * Through the API where the registry's credentials need no CLI (engine/pullapi.ts), else the
   * CLI (a credential helper, tcp/ssh hosts, podman). `token`: prepull's own bearer token for
   * the repository, handed to the engine over the API only, and only for that repository.
   */
  async pull(
    ref: string,
    options: {
      platform?: string;
      insecure?: boolean;
      timeoutMs: number;
      onLine?: (line: string) => void;
      signal?: AbortSignal;
      token?: HandedToken;
    },
  ): Promise<PullResult> {
    const { platform, insecure } = options;
    const socket = await this.api();
    const { registry, path } = parseReference(ref);
    // config.json read once per config directory (and again once prepull rewrote it), not every pull
    const auth = socket === undefined ? undefined : cachedRegistryAuthHeader(await this.env(), registry);
    if (socket !== undefined && auth !== undefined) {
      const handed = handedTokenHeader(registry, path, options.token);
      try {
        const result = await pullOverApi(socket, ref, handed ?? auth, options);
        return handed === undefined ? result : { ...result, tokenHanded: true };
      } catch (error) {
        if (!(error instanceof ApiUnavailable)) throw error;
        this.socket = Promise.resolve(undefined); // gone or not ours: the CLI from now on
      }
    }
    return this.run(engineArgs.pull(this.name, ref, { ...(platform && { platform }), ...(insecure && { insecure }) }), {
      timeoutMs: options.timeoutMs,
      ...(options.onLine && { onLine: options.onLine }),
      ...(options.signal && { signal: options.signal }),
    });
  }

  async tag(from: string, to: string): Promise<void> {
    const colon = to.lastIndexOf(":");
    const [repo, tag] = colon > to.lastIndexOf("/") ? [to.slice(0, colon), to.slice(colon + 1)] : [to, "latest"];
    const query = `repo=${encodeURIComponent(repo)}&tag=${encodeURIComponent(tag)}`;
    const failed = (why: string) => new Error(`${this.name} tag ${from} ${to} failed: ${why}`);
    await this.viaApi(
      "POST",
      `/images/${from}/tag?${query}`,
      (answer) => {
        if (answer.status !== 201 && answer.status !== 200) throw failed(apiMessage(answer));
      },
      async () => {
        const result = await this.run(engineArgs.tag(from, to), { timeoutMs: 60_000 });
        if (result.exitCode !== 0) throw failed(engineMessage(result.stderr));
      },
    );
  }

  async untag(ref: string): Promise<void> {
    const failed = (why: string) => new Error(`removing tag ${ref} failed: ${why}`);
    await this.viaApi(
      "DELETE",
      `/images/${ref}`,
      (answer) => {
        if (answer.status !== 200) throw failed(apiMessage(answer));
      },
      async () => {
        const result = await this.run(engineArgs.untag(this.name, ref), { timeoutMs: 60_000 });
        if (result.exitCode !== 0) throw failed(engineMessage(result.stderr));
      },
    );
  }

  /** Removes an image by its ID (the CLI: podman's untag leaves an image with no name in its store). */
  async removeImage(id: string): Promise<void> {
    const result = await this.run(engineArgs.removeImage(id), { timeoutMs: 60_000 });
    if (result.exitCode !== 0) throw new Error(`removing image ${id} failed: ${engineMessage(result.stderr)}`);
  }

  /** The local image under `ref`, or undefined when there is none. */
  inspect(ref: string): Promise<LocalImage | undefined> {
    return this.viaApi(
      "GET",
      `/images/${ref}/json`,
      (answer) => (answer.status === 200 ? localImage(JSON.parse(answer.body)) : undefined),
      async () => {
        const result = await this.run(engineArgs.inspect(ref), { timeoutMs: 60_000 });
        if (result.exitCode !== 0) return undefined;
        return localImage(InspectSchema.parse(JSON.parse(result.stdout))[0]);
      },
    );
  }
}

function localImage(json: unknown): LocalImage | undefined {
  const parsed = InspectedImage.safeParse(json);
  if (!parsed.success) return undefined;
  const { Id, RepoTags, RepoDigests, Size } = parsed.data;
  return {
    ...(Id !== undefined && { id: Id }),
    repoTags: RepoTags ?? [],
    repoDigests: RepoDigests ?? [],
    ...(Size !== undefined && { size: Size }),
  };
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
