// Registry auth: WWW-Authenticate challenges, credentials, and the token flow of
// distribution's token spec (Docker Hub, GHCR, Quay and distribution itself speak it).
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import * as z from "zod/mini";
import { runCommand } from "../engine/command.js";
import { childEnv } from "../lifecycle.js";
import { isLoopback } from "../resolve/reference.js";

export interface Challenge {
  readonly scheme: string;
  readonly params: Readonly<Record<string, string>>;
}

/**
 * Parses every challenge of a WWW-Authenticate header (RFC 7235): Quay has sent
 * `Basic realm="…", Bearer realm="…",service="…"` in one header, so a scheme can follow
 * another's parameters after a comma.
 */
export function parseChallenges(header: string): Challenge[] {
  const challenges: { scheme: string; params: Record<string, string> }[] = [];
  let current: { scheme: string; params: Record<string, string> } | undefined;
  let i = 0;
  const token = (): string => {
    const match = /^[A-Za-z0-9!#$%&'*+.^_`|~/-]+/.exec(header.slice(i));
    i += match ? match[0].length : 0;
    return match ? match[0] : "";
  };
  const spaces = () => {
    while (header[i] === " " || header[i] === "\t") i++;
  };
  while (i < header.length) {
    while (i < header.length && /[\s,]/.test(header[i] ?? "")) i++;
    const name = token();
    if (name === "") {
      i++;
      continue;
    }
    spaces();
    if (header[i] === "=" && current) {
      i++;
      spaces();
      let value = "";
      if (header[i] === '"') {
        for (i++; i < header.length && header[i] !== '"'; i++) {
          if (header[i] === "\\") i++;
          value += header[i] ?? "";
        }
        i++;
      } else {
        // Liberal: an unquoted value runs to the next comma or space (a realm URL has ':').
        const bare = /^[^\s,]*/.exec(header.slice(i))?.[0] ?? "";
        i += bare.length;
        value = bare;
      }
      current.params[name.toLowerCase()] = value;
    } else {
      current = { scheme: name, params: {} };
      challenges.push(current);
    }
  }
  return challenges;
}

export interface Credential {
  readonly username: string;
  readonly password: string;
  /** where it came from, for log lines (never the secret) */
  readonly from: string;
}

const AuthEntry = z.object({
  auth: z.optional(z.string()),
  username: z.optional(z.string()),
  password: z.optional(z.string()),
  identitytoken: z.optional(z.string()),
});

const DockerConfigSchema = z.object({
  auths: z.optional(z.record(z.string(), AuthEntry)),
  credsStore: z.optional(z.string()),
  credHelpers: z.optional(z.record(z.string(), z.string())),
});
export type DockerConfig = z.infer<typeof DockerConfigSchema>;
/** An `auths` entry as the schema checked it. */
export type AuthEntryJson = z.infer<typeof AuthEntry>;

/** The engine's config directory, as the docker CLI finds it. */
export function dockerConfigDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.DOCKER_CONFIG || join(env.HOME ?? homedir(), ".docker");
}

/** Hosts as the engine keys them in config.json: Docker Hub is stored under its index URL. */
function configKeys(registry: string): string[] {
  if (registry === "docker.io") return ["https://index.docker.io/v1/", "index.docker.io", "docker.io", "registry-1.docker.io"];
  return [registry, `https://${registry}`, `http://${registry}`, `https://${registry}/v1/`, `https://${registry}/v2/`];
}

/** The server name a credential helper is asked about, as the docker CLI asks it. */
export function helperServer(registry: string): string {
  return registry === "docker.io" ? "https://index.docker.io/v1/" : registry;
}

export function normaliseConfigKey(key: string): string {
  const host = key.replace(/^https?:\/\//, "").replace(/\/.*$/, "");
  return host === "index.docker.io" || host === "registry-1.docker.io" ? "docker.io" : host;
}

export interface ReadConfig {
  readonly file: string;
  readonly config: DockerConfig;
  /** the whole file as JSON (contexts, plugins and all), when it holds an object; else {} */
  readonly json: Record<string, unknown>;
  /** why the file could not be used (malformed JSON, wrong shape); undefined when it was, or is absent */
  readonly problem?: string;
}

/**
 * The engine's config file, read the one way every part of prepull reads it (credentials, the
 * current context, the config handed on to the engine); a malformed one is a problem to
 * report, never a crash.
 */
export function readDockerConfigFile(env: NodeJS.ProcessEnv = process.env): ReadConfig {
  const file = join(dockerConfigDir(env), "config.json");
  let raw: string;
  try {
    raw = readFileSync(file, "utf8");
  } catch {
    return { file, config: {}, json: {} };
  }
  let parsedJson: unknown;
  try {
    parsedJson = JSON.parse(raw);
  } catch (error) {
    return { file, config: {}, json: {}, problem: `${file} is not valid JSON (${(error as Error).message}); its credentials are not used` };
  }
  const json = parsedJson && typeof parsedJson === "object" && !Array.isArray(parsedJson) ? (parsedJson as Record<string, unknown>) : {};
  const parsed = DockerConfigSchema.safeParse(parsedJson);
  if (!parsed.success) return { file, config: {}, json, problem: `${file} is not an engine config file; its credentials are not used` };
  return { file, config: parsed.data, json };
}

/** Credentials stored in the engine's config file itself (`auths`), by normalised host. */
export function readDockerConfig(env: NodeJS.ProcessEnv = process.env): Map<string, Credential> {
  const { file, config } = readDockerConfigFile(env);
  return credentialsOf(config.auths ?? {}, file);
}

/**
 * The one reader of an `auths` entry (credentials, the engine's X-Registry-Auth, the config
 * handed on): user and password (from `auth` where it decodes), the identity token;
 * `malformedAuth`: an `auth` that is not base64 of `user:password` (the CLI says what is wrong).
 */
export function readAuthEntry(entry: AuthEntryJson) {
  const decoded = entry.auth ? Buffer.from(entry.auth, "base64").toString("utf8") : undefined;
  const colon = decoded?.indexOf(":") ?? -1;
  const fromAuth = decoded !== undefined && colon > 0;
  return {
    username: fromAuth ? decoded.slice(0, colon) : entry.username,
    password: fromAuth ? decoded.slice(colon + 1) : entry.password,
    identitytoken: entry.identitytoken || undefined,
    malformedAuth: decoded !== undefined && !fromAuth,
  };
}

function credentialsOf(auths: Record<string, AuthEntryJson>, file: string): Map<string, Credential> {
  const found = new Map<string, Credential>();
  for (const [key, entry] of Object.entries(auths)) {
    const { username, password } = readAuthEntry(entry);
    if (username && password && !found.has(normaliseConfigKey(key))) found.set(normaliseConfigKey(key), { username, password, from: file });
  }
  return found;
}

/**
 * podman's own logins (`podman login`), read before the docker config as podman reads them:
 * REGISTRY_AUTH_FILE, else $XDG_RUNTIME_DIR/containers/auth.json, then
 * $XDG_CONFIG_HOME/containers/auth.json (~/.config by default).
 */
export function readPodmanAuth(env: NodeJS.ProcessEnv = process.env): Map<string, Credential> {
  const home = env.HOME ?? homedir();
  const files = env.REGISTRY_AUTH_FILE
    ? [env.REGISTRY_AUTH_FILE]
    : [
        ...(env.XDG_RUNTIME_DIR ? [join(env.XDG_RUNTIME_DIR, "containers", "auth.json")] : []),
        join(env.XDG_CONFIG_HOME || join(home, ".config"), "containers", "auth.json"),
      ];
  const found = new Map<string, Credential>();
  for (const file of files) {
    try {
      const parsed = DockerConfigSchema.safeParse(JSON.parse(readFileSync(file, "utf8")));
      if (!parsed.success) continue;
      for (const [host, credential] of credentialsOf(parsed.data.auths ?? {}, file)) if (!found.has(host)) found.set(host, credential);
    } catch {
      // absent or unreadable: podman skips it too
    }
  }
  return found;
}

const HelperAnswer = z.object({ Username: z.string(), Secret: z.string() });

/** Asks `docker-credential-NAME get` (the credential helper protocol); undefined when it has nothing. */
export type HelperRunner = (helper: string, server: string) => Promise<{ username: string; secret: string } | undefined>;

export const runCredentialHelper: HelperRunner = async (helper, server) => {
  const result = await runCommand(`docker-credential-${helper}`, ["get"], {
    input: server,
    timeoutMs: 10_000,
    env: childEnv(),
  }).catch(() => undefined);
  if (result === undefined || result.exitCode !== 0) return undefined;
  try {
    const parsed = HelperAnswer.parse(JSON.parse(result.stdout));
    return { username: parsed.Username, secret: parsed.Secret };
  } catch {
    return undefined;
  }
};

/**
 * Who may be asked for which registry, as the engine would: a credential helper where the
 * config names one for that registry (`credHelpers`, else `credsStore`), else the config's
 * own `auths`; and github-token for ghcr.io and this machine's registries (the client asks it
 * last, after anonymous access: see identitiesInOrder).
 */
export class Credentials {
  private readonly file: ReadConfig;
  private readonly stored: Map<string, Credential>;
  private readonly podman: Map<string, Credential>;
  private readonly helped = new Map<string, Promise<Credential | undefined>>();
  constructor(
    env: NodeJS.ProcessEnv = process.env,
    private readonly githubToken?: string,
    private readonly githubActor = env.GITHUB_ACTOR || "prepull",
    private readonly helperRunner: HelperRunner = runCredentialHelper,
    engine: "docker" | "podman" = "docker",
  ) {
    this.file = readDockerConfigFile(env);
    this.stored = credentialsOf(this.file.config.auths ?? {}, this.file.file);
    this.podman = engine === "podman" ? readPodmanAuth(env) : new Map();
  }

  /** Why the engine's config could not be read, if it could not. */
  get problem(): string | undefined {
    return this.file.problem;
  }

  /** All credentials for `registry`: github-token where it may go, then the user's own. */
  async for(registry: string): Promise<Credential[]> {
    const list: Credential[] = [];
    // github-token is GitHub's: offered to ghcr.io, and to registries on this machine (a
    // service container), never to a third party's registry.
    if (this.githubToken && (registry === "ghcr.io" || isLoopback(registry))) {
      list.push({ username: this.githubActor, password: this.githubToken, from: "github-token" });
    }
    const podmanLogin = this.podman.get(registry);
    if (podmanLogin) list.push(podmanLogin);
    const helper = credentialHelper(this.file.config, registry);
    if (helper) {
      const found = await this.fromHelper(helper, registry);
      if (found) list.push(found);
      return list;
    }
    for (const key of configKeys(registry)) {
      const found = this.stored.get(normaliseConfigKey(key));
      if (found && !list.includes(found)) list.push(found);
    }
    return list;
  }

  private fromHelper(helper: string, registry: string): Promise<Credential | undefined> {
    let found = this.helped.get(registry);
    if (!found) {
      found = this.helperRunner(helper, helperServer(registry)).then((answer) =>
        // `<token>` is an identity token (an OAuth refresh token), not a password: not used here.
        answer && answer.username !== "<token>" && answer.secret
          ? { username: answer.username, password: answer.secret, from: `credential helper docker-credential-${helper}` }
          : undefined,
      );
      this.helped.set(registry, found);
    }
    return found;
  }
}

/** The helper the engine uses for `registry` under `config`: `credHelpers` by host, else `credsStore` ("" is none). */
export function credentialHelper(config: DockerConfig, registry: string): string | undefined {
  const { credHelpers, credsStore } = config;
  for (const key of configKeys(registry)) {
    const named = Object.entries(credHelpers ?? {}).find(([host]) => normaliseConfigKey(host) === normaliseConfigKey(key));
    if (named) return named[1] || undefined;
  }
  return credsStore || undefined;
}
