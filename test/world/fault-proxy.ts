// A small fault-injecting HTTP proxy in front of a real registry: 5xx bursts, connection
// resets, truncated bodies, stalls, 429 with quota headers. It logs every request, so
// tests can assert how many of which kind a run made.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer, request as httpsRequest } from "node:https";
import type { Socket } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { listenOnLoopback, tlsCertificate } from "./net.js";

export type Fault =
  | { readonly kind: "status"; readonly status: number; readonly headers?: Record<string, string>; readonly body?: string }
  /** close the connection without an answer */
  | { readonly kind: "reset" }
  /** forward the answer's headers and the first `bytes` of its body, then cut the connection */
  | { readonly kind: "truncate"; readonly bytes?: number }
  /** accept the request and say nothing for `ms` (default: until the proxy stops) */
  | { readonly kind: "stall"; readonly ms?: number }
  /** forward the request after `ms` (a slow registry) */
  | { readonly kind: "delay"; readonly ms: number }
  /** forward the answer at no more than this many bytes a second (a CI runner's network) */
  | { readonly kind: "throttle"; readonly bytesPerSecond: number }
  /**
   * a hostile server: a 200 whose body never ends, as fast as the client reads it or at
   * `bytesPerSecond` (a trickle that never leaves a connection idle); until the client hangs up
   */
  | {
      readonly kind: "endless";
      readonly headers?: Record<string, string>;
      readonly bytesPerSecond?: number;
      /** the status it answers with (default 200; a 500 whose error text never ends) */
      readonly status?: number;
    }
  /** a hostile server: the status line and headers sent a byte at a time, never finished (never idle either) */
  | { readonly kind: "slow-headers"; readonly bytesPerSecond: number }
  /**
   * a hostile registry: the real answer, its body replaced by `body(real)` and/or its
   * Docker-Content-Digest announced as `digest` (see FaultProxy.forge: for prepull's requests only)
   */
  | { readonly kind: "forge"; readonly body?: (real: Buffer) => Buffer; readonly digest?: string }
  /** answer a redirect to `location` (a URL on another host, or a path) */
  | { readonly kind: "redirect"; readonly location: string; readonly status?: number };

/** prepull's own requests (its User-Agent), not the engine's (`docker/…`) */
const PREPULL_AGENT = /^prepull/;

export interface FaultRule {
  readonly method?: string;
  /** only requests whose User-Agent matches (e.g. the engine's, not prepull's own probes) */
  readonly agent?: RegExp;
  readonly path: RegExp;
  /** absent: forward, adding `addHeaders` */
  readonly fault?: Fault;
  /** how many matching requests get the fault (default: all) */
  times?: number;
  /** extra headers added to forwarded answers for matching requests (e.g. quota headers) */
  readonly addHeaders?: Record<string, string>;
}

export interface LoggedRequest {
  readonly method: string;
  readonly path: string;
  readonly fault?: string;
  status?: number;
  /** request headers, for auth assertions */
  readonly headers: IncomingMessage["headers"];
  /** which client connection carried it (1, 2, …): keep-alive shows as one number */
  readonly connection: number;
  /** request body bytes forwarded (an upload's size) */
  bytesUp?: number;
}

export class FaultProxy {
  readonly requests: LoggedRequest[] = [];
  /** body bytes that passed through: requests (uploads) and forwarded answers (downloads) */
  readonly bytes = { up: 0, down: 0 };
  private rules: FaultRule[] = [];
  /** rewrites every forwarded answer's headers (e.g. Quay's two-challenge WWW-Authenticate) */
  rewriteHeaders?: ((headers: IncomingMessage["headers"]) => IncomingMessage["headers"]) | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly connectionIds = new WeakMap<Socket, number>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
    private readonly target: { host: string; port: number; tls: boolean },
    private readonly hostName = "127.0.0.1",
    /** with `tls`: the proxy's certificate, to trust where it is reached by a name */
    readonly certFile?: string,
  ) {}

  /**
   * `tls`: the proxy speaks HTTPS (a self-signed certificate for 127.0.0.1), as GHCR and Docker
   * Hub do; it still forwards to its target over plain HTTP.
   */
  /** `targetTls`: the registry behind speaks HTTPS (its self-signed certificate accepted). */
  /** `hostName`: with `tls`, reached by that name (its certificate holds it; net.ts addHostNames). */
  static async start(targetHost: string, options: { tls?: boolean; targetTls?: boolean; hostName?: string } = {}): Promise<FaultProxy> {
    const [host = "127.0.0.1", targetPort = "80"] = targetHost.split(":");
    let server: Server;
    let certFile: string | undefined;
    if (options.tls) {
      const names = options.hostName ? [options.hostName] : [];
      const { cert, key } = tlsCertificate(mkdtempSync(join(tmpdir(), "prepull-fault-proxy-")), names);
      certFile = cert;
      server = createHttpsServer({ cert: readFileSync(cert), key: readFileSync(key) }) as unknown as Server;
    } else server = createServer();
    let connections = 0;
    const port = await listenOnLoopback(server);
    const proxy = new FaultProxy(
      server,
      port,
      { host, port: Number(targetPort), tls: options.targetTls ?? false },
      options.hostName,
      certFile,
    );
    server.on("request", (req, res) => proxy.handle(req, res));
    // Requests arrive on the TLS socket, not on the TCP connection beneath it.
    server.on(options.tls ? "secureConnection" : "connection", (socket: Socket) => {
      proxy.sockets.add(socket);
      proxy.connectionIds.set(socket, ++connections);
      socket.on("close", () => proxy.sockets.delete(socket));
    });
    return proxy;
  }

  get host(): string {
    return `${this.hostName}:${this.port}`;
  }

  addRule(rule: FaultRule): this {
    this.rules.push({ ...rule });
    return this;
  }

  /**
   * The hostile registry mode: what prepull is shown (its HEADs and GETs) is forged, what the
   * engine pulls is the registry's real content, so a check that trusts what it is shown lets
   * other content land than the one it checked.
   */
  forge(rule: { method?: string; path: RegExp; body?: (real: Buffer) => Buffer; digest?: string; times?: number }): this {
    const { body, digest, ...match } = rule;
    return this.addRule({ ...match, agent: PREPULL_AGENT, fault: { kind: "forge", ...(body && { body }), ...(digest && { digest }) } });
  }

  /**
   * The engine's next manifest request (`times` of them) refused with a 401 and the registry's own
   * challenge, as a token that expired during a pull is (the engine then asks `tokens` itself).
   */
  refuseEngineToken(tokens: { readonly realm: string; readonly service: string }, times = 1): this {
    return this.addRule({
      agent: /^docker\//,
      path: /\/manifests\//,
      times,
      fault: {
        kind: "status",
        status: 401,
        headers: { "www-authenticate": `Bearer realm="${tokens.realm}",service="${tokens.service}"`, "content-type": "application/json" },
        body: '{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}',
      },
    });
  }

  clearRules(): void {
    this.rules = [];
  }

  /** Requests whose method and path match. */
  count(method: string | undefined, path: RegExp): number {
    return this.requests.filter((r) => (method === undefined || r.method === method) && path.test(r.path)).length;
  }

  resetLog(): void {
    this.requests.length = 0;
    this.bytes.up = 0;
    this.bytes.down = 0;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    if (this.certFile) rmSync(dirname(this.certFile), { recursive: true, force: true });
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const method = req.method ?? "GET";
    const path = req.url ?? "/";
    const agent = String(req.headers["user-agent"] ?? "");
    const rule = this.rules.find(
      (r) =>
        (r.method === undefined || r.method === method) &&
        r.path.test(path) &&
        (r.agent === undefined || r.agent.test(agent)) &&
        (r.times === undefined || r.times > 0),
    );
    const fault = rule?.fault;
    const connection = this.connectionIds.get(req.socket) ?? 0;
    const entry: LoggedRequest = { method, path, headers: req.headers, connection, ...(fault && { fault: fault.kind }) };
    this.requests.push(entry);
    if (rule?.times !== undefined) rule.times--;
    if (fault?.kind === "status") {
      req.resume();
      entry.status = fault.status;
      res.writeHead(fault.status, { "content-type": "application/json", ...fault.headers });
      res.end(fault.body ?? "");
      return;
    }
    if (fault?.kind === "endless") {
      req.resume();
      entry.status = fault.status ?? 200;
      this.endless(res, fault.headers ?? {}, fault.bytesPerSecond, entry.status);
      return;
    }
    if (fault?.kind === "slow-headers") {
      req.resume();
      const socket = req.socket;
      const text = `HTTP/1.1 200 OK\r\nX-Slow: ${"a".repeat(10_000)}`;
      let sent = 0;
      const drip = setInterval(() => {
        if (socket.destroyed || sent >= text.length) return clearInterval(drip);
        socket.write(text[sent++] ?? "");
      }, 1000 / fault.bytesPerSecond);
      socket.on("close", () => clearInterval(drip));
      return;
    }
    if (fault?.kind === "redirect") {
      req.resume();
      entry.status = fault.status ?? 307;
      res.writeHead(entry.status, { location: fault.location, "content-length": "0" }).end();
      return;
    }
    if (fault?.kind === "reset") {
      req.socket.destroy();
      return;
    }
    if (fault?.kind === "stall") {
      req.resume();
      if (fault.ms !== undefined) setTimeout(() => req.socket.destroy(), fault.ms).unref();
      return;
    }
    if (fault?.kind === "delay") {
      req.pause();
      setTimeout(() => this.forward(req, res, entry, rule), fault.ms);
      return;
    }
    this.forward(req, res, entry, rule);
  }

  /** Body bytes sent by `endless` answers until their clients hung up. */
  endlessBytes = 0;

  private endless(res: ServerResponse, headers: Record<string, string>, bytesPerSecond: number | undefined, status = 200): void {
    res.writeHead(status, { "content-type": "application/vnd.oci.image.manifest.v1+json", ...headers });
    const chunk = Buffer.alloc(bytesPerSecond === undefined ? 64 * 1024 : 1, 0x20);
    let timer: NodeJS.Timeout | undefined;
    const send = () => {
      if (res.destroyed) return;
      this.endlessBytes += chunk.length;
      if (bytesPerSecond !== undefined) {
        res.write(chunk);
        timer = setTimeout(send, 1000 / bytesPerSecond);
      } else if (res.write(chunk)) setImmediate(send);
      else res.once("drain", send);
    };
    res.on("close", () => clearTimeout(timer));
    send();
  }

  /** Bodies and digests forged, per request. */
  forgedCount = 0;

  private forged(
    answer: IncomingMessage,
    res: ServerResponse,
    headers: IncomingMessage["headers"],
    fault: Extract<Fault, { kind: "forge" }>,
  ): void {
    const chunks: Buffer[] = [];
    answer.on("data", (chunk: Buffer) => chunks.push(chunk));
    answer.on("end", () => {
      const real = Buffer.concat(chunks);
      const status = answer.statusCode ?? 502;
      const forgeable = status === 200;
      const body = forgeable && fault.body && res.req.method !== "HEAD" ? fault.body(real) : real;
      if (forgeable) this.forgedCount++;
      const out = {
        ...headers,
        ...(forgeable && fault.digest && { "docker-content-digest": fault.digest }),
        ...(res.req.method !== "HEAD" && { "content-length": String(body.length) }),
      };
      res.writeHead(status, out);
      res.end(res.req.method === "HEAD" ? undefined : body);
    });
  }

  private forward(req: IncomingMessage, res: ServerResponse, entry: LoggedRequest, rule: FaultRule | undefined): void {
    const { method, path } = entry;
    const fault = rule?.fault;
    // Behind TLS, as a load balancer says so: the registry then names https in an upload's Location.
    const headers = "encrypted" in req.socket ? { ...req.headers, "x-forwarded-proto": "https" } : req.headers;
    const target = { host: this.target.host, port: this.target.port, method, path, headers };
    const send = this.target.tls
      ? (onAnswer: (answer: IncomingMessage) => void) => httpsRequest({ ...target, rejectUnauthorized: false }, onAnswer)
      : (onAnswer: (answer: IncomingMessage) => void) => request(target, onAnswer);
    const upstream = send((answer) => {
      entry.status = answer.statusCode ?? 0;
      const headers = { ...answer.headers, ...(rule?.addHeaders ?? {}) };
      if (fault?.kind === "forge") {
        this.forged(answer, res, headers, fault);
        return;
      }
      res.writeHead(answer.statusCode ?? 502, this.rewriteHeaders ? this.rewriteHeaders(headers) : headers);
      if (fault?.kind === "truncate") {
        let left = fault.bytes ?? 1024;
        answer.on("data", (chunk: Buffer) => {
          if (left <= 0) return;
          res.write(chunk.subarray(0, left));
          left -= chunk.length;
          if (left <= 0) {
            answer.destroy();
            // Give the partial body a moment to leave, then cut.
            setTimeout(() => req.socket.destroy(), 50);
          }
        });
        answer.on("end", () => res.end());
        return;
      }
      answer.on("data", (chunk: Buffer) => {
        this.bytes.down += chunk.length;
      });
      if (fault?.kind === "throttle") {
        const started = Date.now();
        let sent = 0;
        answer.on("data", (chunk: Buffer) => {
          sent += chunk.length;
          res.write(chunk);
          const ahead = (sent / fault.bytesPerSecond) * 1000 - (Date.now() - started);
          if (ahead > 0) {
            answer.pause();
            setTimeout(() => answer.resume(), ahead);
          }
        });
        answer.on("end", () => res.end());
        return;
      }
      answer.pipe(res);
    });
    upstream.on("error", () => req.socket.destroy());
    req.on("data", (chunk: Buffer) => {
      this.bytes.up += chunk.length;
      entry.bytesUp = (entry.bytesUp ?? 0) + chunk.length;
    });
    req.pipe(upstream);
  }
}
