// The engine's config as prepull hands it on. The user's own config directory is used as it is
// until github-token must reach the engine; only then does prepull make a temporary directory
// that holds every entry of the user's (contexts, plugins, …) as a link, and a copy of
// config.json with github-token added for the registries that need it. The engine the user's
// `docker` talks to (its current context) and every credential the user configured stay as
// they were; podman keeps its own auth file (REGISTRY_AUTH_FILE is never replaced) and finds
// the token in the docker config it also reads.
import { join } from "node:path";
import { removeOnExit } from "../lifecycle.js";
import { type AuthEntryJson, dockerConfigDir, normaliseConfigKey, readAuthEntry, readDockerConfigFile } from "../registry/auth.js";
import { configWritten } from "./pullapi.js";

type ConfigJson = Record<string, unknown> & { auths?: Record<string, unknown>; credHelpers?: Record<string, string> };

export interface ConfigDir {
  readonly dir: string;
  /** rewrites config.json; a pull running meanwhile reads the old file or the new one */
  write(config: ConfigJson): Promise<void>;
  remove(): void;
}

/** A temporary config directory beside the user's: every entry linked but config.json, which `write` fills. */
export async function shadowConfigDir(env: NodeJS.ProcessEnv, tempRoot: string, prefix: string): Promise<ConfigDir> {
  // Loaded when a run needs it (node's fs/promises brings readline: 1 ms of every start otherwise).
  const { mkdtemp, readdir, rename, symlink, writeFile } = await import("node:fs/promises");
  const dir = await mkdtemp(join(tempRoot, prefix));
  const remove = removeOnExit(dir);
  const userDir = dockerConfigDir(env);
  const entries = await readdir(userDir).catch(() => [] as string[]);
  // config.json is written here, and auth.json may be (podman's, for the anonymous engine).
  const linked = entries.filter((name) => name !== "config.json" && name !== "auth.json");
  await Promise.all(linked.map((name) => symlink(join(userDir, name), join(dir, name))));
  const file = join(dir, "config.json");
  return {
    dir,
    async write(config) {
      await writeFile(`${file}.tmp`, JSON.stringify(config), { mode: 0o600 });
      await rename(`${file}.tmp`, file);
      configWritten(dir);
    },
    remove,
  };
}

/** The user's config.json as JSON, or an empty one when it is absent or unreadable (Credentials reports that). */
function userConfigJson(env: NodeJS.ProcessEnv): ConfigJson {
  return readDockerConfigFile(env).json as ConfigJson;
}

/**
 * github-token for the engine's own pulls, added only where the probes found that it is what
 * gets access (and the user configured nothing for that registry). Nothing is added where
 * access is anonymous: credentials a registry does not expect can make the engine's pull fail.
 * The token never appears in an argument vector; the directory is removed on every way out.
 */
export class EngineAuth {
  private shadow?: Promise<ConfigDir>;
  private readonly written = new Set<string>();

  constructor(
    private readonly env: NodeJS.ProcessEnv,
    private readonly githubToken: string,
    private readonly tempRoot: string,
  ) {}

  /** The engine's environment now: the user's own until the token had to be added. */
  async engineEnv(): Promise<NodeJS.ProcessEnv> {
    if (!this.shadow) return this.env;
    return { ...this.env, DOCKER_CONFIG: (await this.shadow).dir };
  }

  async sync(registries: ReadonlySet<string>): Promise<void> {
    if ([...registries].every((r) => this.written.has(r))) return;
    for (const r of registries) this.written.add(r);
    this.shadow ??= shadowConfigDir(this.env, this.tempRoot, "prepull-engine-config-");
    const shadow = await this.shadow;
    const { json, config: valid, problem } = readDockerConfigFile(this.env);
    const config = json as ConfigJson;
    const checked = valid.auths ?? {};
    // An entry the schema refused is still the user's: it is kept, the token not added over it.
    const users = (key: string) => (problem !== undefined ? true : hasSecret(checked[key]));
    const auths = { ...(config.auths ?? {}) };
    const credHelpers = { ...(config.credHelpers ?? {}) };
    const actor = this.env.GITHUB_ACTOR || "prepull";
    for (const registry of this.written) {
      if (Object.keys(auths).some((key) => normaliseConfigKey(key) === registry && users(key))) continue;
      auths[registry] = { auth: Buffer.from(`${actor}:${this.githubToken}`).toString("base64") };
      // A helper (credsStore) would be asked instead of this entry: "" sends this registry to the file.
      if (config.credsStore || config.credHelpers) credHelpers[registry] = "";
    }
    await shadow.write({ ...config, auths, ...(Object.keys(credHelpers).length > 0 && { credHelpers }) });
  }

  async cleanup(): Promise<void> {
    (await this.shadow)?.remove();
  }
}

/** Whether the user's `auths` entry (as the schema checked it) holds a secret of its own; absent, not. */
function hasSecret(entry: AuthEntryJson | undefined): boolean {
  if (entry === undefined) return false;
  const { password, identitytoken, malformedAuth } = readAuthEntry(entry);
  return Boolean(password || identitytoken || malformedAuth);
}

/**
 * The user's config with no credentials at all (no `auths`, no helpers), for a pull that stored
 * credentials spoil; contexts and everything else stay. podman gets an empty auth file too.
 */
export async function anonymousEngineEnv(env: NodeJS.ProcessEnv, tempRoot: string): Promise<{ env: NodeJS.ProcessEnv; remove(): void }> {
  const shadow = await shadowConfigDir(env, tempRoot, "prepull-anonymous-");
  const { auths: _a, credsStore: _s, credHelpers: _h, ...rest } = userConfigJson(env);
  await shadow.write(rest);
  const { writeFile } = await import("node:fs/promises");
  await writeFile(join(shadow.dir, "auth.json"), "{}", { mode: 0o600 });
  return { env: { ...env, DOCKER_CONFIG: shadow.dir, REGISTRY_AUTH_FILE: join(shadow.dir, "auth.json") }, remove: shadow.remove };
}
