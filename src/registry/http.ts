// The small HTTP pieces of the registry client: request bodies, header values, where a token
// may go, scope and cache keys, and reading or draining an answer.
import type { HttpClientResponse } from "@actions/http-client";
import { isLoopback, type Reference } from "../reference.js";
import type { Credential } from "./auth.js";

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

export function pullScope(ref: Reference): string {
  return `repository:${ref.path}:pull`;
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

export async function readBuffer(response: HttpClientResponse): Promise<Buffer> {
  if (response.readBodyBuffer) return response.readBodyBuffer();
  return Buffer.from(await response.readBody());
}

/** Go's TLS server answering plain HTTP: a bare HTTP/1.0 400 ("Client sent an HTTP request to an HTTPS server"), no registry headers. */
export function wantsTls(response: HttpClientResponse): boolean {
  const { statusCode, httpVersion, headers } = response.message;
  return statusCode === 400 && httpVersion === "1.0" && headers["docker-distribution-api-version"] === undefined;
}

export async function drain(response: HttpClientResponse): Promise<void> {
  await readBuffer(response).catch(() => undefined);
}
