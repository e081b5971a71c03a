// The token flow of distribution's token spec (Docker Hub, GHCR, Quay and distribution speak
// it): the realm a registry's own challenge names, asked for the scopes a request needs.
import type { HttpClientResponse } from "@actions/http-client";
import * as z from "zod/mini";
import type { Challenge, Credential } from "./auth.js";
import { ANSWER_LIMITS, basicHeader, NetworkError, readAnswer } from "./http.js";

/** A registry's auth flow that cannot work as it stands (a realm that is not a URL, a token that is not JSON): final for that source. */
export class RegistryAuthError extends Error {
  override name = "RegistryAuthError";
}

const TokenSchema = z.object({
  token: z.optional(z.string()),
  access_token: z.optional(z.string()),
  expires_in: z.optional(z.number()),
});

export interface CachedToken {
  readonly value: string;
  readonly expires: number;
}

/**
 * GET realm?service=…&scope=… (distribution's token spec); undefined when the endpoint refuses
 * these credentials. `get` sends the request within the client's header deadline.
 */
export async function fetchToken(
  get: (url: string, headers: Record<string, string>) => Promise<HttpClientResponse>,
  timeoutMs: number,
  challenge: Challenge,
  registry: string,
  scopes: readonly string[],
  identity: Credential | undefined,
): Promise<CachedToken | undefined> {
  const realm = challenge.params.realm;
  if (!realm) return undefined;
  let url: URL;
  try {
    url = new URL(realm);
  } catch {
    throw new RegistryAuthError(`${registry} names a token realm that is not a URL ("${realm.slice(0, 200)}")`);
  }
  if (challenge.params.service) url.searchParams.set("service", challenge.params.service);
  for (const scope of scopes.length > 0 ? scopes : challenge.params.scope ? [challenge.params.scope] : [])
    url.searchParams.append("scope", scope);
  const headers: Record<string, string> = identity ? { Authorization: basicHeader(identity) } : {};
  let response: HttpClientResponse;
  try {
    response = await get(url.toString(), headers);
  } catch (error) {
    throw new NetworkError(`token request to ${url.origin}${url.pathname}: ${(error as Error).message}`);
  }
  const status = response.message.statusCode ?? 0;
  const body = await readAnswer(response.message, {
    limit: ANSWER_LIMITS.small,
    deadlineMs: timeoutMs,
    what: `token request to ${url.origin}${url.pathname}`,
  });
  if (status === 401 || status === 403) return undefined;
  if (status >= 500) throw new NetworkError(`token endpoint ${url.origin}${url.pathname} answered HTTP ${status}`);
  if (status !== 200) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(body.toString("utf8") || "{}");
  } catch {
    throw new RegistryAuthError(`token endpoint ${url.origin}${url.pathname} answered HTTP 200 with a body that is not JSON`);
  }
  const parsed = TokenSchema.safeParse(json);
  const token = parsed.success ? (parsed.data.token ?? parsed.data.access_token) : undefined;
  if (!token) return undefined;
  const seconds = parsed.success ? (parsed.data.expires_in ?? 60) : 60;
  return { value: token, expires: Date.now() + Math.max(10, seconds - 5) * 1000 };
}
