// The Docker engine's HTTP API over its unix socket, for the calls that need no credentials
// (info, inspect, tag, untag): an in-process request costs about a millisecond, a CLI process
// 12–25 ms. The socket is the one the user's own `docker` would use: DOCKER_HOST, else the
// current context (DOCKER_CONTEXT or config.json's currentContext), else the default socket.
// Pulls go through it too where no credential helper is in the way (engine/pullapi.ts); any
// engine the API cannot reach (tcp/ssh hosts, podman without its service) is driven through the CLI.
import { existsSync, readFileSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { dockerConfigDir, readDockerConfigFile } from "../registry/auth.js";
import { sha256Hex } from "../registry/sha256.js";

export interface ApiAnswer {
  readonly status: number;
  readonly body: string;
}

/** No answer on the socket (absent, refused, not permitted): use the CLI. */
export class ApiUnavailable extends Error {
  override name = "ApiUnavailable";
}

/** The unix socket of the engine the user's CLI talks to, or undefined when it is not a local socket. */
export function engineSocket(env: NodeJS.ProcessEnv): string | undefined {
  const host = env.DOCKER_HOST || contextHost(env);
  if (host !== undefined) return host.startsWith("unix://") ? host.slice("unix://".length) : undefined;
  return existsSync("/var/run/docker.sock") ? "/var/run/docker.sock" : undefined;
}

/** The docker endpoint of the current context; undefined for the default context. */
function contextHost(env: NodeJS.ProcessEnv): string | undefined {
  const dir = dockerConfigDir(env);
  const name = env.DOCKER_CONTEXT || readDockerConfigFile(env).json.currentContext;
  if (typeof name !== "string" || name === "" || name === "default") return undefined;
  try {
    const id = sha256Hex(name);
    const meta = JSON.parse(readFileSync(join(dir, "contexts", "meta", id, "meta.json"), "utf8")) as {
      Endpoints?: { docker?: { Host?: string } };
    };
    // A context we cannot read says "not the default socket": the CLI knows better.
    return meta.Endpoints?.docker?.Host ?? "unreadable-context://";
  } catch {
    return "unreadable-context://";
  }
}

/** One request to the engine's API; throws ApiUnavailable when nothing answers. */
export function callEngine(socket: string, method: string, path: string, signal?: AbortSignal, timeoutMs = 30_000): Promise<ApiAnswer> {
  return new Promise((resolve, reject) => {
    // servername "": node's agent would otherwise test the Host header for an IPv6 address,
    // compiling a large regular expression (2–4 ms) for a socket that has no TLS name at all.
    const options = { socketPath: socket, method, path, headers: { Host: "docker" }, servername: "", ...(signal && { signal }) };
    const req = request(options, (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
      response.on("error", (error) => reject(new ApiUnavailable(error.message)));
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs / 1000} s`)));
    req.on("error", (error) => reject(signal?.aborted ? error : new ApiUnavailable(error.message)));
    req.end();
  });
}

/** The message of an API error answer (`{"message": …}`), else `otherwise` (its status). */
export function apiMessage(answer: ApiAnswer, otherwise = `HTTP ${answer.status}`): string {
  try {
    const parsed = JSON.parse(answer.body) as { message?: unknown };
    if (typeof parsed.message === "string") return parsed.message;
  } catch {
    // not JSON
  }
  return otherwise;
}
