// A pull through the engine's API over its unix socket (POST /images/create), as the docker CLI
// sends it, for a registry whose credentials need no CLI: none stored (anonymous), or an
// `auths` entry of the config the engine is handed (the user's, or the one github-token was
// added to) with no credential helper in the way. A helper, or a config that cannot be read,
// leaves the pull to the CLI, which asks the helper as the user's own `docker pull` would. Issue
// 24: one CLI process fewer per pull (its start is 10–25 ms here).
import { request } from "node:http";
import {
  credentialHelper,
  dockerConfigDir,
  helperServer,
  normaliseConfigKey,
  readAuthEntry,
  readDockerConfigFile,
} from "../registry/auth.js";
import { parseReference } from "../resolve/reference.js";
import { ApiUnavailable, apiMessage } from "./api.js";
import type { CommandResult } from "./command.js";

/**
 * A bearer token prepull holds for one repository's pull scope (issue 24), handed to the engine
 * as the pull's AuthConfig.RegistryToken: the engine then sends it as it is (moby's
 * existingTokenHandler) instead of asking the registry's token endpoint itself. Only for a pull
 * of that very repository on that very registry.
 */
export interface HandedToken {
  readonly registry: string;
  readonly repository: string;
  readonly token: string;
}

export interface ApiPullOptions {
  readonly platform?: string;
  readonly timeoutMs: number;
  readonly onLine?: (line: string) => void;
  readonly signal?: AbortSignal;
}

/**
 * The X-Registry-Auth header the CLI would send for `registry` under `env`'s config, or
 * undefined where only the CLI can tell (a credential helper, an unreadable config).
 */
export function registryAuthHeader(env: NodeJS.ProcessEnv, registry: string): string | undefined {
  const { config, problem } = readDockerConfigFile(env);
  if (problem) return undefined;
  if (credentialHelper(config, registry)) return undefined;
  const serveraddress = helperServer(registry);
  const entries = Object.entries(config.auths ?? {}).filter(([key]) => normaliseConfigKey(key) === registry);
  for (const [, entry] of entries) {
    const { identitytoken, username, password, malformedAuth } = readAuthEntry(entry);
    if (identitytoken) return encode({ identitytoken, serveraddress });
    if (malformedAuth) return undefined; // the CLI says what is wrong with it
    if (username !== undefined && password !== undefined) return encode({ username, password, serveraddress });
  }
  return encode({});
}

/** Headers computed, by config directory then registry: config.json is read once, not on every pull. */
const headers = new Map<string, Map<string, string | undefined>>();

/** registryAuthHeader, computed once per config directory and registry, until configWritten names the directory. */
export function cachedRegistryAuthHeader(env: NodeJS.ProcessEnv, registry: string): string | undefined {
  const dir = dockerConfigDir(env);
  let byRegistry = headers.get(dir);
  if (!byRegistry) {
    byRegistry = new Map();
    headers.set(dir, byRegistry);
  }
  if (!byRegistry.has(registry)) byRegistry.set(registry, registryAuthHeader(env, registry));
  return byRegistry.get(registry);
}

/** config.json of `dir` was rewritten (config.ts): its headers are computed again. */
export function configWritten(dir: string): void {
  headers.delete(dir);
}

/** The X-Registry-Auth of a pull of `registry/repository` with `handed`, where it was issued for exactly those; else undefined. */
export function handedTokenHeader(registry: string, repository: string, handed: HandedToken | undefined): string | undefined {
  if (handed === undefined || handed.registry !== registry || handed.repository !== repository || !handed.token) return undefined;
  return encode({ registrytoken: handed.token, serveraddress: helperServer(registry) });
}

/** base64url with its padding, as the CLI sends it (Go's URLEncoding; the engine refuses it unpadded). */
const encode = (auth: Record<string, string>) =>
  Buffer.from(JSON.stringify(auth)).toString("base64").replaceAll("+", "-").replaceAll("/", "_");

/** The API's query for `ref`, as the CLI builds it: the repository, and the digest (else the tag) as `tag`. */
function pullQuery(ref: string, platform: string | undefined): string {
  const parsed = parseReference(ref);
  const query = new URLSearchParams({ fromImage: `${parsed.registry}/${parsed.path}`, tag: parsed.digest ?? parsed.tag ?? "latest" });
  if (platform) query.set("platform", platform);
  return query.toString();
}

/**
 * Pulls `ref` over the socket; the answer as the CLI's would be (exit code, the error text on
 * stderr, progress lines as `id: status`). Throws ApiUnavailable when the socket does not answer.
 */
export function pullOverApi(socket: string, ref: string, auth: string, options: ApiPullOptions): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    let timedOut = false;
    const stderr: string[] = [];
    const settle = (exitCode: number) => resolve({ exitCode, stdout: "", stderr: stderr.join("\n"), timedOut });
    // servername "": as in api.ts (no IPv6 test of the Host header for a socket).
    const path = `/images/create?${pullQuery(ref, options.platform)}`;
    const target = { socketPath: socket, method: "POST", path, headers: { Host: "docker", "X-Registry-Auth": auth }, servername: "" };
    const req = request(target, (response) => {
      let pending = "";
      const onMessage = (line: string) => {
        if (response.statusCode !== 200) return stderr.push(line);
        const message = parseMessage(line);
        if (message?.error !== undefined) stderr.push(message.error);
        else if (message?.status) options.onLine?.(message.id ? `${message.id}: ${message.status}` : message.status);
      };
      response.setEncoding("utf8").on("data", (chunk: string) => {
        const lines = (pending + chunk).split("\n");
        pending = lines.pop() ?? "";
        for (const line of lines) if (line.trim()) onMessage(line);
      });
      response.on("end", () => {
        if (pending.trim()) onMessage(pending);
        if (response.statusCode !== 200) {
          const body = stderr.join("");
          // Not JSON: the text as it came.
          const message = apiMessage({ status: response.statusCode ?? 0, body }, body.trim() || "no message");
          stderr.splice(0, stderr.length, `Error response from daemon: ${message}`);
        }
        settle(response.statusCode === 200 && stderr.length === 0 ? 0 : 1);
      });
      response.on("error", () => settle(1));
    });
    // Stopped (the time limit, or a refused mirror): the engine ends a pull whose client has gone.
    const stop = (why: string) => {
      stderr.push(why);
      req.destroy(new Error(why));
    };
    const timer = setTimeout(() => {
      timedOut = true;
      stop(`no result within ${options.timeoutMs / 1000} s`);
    }, options.timeoutMs);
    const onAbort = () => stop("stopped");
    options.signal?.addEventListener("abort", onAbort, { once: true });
    req.on("close", () => {
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
    });
    req.on("error", (error) => {
      if (timedOut || options.signal?.aborted) settle(1);
      else reject(new ApiUnavailable(error.message));
    });
    if (options.signal?.aborted) onAbort();
    req.end();
  });
}

function parseMessage(line: string): { status?: string; id?: string; error?: string } | undefined {
  try {
    const json = JSON.parse(line) as { status?: unknown; id?: unknown; error?: unknown; errorDetail?: { message?: unknown } };
    const error = typeof json.errorDetail?.message === "string" ? json.errorDetail.message : json.error;
    return {
      ...(typeof json.status === "string" && { status: json.status }),
      ...(typeof json.id === "string" && { id: json.id }),
      ...(typeof error === "string" && { error }),
    };
  } catch {
    return undefined;
  }
}
