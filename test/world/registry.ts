// Real OCI registries (Debian's docker-registry, i.e. distribution 2.8) on loopback ports.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, loopbackRequest, tlsCertificate, waitFor } from "./net.js";

export interface Registry {
  /** `127.0.0.1:PORT`: the engine treats loopback registries as plain HTTP */
  readonly host: string;
  readonly port: number;
  readonly root: string;
  /** `https` for a registry started with `tls` (a self-signed certificate for 127.0.0.1) */
  readonly scheme: "http" | "https";
  /** with `tls`: the certificate, to trust (NODE_EXTRA_CA_CERTS) where the registry is reached by a name */
  readonly certFile?: string;
  stop(): Promise<void>;
}

export interface TokenAuthConfig {
  readonly realm: string;
  readonly service: string;
  readonly issuer: string;
  /** PEM certificate whose key signs the tokens */
  readonly certFile: string;
}

/**
 * `names`: with `tls`, host names the certificate also holds (a registry reached by name through
 * a proxy; nothing resolves them on this machine).
 */
export async function startRegistry(
  options: { tokenAuth?: TokenAuthConfig; tls?: boolean; names?: readonly string[] } = {},
): Promise<Registry> {
  const root = mkdtempSync(join(tmpdir(), "prepull-registry-"));
  const port = await freePort();
  let tls = "";
  let certFile: string | undefined;
  if (options.tls) {
    const { cert, key } = tlsCertificate(root, options.names);
    certFile = cert;
    tls = `  tls:
    certificate: ${cert}
    key: ${key}
`;
  }
  const scheme = options.tls ? "https" : "http";
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
${tls}`,
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
      const status = await loopbackRequest(`${scheme}://127.0.0.1:${port}/v2/`).then(
        (answer) => answer.status,
        () => undefined,
      );
      return status === 200 || status === 401;
    }, 20_000);
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  }
  return {
    host: `127.0.0.1:${port}`,
    port,
    root,
    scheme,
    ...(certFile && { certFile }),
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
