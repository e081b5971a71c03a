// The small HTTP pieces of the registry client: request bodies, header values, where a token
// may go, scope and cache keys, reading or draining an answer (bounded in size and time), and
// a deadline for an answer's headers.
import type { IncomingMessage, OutgoingHttpHeaders, RequestOptions } from "node:http";
import type { HttpClientResponse } from "@actions/http-client";
import type { RequestHandler } from "@actions/http-client/lib/interfaces";
import { isLoopback, type Reference } from "../resolve/reference.js";
import type { Challenge, Credential } from "./auth.js";

/** How long a registry request waits for its answer to begin, and to go on (DESIGN.md: of the order of 15 s). */
export const ANSWER_TIMEOUT_MS = 15_000;

/**
 * http-client sends strings and streams; a Buffer (manifest bytes, which are JSON and so
 * UTF-8) goes as its string only when that string is exactly the same bytes again.
 */
export function requestData(body: Buffer | NodeJS.ReadableStream | undefined): string | NodeJS.ReadableStream | null {
  if (body === undefined) return null;
  if (!Buffer.isBuffer(body)) return body;
  const text = body.toString("utf8");
  if (!Buffer.from(text, "utf8").equals(body)) throw new Error("request body is not UTF-8; it cannot be sent byte for byte");
  return text;
}

/** github-token goes to GitHub's token endpoint or to this machine, never to a third party's realm. */
export function tokenMayGoTo(realm: string | undefined): boolean {
  if (!realm) return false;
  try {
    const host = new URL(realm).host;
    return host === "ghcr.io" || isLoopback(host);
  } catch {
    return false;
  }
}

/**
 * Credentials belong to a registry host, and go to the token realm its own challenge names
 * only over HTTPS, or over plain HTTP where the registry itself is a plain-HTTP one on this
 * machine and so is the realm (the wire never leaves the host).
 */
export function credentialsMayGoTo(realm: string | undefined, registry: string, registryScheme: "http" | "https" | undefined): boolean {
  let url: URL;
  try {
    url = new URL(realm ?? "");
  } catch {
    return false;
  }
  if (url.protocol === "https:") return true;
  return url.protocol === "http:" && registryScheme === "http" && isLoopback(registry) && isLoopback(url.host);
}

export function pullScope(ref: Reference | string): string {
  return `repository:${typeof ref === "string" ? ref : ref.path}:pull`;
}

export function pushScope(ref: Reference): string {
  return `repository:${ref.path}:pull,push`;
}

export function tokenKey(registry: string, scopes: readonly string[]): string {
  return `${registry} ${[...scopes].sort().join(" ")}`;
}

export function basicHeader(identity: Credential): string {
  return `Basic ${Buffer.from(`${identity.username}:${identity.password}`).toString("base64")}`;
}

export function headerText(value: string | string[] | undefined): string {
  return Array.isArray(value) ? value.join(", ") : (value ?? "");
}

/** No HTTP answer, or not a whole one: reset, refused, DNS, silence past the timeout, a body cut short. Transient. */
export class NetworkError extends Error {
  override name = "NetworkError";
}

/** An answer longer than any honest one of its kind (a hostile or broken server): final for that source. */
export class AnswerTooLarge extends Error {
  override name = "AnswerTooLarge";
}

/**
 * Upper bounds on answers read whole, as containers/image's iolimits has them: registries
 * refuse manifests over 4 MiB, and a token or an error is far smaller than 1 MiB.
 */
export const ANSWER_LIMITS = { manifest: 4 * 2 ** 20, small: 2 ** 20 } as const;

export interface ReadLimits {
  /** bytes; more fails with AnswerTooLarge */
  readonly limit: number;
  /** the whole body must have come by then (a server that trickles a byte at a time never trips an idle timeout) */
  readonly deadlineMs: number;
  /** names the answer in errors */
  readonly what: string;
}

/**
 * An answer's body, whole and bounded. http-client's own readers wait for an `end` that never
 * comes when the connection closes mid-body, and hold whatever a server sends: here a body cut
 * short, or not finished by the deadline, is a NetworkError (retried like `unexpected EOF`),
 * and one over the limit is AnswerTooLarge; either way the connection is closed.
 */
export function readAnswer(message: IncomingMessage, { limit, deadlineMs, what }: ReadLimits): Promise<Buffer> {
  // Read to its end already (a refusal drained before the next identity was tried, and then the
  // answer returned when the token endpoint refused that identity): no `end` will come again.
  if (message.readableEnded) return Promise.resolve(Buffer.alloc(0));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (error?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (!error) return resolve(Buffer.concat(chunks));
      message.destroy();
      reject(error);
    };
    const timer = setTimeout(
      () => settle(new NetworkError(`${what}: the answer was not whole after ${deadlineMs / 1000} s (${size} bytes)`)),
      deadlineMs,
    );
    message.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) settle(new AnswerTooLarge(`${what}: the answer is over ${limit / 2 ** 20} MiB, more than any honest one`));
      else chunks.push(chunk);
    });
    message.on("end", () => settle());
    message.on("error", (error) => settle(new NetworkError(`${what}: the answer was cut short after ${size} bytes (${error.message})`)));
    // A connection closed mid-body: no `end`, and not always an `error`.
    message.on("close", () =>
      settle(message.complete ? undefined : new NetworkError(`${what}: the answer was cut short after ${size} bytes (unexpected EOF)`)),
    );
  });
}

/** Carries a request's id from `within` to `prepareRequest`, which removes it before anything is sent. */
const DEADLINE_HEADER = "x-prepull-deadline";

/**
 * A deadline for an answer's status and headers. http-client's socket timeout is an idle
 * timeout, which a server sending its headers a byte at a time never trips; node's `signal`
 * on a request ends it whatever still arrives. http-client takes no signal, so this request
 * handler, which sees every request's options (a redirect's too), puts it there.
 */
export class HeaderDeadlines implements RequestHandler {
  private readonly pending = new Map<string, AbortSignal>();
  private next = 0;

  constructor(readonly ms: number) {}

  /** `send` with these headers, under the deadline until its answer's headers have come. */
  async within<T>(headers: Record<string, string>, send: (headers: Record<string, string>) => Promise<T>): Promise<T> {
    const id = String(++this.next);
    const controller = new AbortController();
    // Settles at the deadline even where http-client itself would not (it reads a redirect's body with no end in sight).
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new NetworkError(`no answer within ${this.ms / 1000} s`));
        controller.abort();
      }, this.ms);
    });
    this.pending.set(id, controller.signal);
    try {
      // The deadline rejects before it aborts, so the race ends with its reason, not the abort's.
      return await Promise.race([send({ ...headers, [DEADLINE_HEADER]: id }), deadline]);
    } finally {
      clearTimeout(timer);
      this.pending.delete(id);
    }
  }

  prepareRequest(options: RequestOptions): void {
    const headers = options.headers as OutgoingHttpHeaders | undefined;
    const id = headers?.[DEADLINE_HEADER];
    if (!headers || typeof id !== "string") return;
    delete headers[DEADLINE_HEADER];
    const signal = this.pending.get(id);
    if (signal) options.signal = signal;
  }

  canHandleAuthentication(): boolean {
    return false;
  }

  handleAuthentication(): Promise<HttpClientResponse> {
    return Promise.reject(new Error("not an authentication handler"));
  }
}

/** Go's TLS server answering plain HTTP: a bare HTTP/1.0 400 ("Client sent an HTTP request to an HTTPS server"), no registry headers. */
export function wantsTls(response: HttpClientResponse): boolean {
  const { statusCode, httpVersion, headers } = response.message;
  return statusCode === 400 && httpVersion === "1.0" && headers["docker-distribution-api-version"] === undefined;
}

/** Reads an answer nobody needs to its end, so its keep-alive connection is reused; a long or broken one is closed instead. */
export async function drain(response: HttpClientResponse, deadlineMs: number): Promise<void> {
  await readAnswer(response.message, { limit: ANSWER_LIMITS.small, deadlineMs, what: "an answer read to its end" }).catch(() => undefined);
}

/**
 * Who is asked, in order: the user's own credentials (the engine uses them too), then
 * anonymous access, then github-token, which DESIGN.md keeps for where anonymous access is
 * refused (private packages). A public image thus never needs the token in the engine.
 * github-token goes only to a token realm it may go to; Basic challenges have no anonymous try.
 */
export function identitiesInOrder(
  identities: readonly Credential[],
  bearer: Challenge | undefined,
  realmTakes: (realm: string | undefined) => boolean,
): (Credential | undefined)[] {
  // A realm that may not have them (plain HTTP, unless the registry is a plain-HTTP one on this machine) gets anonymous access only.
  const allowed = !bearer || realmTakes(bearer.params.realm) ? identities : [];
  const github = allowed.filter((c) => c.from === "github-token" && (!bearer || tokenMayGoTo(bearer.params.realm)));
  const own = allowed.filter((c) => c.from !== "github-token");
  return [...own, ...(bearer ? [undefined] : []), ...github];
}

export const REDIRECTS = new Set([301, 302, 303, 307, 308]);
export const MAX_REDIRECTS = 10;
