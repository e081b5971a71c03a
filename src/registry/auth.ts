// Registry auth: WWW-Authenticate challenges, credentials, and the token flow of
// distribution's token spec (Docker Hub, GHCR, Quay and distribution itself speak it).
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { isLoopback } from "../reference.js";

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

const DockerConfigSchema = z.object({
  auths: z
    .record(
      z.string(),
      z.object({
        auth: z.string().optional(),
        username: z.string().optional(),
        password: z.string().optional(),
        identitytoken: z.string().optional(),
      }),
    )
    .optional(),
});

/** Hosts as the engine keys them in config.json: Docker Hub is stored under its index URL. */
function configKeys(registry: string): string[] {
  if (registry === "docker.io") return ["https://index.docker.io/v1/", "index.docker.io", "docker.io", "registry-1.docker.io"];
  return [registry, `https://${registry}`, `http://${registry}`, `https://${registry}/v1/`, `https://${registry}/v2/`];
}

/** Credentials from the engine's config file (`$DOCKER_CONFIG/config.json` or `~/.docker/config.json`). */
export function readDockerConfig(env: NodeJS.ProcessEnv = process.env): Map<string, Credential> {
  const dir = env.DOCKER_CONFIG ?? join(env.HOME ?? homedir(), ".docker");
  const file = join(dir, "config.json");
  const found = new Map<string, Credential>();
  let raw: string;
  try {
    raw = readFileSync(file, "utf8");
  } catch {
    return found;
  }
  const parsed = DockerConfigSchema.safeParse(JSON.parse(raw));
  if (!parsed.success) return found;
  for (const [key, entry] of Object.entries(parsed.data.auths ?? {})) {
    let username = entry.username;
    let password = entry.password;
    if (entry.auth) {
      const decoded = Buffer.from(entry.auth, "base64").toString("utf8");
      const colon = decoded.indexOf(":");
      if (colon > 0) {
        username = decoded.slice(0, colon);
        password = decoded.slice(colon + 1);
      }
    }
    if (username && password) found.set(normaliseConfigKey(key), { username, password, from: file });
  }
  return found;
}

function normaliseConfigKey(key: string): string {
  const host = key.replace(/^https?:\/\//, "").replace(/\/.*$/, "");
  return host === "index.docker.io" || host === "registry-1.docker.io" ? "docker.io" : host;
}

/** Who may be asked for which registry: the engine's config, and github-token for ghcr.io and loopback registries. */
export class Credentials {
  private readonly config: Map<string, Credential>;
  constructor(
    env: NodeJS.ProcessEnv = process.env,
    private readonly githubToken?: string,
    private readonly githubActor = env.GITHUB_ACTOR || "prepull",
  ) {
    this.config = readDockerConfig(env);
  }

  /** All candidates for `registry`, in the order to try them. */
  for(registry: string): Credential[] {
    const list: Credential[] = [];
    // github-token is GitHub's: offered to ghcr.io, and to registries on this machine (a
    // service container), never to a third party's registry.
    if (this.githubToken && (registry === "ghcr.io" || isLoopback(registry))) {
      list.push({ username: this.githubActor, password: this.githubToken, from: "github-token" });
    }
    for (const key of configKeys(registry)) {
      const found = this.config.get(normaliseConfigKey(key));
      if (found && !list.includes(found)) list.push(found);
    }
    return list;
  }
}

/**
 * github-token for the engine's own pulls: a temporary config directory holding a copy of the
 * engine's config, to which `sync` adds an entry for each registry where the probes found that
 * github-token is what gets access (and the config has none). Nothing is added where access
 * is anonymous: credentials a registry does not expect can make the engine's pull fail. The
 * token never appears in an argument vector; the directory is removed when the run ends.
 */
export interface EngineAuth {
  readonly env: NodeJS.ProcessEnv;
  sync(registries: ReadonlySet<string>): Promise<void>;
  cleanup(): Promise<void>;
}

export async function engineAuth(
  env: NodeJS.ProcessEnv,
  githubToken: string | undefined,
  tempRoot: string,
): Promise<EngineAuth | undefined> {
  if (!githubToken) return undefined;
  const { mkdtemp, readFile, rename, rm, writeFile } = await import("node:fs/promises");
  const source = join(env.DOCKER_CONFIG ?? join(env.HOME ?? homedir(), ".docker"), "config.json");
  let config: Record<string, unknown>;
  try {
    config = JSON.parse(await readFile(source, "utf8")) as Record<string, unknown>;
  } catch {
    config = {};
  }
  const dir = await mkdtemp(join(tempRoot, "prepull-engine-config-"));
  const file = join(dir, "config.json");
  const written = new Set<string>();
  const write = async () => {
    const auths = { ...((config.auths as Record<string, unknown> | undefined) ?? {}) };
    for (const registry of written) {
      if (Object.keys(auths).some((key) => normaliseConfigKey(key) === registry)) continue;
      auths[registry] = { auth: Buffer.from(`${env.GITHUB_ACTOR || "prepull"}:${githubToken}`).toString("base64") };
    }
    // Aside, then renamed over: a pull running meanwhile reads the old file or the new one.
    await writeFile(`${file}.tmp`, JSON.stringify({ ...config, auths }), { mode: 0o600 });
    await rename(`${file}.tmp`, file);
  };
  await write();
  return {
    env: { ...env, DOCKER_CONFIG: dir, REGISTRY_AUTH_FILE: file },
    async sync(registries) {
      if ([...registries].every((r) => written.has(r))) return;
      for (const r of registries) written.add(r);
      await write();
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}
