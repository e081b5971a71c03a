import { execFileSync } from "node:child_process";
import { appendFileSync, closeSync, ftruncateSync, mkdtempSync, openSync, readFileSync, writeFileSync, writeSync } from "node:fs";
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A free loopback port (the small race with another process is acceptable in tests). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

/** Starts `server` on a free loopback port (tests listen on loopback only); the port. */
export async function listenOnLoopback(server: Server): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const address = server.address();
  if (typeof address !== "object" || !address) throw new Error("a loopback server has no address");
  return address.port;
}

export async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what = "condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A self-signed certificate and its key (openssl), written as cert.pem and key.pem in `dir`. */
export function selfSignedCertificate(dir: string, subject: string, extra: readonly string[] = []): { cert: string; key: string } {
  const [cert, key] = [join(dir, "cert.pem"), join(dir, "key.pem")];
  execFileSync(
    "openssl",
    ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", subject, ...extra],
    { stdio: "ignore" },
  );
  return { cert, key };
}

/** A TLS server's self-signed certificate, for 127.0.0.1 and `names` (written in `dir`). */
export function tlsCertificate(dir: string, names: readonly string[] = []): { cert: string; key: string } {
  const altNames = ["IP:127.0.0.1", ...names.map((name) => `DNS:${name}`)].join(",");
  return selfSignedCertificate(dir, "/CN=127.0.0.1", ["-addext", `subjectAltName=${altNames}`]);
}

/**
 * A request of the test's own to a loopback server, HTTP or HTTPS (its self-signed certificate
 * accepted, as the engine accepts a loopback registry's): the status, headers and body.
 */
export function loopbackRequest(
  url: string,
  options: { method?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const answer = (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    };
    const { method = "GET", headers = {} } = options;
    const req = url.startsWith("https:")
      ? httpsRequest(url, { method, headers, rejectUnauthorized: false }, answer)
      : httpRequest(url, { method, headers }, answer);
    req.on("error", reject);
    req.end();
  });
}

/** One file of the certificates in `files` (a CA bundle, for NODE_EXTRA_CA_CERTS), in a directory of its own. */
export function trustBundle(...files: (string | undefined)[]): string {
  const bundle = join(mkdtempSync(join(tmpdir(), "prepull-trust-")), "ca.pem");
  writeFileSync(bundle, files.flatMap((file) => (file ? [readFileSync(file, "utf8")] : [])).join("\n"));
  return bundle;
}

const HOSTS_FILE = "/etc/hosts";

/**
 * Names that resolve to 127.0.0.1 (lines added to /etc/hosts; root only), so that a registry is
 * reached by a name as a runner reaches ghcr.io: HTTPS verified against its certificate, no
 * loopback address for the engine or prepull to treat as this machine's. Resolves once the
 * engine sees them (its Go resolver keeps /etc/hosts up to 5 s: net/hosts.go cacheMaxAge) to
 * a function that takes out the lines this process added, and only those.
 */
export async function addHostNames(names: readonly string[]): Promise<() => void> {
  if (process.getuid?.() !== 0)
    throw new Error(`names for the test world (${names.join(", ")}) need root: they are lines in ${HOSTS_FILE}`);
  const known = readFileSync(HOSTS_FILE, "utf8");
  const listed = new Set(known.split("\n").flatMap((line) => line.replace(/#.*/, "").trim().split(/\s+/).slice(1)));
  const added = names.filter((name) => !listed.has(name)).map((name) => `127.0.0.1 ${name} # prepull test world, pid ${process.pid}`);
  if (added.length > 0) {
    appendFileSync(HOSTS_FILE, `${known.endsWith("\n") || known === "" ? "" : "\n"}${added.join("\n")}\n`);
    await new Promise((resolve) => setTimeout(resolve, 5_500));
  }
  return () => {
    if (added.length === 0) return;
    const left = [...added];
    const kept = readFileSync(HOSTS_FILE, "utf8")
      .split("\n")
      .filter((line) => {
        const mine = left.indexOf(line);
        if (mine >= 0) left.splice(mine, 1);
        return mine < 0;
      })
      .join("\n");
    // Rewritten in place and then cut to length: the file is never empty meanwhile (localhost stays).
    const fd = openSync(HOSTS_FILE, "r+");
    try {
      writeSync(fd, kept, 0);
      ftruncateSync(fd, Buffer.byteLength(kept));
    } finally {
      closeSync(fd);
    }
  };
}
