// A small token server of distribution's token spec, in front of real docker-registry
// instances configured with `auth: token`: anonymous pull tokens for public repositories,
// Basic credentials required for private ones and for push, 401 for wrong credentials
// (as GHCR refuses), and a 200 with no grant for insufficient access (as the spec says).
// The job token (JOB_TOKEN, `${{ github.token }}`) is what GHCR takes it for: a valid GitHub
// credential, under any user name, that reads what anonymous reads and nothing private.
import { createPrivateKey, randomBytes, sign } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { JOB_TOKEN } from "./action.js";
import { listenOnLoopback, loopbackRequest, selfSignedCertificate, tlsCertificate } from "./net.js";
import type { TokenAuthConfig } from "./registry.js";

export interface TokenPolicy {
  /** repositories (path) that need credentials even to pull */
  readonly isPrivate: (repository: string) => boolean;
  /** user → password */
  readonly users: Readonly<Record<string, string>>;
}

export class TokenServer {
  /** every token issued, so tests can grep logs for them */
  readonly issued: string[] = [];
  /** `agent`: the client's User-Agent (prepull's own, or the engine's) */
  readonly requests: { scope: string[]; user?: string; status: number; agent: string }[] = [];
  /** answer every token request with this instead (a broken token endpoint) */
  answerWith?: { status: number; body: string };
  private constructor(
    private readonly server: Server,
    readonly port: number,
    private readonly dir: string,
    private readonly key: ReturnType<typeof createPrivateKey>,
    private readonly certDer: string,
    readonly service: string,
    private readonly policy: TokenPolicy,
    private readonly scheme: "http" | "https",
    private readonly hostName: string,
  ) {}

  /** with `tls`: the realm's certificate, to trust (NODE_EXTRA_CA_CERTS) where the realm is reached by a name */
  get tlsCertFile(): string | undefined {
    return this.scheme === "https" ? join(this.dir, "tls", "cert.pem") : undefined;
  }

  /**
   * `tls`: the realm is HTTPS (a self-signed certificate for 127.0.0.1), as Docker Hub's and GHCR's are.
   * `hostName`: the realm names the server so (its certificate holds the name; see net.ts addHostNames).
   */
  static async start(service: string, policy: TokenPolicy, options: { tls?: boolean; hostName?: string } = {}): Promise<TokenServer> {
    const dir = mkdtempSync(join(tmpdir(), "prepull-token-"));
    const { cert: certFile, key: keyFile } = selfSignedCertificate(dir, "/CN=prepull-test-token");
    const key = createPrivateKey(readFileSync(keyFile));
    const certDer = readFileSync(certFile, "utf8")
      .replace(/-----[^-]+-----/g, "")
      .replace(/\s+/g, "");
    let server: Server;
    if (options.tls) {
      const tlsDir = join(dir, "tls"); // beside the signing key's cert.pem, removed with it
      mkdirSync(tlsDir);
      const tls = tlsCertificate(tlsDir, options.hostName ? [options.hostName] : []);
      server = createHttpsServer({ cert: readFileSync(tls.cert), key: readFileSync(tls.key) }) as unknown as Server;
    } else server = createServer();
    const port = await listenOnLoopback(server);
    const scheme = options.tls ? "https" : "http";
    const tokens = new TokenServer(server, port, dir, key, certDer, service, policy, scheme, options.hostName ?? "127.0.0.1");
    server.on("request", (req, res) => {
      const url = new URL(req.url ?? "/", "http://x");
      const scopes = url.searchParams.getAll("scope");
      const agent = String(req.headers["user-agent"] ?? "");
      if (tokens.answerWith) {
        res.writeHead(tokens.answerWith.status, { "content-type": "text/html" }).end(tokens.answerWith.body);
        return;
      }
      const auth = req.headers.authorization;
      let user: string | undefined;
      /** a known user's own credentials: private pulls and pushes */
      let privileged = false;
      if (auth?.startsWith("Basic ")) {
        const [name = "", pass = ""] = Buffer.from(auth.slice(6), "base64").toString().split(":");
        privileged = tokens.policy.users[name] === pass;
        if (!privileged && pass !== JOB_TOKEN) {
          tokens.requests.push({ scope: scopes, user: name, status: 401, agent });
          res
            .writeHead(401, { "content-type": "application/json" })
            .end('{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}');
          return;
        }
        user = name;
      }
      const access = scopes.flatMap((scope) => {
        const [type, name = "", actions = ""] = scope.split(":");
        if (type !== "repository") return [];
        const allowed = actions
          .split(",")
          .filter((action) => (action === "pull" ? privileged || !tokens.policy.isPrivate(name) : privileged));
        return [{ type: "repository", name, actions: allowed }];
      });
      const token = tokens.sign(user ?? "", access);
      tokens.issued.push(token);
      tokens.requests.push({ scope: scopes, ...(user && { user }), status: 200, agent });
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ token, access_token: token, expires_in: 300 }));
    });
    return tokens;
  }

  get realm(): string {
    return `${this.scheme}://${this.hostName}:${this.port}/token`;
  }

  /**
   * A token request of the test's own (`user:password` as Basic credentials where given), over
   * the realm's scheme; its self-signed certificate is accepted. The status and the token.
   */
  async grant(scope: string, credentials?: string): Promise<{ status: number; token?: string }> {
    const url = `${this.realm}?service=${encodeURIComponent(this.service)}&scope=${encodeURIComponent(scope)}`;
    const headers = credentials ? { Authorization: `Basic ${Buffer.from(credentials).toString("base64")}` } : {};
    const { status, body } = await loopbackRequest(url, { headers });
    return status === 200 ? { status, token: (JSON.parse(body) as { token: string }).token } : { status };
  }

  /** The registry's `auth.token` settings for this server. */
  registryConfig(): TokenAuthConfig {
    return { realm: this.realm, service: this.service, issuer: "prepull-test-issuer", certFile: join(this.dir, "cert.pem") };
  }

  private sign(subject: string, access: unknown[]): string {
    const now = Math.floor(Date.now() / 1000);
    const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
    const header = b64({ alg: "RS256", typ: "JWT", x5c: [this.certDer] });
    const claims = b64({
      iss: "prepull-test-issuer",
      sub: subject,
      aud: this.service,
      exp: now + 300,
      nbf: now - 10,
      iat: now,
      jti: randomBytes(8).toString("hex"),
      access,
    });
    const signature = sign("RSA-SHA256", Buffer.from(`${header}.${claims}`), this.key).toString("base64url");
    return `${header}.${claims}.${signature}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
