// A small OCI distribution client over @actions/http-client. Written here because no npm
// registry client fits an Action bundle: the ones there pull in Docker's daemon API, or
// skip the multi-challenge parsing, GHCR's token fallback and Hub's quota headers.
import type { IncomingHttpHeaders } from "node:http";
import { HttpClient, type HttpClientResponse } from "@actions/http-client";
import { isLoopback, type Reference } from "../resolve/reference.js";
import { type Challenge, type Credential, type Credentials, parseChallenges } from "./auth.js";
import {
  ANSWER_LIMITS,
  ANSWER_TIMEOUT_MS,
  basicHeader,
  credentialsMayGoTo,
  drain,
  HeaderDeadlines,
  headerText,
  identitiesInOrder,
  MAX_REDIRECTS,
  NetworkError,
  pullScope,
  REDIRECTS,
  readAnswer,
  requestData,
  tokenKey,
  wantsTls,
} from "./http.js";
import { MANIFEST_ACCEPT } from "./manifests.js";
import { type CachedToken, fetchToken } from "./token.js";

export { headerText, NetworkError, pullScope } from "./http.js";
export { RegistryAuthError } from "./token.js";

export interface RegistryResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/**
 * Where a registry's API lives, for a scheme. Registries on this machine are "insecure" to
 * the engine (HTTPS without verifying the certificate, or plain HTTP); the client below finds
 * which one a loopback registry speaks, so a loopback cache and a loopback TLS registry both work.
 */
export function registryBaseUrl(registry: string, scheme: "https" | "http" = "https"): string {
  if (registry === "docker.io") return "https://registry-1.docker.io";
  return `${scheme}://${registry}`;
}

export interface RequestOptions {
  readonly headers?: Record<string, string>;
  readonly body?: Buffer | NodeJS.ReadableStream;
  /** repository scopes, e.g. `repository:library/alpine:pull` */
  readonly scopes: readonly string[];
  /** leave the body unread (blob streams) */
  readonly stream?: boolean;
}

export class RegistryClient {
  /**
   * One keep-alive client per kind of connection: http-client keeps one agent per client,
   * made for the scheme of its first request, so one client for both schemes fails every
   * plain-HTTP request after the first HTTPS one ("Protocol http: not supported").
   */
  private readonly clients: Record<"http" | "https" | "httpsLoopback", HttpClient>;
  /** the scheme that answered, per loopback registry */
  private readonly schemes = new Map<string, "https" | "http">();
  private readonly closing = new AbortController();
  private readonly tokens = new Map<string, CachedToken>();
  /** registries that answered with a Basic challenge: send Basic credentials directly */
  private readonly basic = new Map<string, Credential>();
  /** registries where github-token is what got access (the engine needs it there too) */
  readonly githubTokenRegistries = new Set<string>();
  /** the origin whose answer each response is, after redirects */
  private readonly answeredBy = new WeakMap<HttpClientResponse, string>();

  /** every request's answer must begin within timeoutMs, as it must go on within it (the socket timeout) */
  private readonly deadlines: HeaderDeadlines;

  constructor(
    readonly credentials: Credentials,
    readonly timeoutMs = ANSWER_TIMEOUT_MS,
  ) {
    this.deadlines = new HeaderDeadlines(timeoutMs);
    const make = (ignoreSslError: boolean) =>
      new HttpClient("prepull", [this.deadlines], {
        socketTimeout: timeoutMs,
        allowRetries: false,
        // Followed in `send`, where the host that answered is known (credentials go to their own host only).
        allowRedirects: false,
        keepAlive: true,
        ignoreSslError,
      });
    this.clients = { http: make(false), https: make(false), httpsLoopback: make(true) };
  }

  /** Aborted by dispose(): retries of this client's requests stop (nothing holds the process at the end of a run). */
  get signal(): AbortSignal {
    return this.closing.signal;
  }

  dispose(): void {
    this.closing.abort();
    for (const client of Object.values(this.clients)) client.dispose();
  }

  /** The registry's base URL as far as known: a loopback registry's scheme is learnt on first contact. */
  baseUrl(registry: string): string {
    return registryBaseUrl(registry, this.schemes.get(registry) ?? "https");
  }

  /** The client for a URL: verified HTTPS everywhere but on this machine (as the engine does). */
  private clientFor(url: string): HttpClient {
    const parsed = new URL(url);
    if (parsed.protocol === "http:") return this.clients.http;
    return isLoopback(parsed.host) ? this.clients.httpsLoopback : this.clients.https;
  }

  /** Sends a request, answering auth challenges as the engine does. Throws NetworkError when there is no HTTP answer. */
  async request(method: string, registry: string, path: string, options: RequestOptions): Promise<HttpClientResponse> {
    const { response: first, url } = await this.first(method, registry, path, options);
    if (first.message.statusCode !== 401) return first;
    // Only the registry's own challenge is answered: a 401 from a host the request was redirected to gets none of its credentials.
    if (this.answeredBy.get(first) !== new URL(this.baseUrl(registry)).origin) return first;
    const challenges = parseChallenges(headerText(first.message.headers["www-authenticate"]));
    const bearer = challenges.find((c) => c.scheme.toLowerCase() === "bearer");
    const basic = challenges.find((c) => c.scheme.toLowerCase() === "basic");
    if (!bearer && !basic) return first;
    if (options.body && typeof (options.body as NodeJS.ReadableStream).pipe === "function") return first; // a stream cannot be sent twice
    await drain(first, this.timeoutMs);
    let last: HttpClientResponse = first;
    const candidates = identitiesInOrder(await this.credentials.for(registry), bearer, (realm) =>
      credentialsMayGoTo(realm, registry, this.schemes.get(registry)),
    );
    // The tokens of the user's own identities and of anonymous access are asked at once (a
    // refused one then costs no extra round trip); github-token's only when all of those were
    // refused, so a public image never sends it. Only the identity that worked is kept.
    const tokens: Promise<CachedToken | undefined>[] = [];
    const tokenOf = (challenge: Challenge, i: number) => {
      if (!tokens[i]) {
        const get = (url: string, headers: Record<string, string>) =>
          this.deadlines.within(headers, (bounded) => this.clientFor(url).get(url, bounded));
        tokens[i] = fetchToken(get, this.timeoutMs, challenge, registry, options.scopes, candidates[i]);
        tokens[i].catch(() => undefined);
      }
      return tokens[i];
    };
    for (const [i, identity] of candidates.entries()) if (bearer && identity?.from !== "github-token") tokenOf(bearer, i);
    for (const [i, identity] of candidates.entries()) {
      const token = bearer ? await tokenOf(bearer, i) : undefined;
      if (bearer && token === undefined) continue; // the token endpoint refused these credentials
      const header = token ? `Bearer ${token.value}` : identity ? basicHeader(identity) : undefined;
      last = await this.send(method, url, options, header);
      const status = last.message.statusCode ?? 0;
      // Stale stored credentials can refuse what anonymous access allows: try the next identity.
      if (status !== 401 && status !== 403) {
        if (token) this.tokens.set(tokenKey(registry, options.scopes), token);
        else if (identity) this.basic.set(registry, identity);
        if (identity?.from === "github-token") this.githubTokenRegistries.add(registry);
        return last;
      }
      if (i === candidates.length - 1) return last;
      await drain(last, this.timeoutMs);
    }
    return last;
  }

  /** A request whose body is read: the common case. */
  async call(method: string, registry: string, path: string, options: RequestOptions): Promise<RegistryResponse> {
    const response = await this.request(method, registry, path, options);
    // A HEAD's answer (no body) is read to its end too: only then does its keep-alive connection
    // go back to the pool; otherwise the next request opens another, over HTTPS with a handshake.
    // What is read whole here is a manifest at most (blobs are streamed by `request`).
    const body = await readAnswer(response.message, {
      limit: ANSWER_LIMITS.manifest,
      deadlineMs: this.timeoutMs,
      what: `${method} ${registry}${path}`,
    });
    return { status: response.message.statusCode ?? 0, headers: response.message.headers, body };
  }

  headManifest(ref: Reference, selector: string): Promise<RegistryResponse> {
    return this.call("HEAD", ref.registry, `/v2/${ref.path}/manifests/${selector}`, {
      headers: { Accept: MANIFEST_ACCEPT },
      scopes: [pullScope(ref)],
    });
  }

  getManifest(ref: Reference, selector: string): Promise<RegistryResponse> {
    return this.call("GET", ref.registry, `/v2/${ref.path}/manifests/${selector}`, {
      headers: { Accept: MANIFEST_ACCEPT },
      scopes: [pullScope(ref)],
    });
  }

  /** The Authorization header a request for these scopes would carry now; a token only with `minLifeMs` left to live. */
  authHeader(registry: string, scopes: readonly string[], minLifeMs = 0): string | undefined {
    const cached = this.tokens.get(tokenKey(registry, scopes));
    if (cached && cached.expires - Date.now() > minLifeMs) return `Bearer ${cached.value}`;
    const basic = this.basic.get(registry);
    return basic ? basicHeader(basic) : undefined;
  }

  /**
   * The first request to a registry path. A loopback registry whose scheme is not known yet is
   * "insecure" to the engine, which takes HTTPS (unverified) or plain HTTP, whichever answers;
   * prepull asks plain HTTP first and HTTPS when the answer is a TLS server's refusal. The
   * scheme that answered is kept for the rest of the run.
   */
  private async first(
    method: string,
    registry: string,
    path: string,
    options: RequestOptions,
  ): Promise<{ response: HttpClientResponse; url: string }> {
    const authorization = this.authHeader(registry, options.scopes);
    const known = this.schemes.get(registry);
    const streamed = options.body !== undefined && !Buffer.isBuffer(options.body);
    if (!isLoopback(registry) || known || streamed) {
      const url = `${registryBaseUrl(registry, known ?? "https")}${path}`;
      return { response: await this.send(method, url, options, authorization), url };
    }
    // Plain HTTP first (a registry service container or a pull-through cache, the usual case on
    // this machine costs nothing extra); a server that answers in TLS's place gets HTTPS.
    let plainFailure: NetworkError | undefined;
    try {
      const url = `${registryBaseUrl(registry, "http")}${path}`;
      const response = await this.send(method, url, options, authorization);
      if (!wantsTls(response)) {
        this.schemes.set(registry, "http");
        return { response, url };
      }
      await drain(response, this.timeoutMs);
    } catch (error) {
      if (!(error instanceof NetworkError)) throw error;
      plainFailure = error;
    }
    const url = `${registryBaseUrl(registry, "https")}${path}`;
    try {
      const response = await this.send(method, url, options, authorization);
      this.schemes.set(registry, "https");
      return { response, url };
    } catch (error) {
      // Neither scheme answered: both reasons, the plain one first (a plain server's own
      // trouble would otherwise read as a TLS error).
      if (plainFailure && error instanceof NetworkError) throw new NetworkError(`${plainFailure.message}; then ${error.message}`);
      throw error;
    }
  }

  /**
   * One request, its redirects followed (GET and HEAD: blobs are served from elsewhere). The
   * Authorization goes no further than its own origin (host, port and scheme), never from
   * HTTPS down to HTTP; which origin answered is kept for `request`.
   */
  private async send(method: string, url: string, options: RequestOptions, authorization: string | undefined): Promise<HttpClientResponse> {
    let at = new URL(url);
    let carried = authorization;
    for (let hops = 0; ; hops++) {
      const response = await this.sendOnce(method, at.toString(), options, carried);
      const location = headerText(response.message.headers.location);
      const follow = REDIRECTS.has(response.message.statusCode ?? 0) && location !== "" && (method === "GET" || method === "HEAD");
      if (!follow || hops === MAX_REDIRECTS) {
        this.answeredBy.set(response, at.origin);
        return response;
      }
      await drain(response, this.timeoutMs);
      const next = new URL(location, at);
      if (at.protocol === "https:" && next.protocol !== "https:") {
        throw new NetworkError(`${method} ${at.origin}${at.pathname}: redirected from HTTPS to ${next.origin}, not followed`);
      }
      if (next.origin !== at.origin) carried = undefined;
      at = next;
    }
  }

  private async sendOnce(
    method: string,
    url: string,
    options: RequestOptions,
    authorization: string | undefined,
  ): Promise<HttpClientResponse> {
    const headers: Record<string, string> = { ...options.headers, ...(authorization && { Authorization: authorization }) };
    const data = requestData(options.body);
    const client = this.clientFor(url);
    try {
      // A streamed body is not bounded: its answer comes only once all of it has gone.
      if (typeof data !== "string" && data !== null) return await client.request(method, url, data, headers);
      return await this.deadlines.within(headers, (bounded) => client.request(method, url, data, bounded));
    } catch (error) {
      // One line (OpenSSL's messages end in a newline).
      throw new NetworkError(`${method} ${url}: ${(error as Error).message.replace(/\s+/g, " ").trim()}`);
    }
  }
}
