// Real OCI registries (Debian's docker-registry, i.e. distribution 2.8) on loopback ports.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, waitFor } from "./net.js";

export interface Registry {
  /** `127.0.0.1:PORT`: the engine treats loopback registries as plain HTTP */
  readonly host: string;
  readonly port: number;
  readonly root: string;
  stop(): Promise<void>;
}

export interface TokenAuthConfig {
  readonly realm: string;
  readonly service: string;
  readonly issuer: string;
  /** PEM certificate whose key signs the tokens */
  readonly certFile: string;
}

export async function startRegistry(options: { tokenAuth?: TokenAuthConfig } = {}): Promise<Registry> {
  const root = mkdtempSync(join(tmpdir(), "prepull-registry-"));
  const port = await freePort();
  const auth = options.tokenAuth
    ? `auth:
  token:
    realm: ${options.tokenAuth.realm}
    service: ${options.tokenAuth.service}
    issuer: ${options.tokenAuth.issuer}
    rootcertbundle: ${options.tokenAuth.certFile}
`
    : "";
  const config = join(root, "config.yml");
  writeFileSync(
    config,
    `version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: ${join(root, "data")}
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
${auth}http:
  addr: 127.0.0.1:${port}
  secret: prepull-test
`,
  );
  const logFile = join(root, "registry.log");
  const log = openSync(logFile, "a");
  const child: ChildProcess = spawn("docker-registry", ["serve", config], { stdio: ["ignore", log, log] });
  let exited = false;
  child.on("exit", () => {
    exited = true;
  });
  child.on("error", () => {
    exited = true;
  });
  try {
    await waitFor(async () => {
      if (exited) throw new Error(`docker-registry exited:\n${readFileSync(logFile, "utf8")}`);
      const response = await fetch(`http://127.0.0.1:${port}/v2/`).catch(() => undefined);
      return response !== undefined && (response.status === 200 || response.status === 401);
    }, 20_000);
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  }
  return {
    host: `127.0.0.1:${port}`,
    port,
    root,
    async stop() {
      if (!exited) {
        const done = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await done;
      }
      rmSync(root, { recursive: true, force: true });
    },
  };
}
