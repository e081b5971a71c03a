// The retry policy, pure and in one place: how a registry's HTTP answer or the engine's error
// text is classified (worth retrying the same source, or not), and how long to wait.
import type { IncomingHttpHeaders } from "node:http";
import { headerText } from "../registry/http.js";

/**
 * - `transient`: worth retrying the same source (5xx, resets, EOF, timeouts, a throttling 429).
 * - `permanent`: this source will not serve the image; try the next one at once.
 * - `rate-limited`: Docker Hub's pull quota is spent; the window is hours, so never a quick
 *   retry: the next source at once.
 */
export type ErrorClass = "transient" | "permanent" | "rate-limited";

export interface Classified {
  readonly errorClass: ErrorClass;
  /** short name of the matched condition, for logs and `reason` */
  readonly label: string;
  /** seconds the server asked us to wait, where it said */
  readonly retryAfter?: number;
}

export interface Quota {
  readonly remaining: number;
  readonly limit?: number;
  readonly windowSeconds?: number;
}

export function quotaText(quota: Quota): string {
  const window = quota.windowSeconds ? ` per ${quota.windowSeconds / 3600} h` : "";
  return `${quota.remaining}${quota.limit !== undefined ? ` of ${quota.limit}` : ""} pulls left${window}`;
}

/** Docker Hub's `ratelimit-limit: 100;w=21600` and `ratelimit-remaining: 76;w=21600`; undefined when absent. */
export function parseQuota(headers: IncomingHttpHeaders): Quota | undefined {
  const remaining = headerText(headers["ratelimit-remaining"]).match(/^\s*(\d+)(?:;w=(\d+))?/);
  if (!remaining) return undefined;
  const limit = headerText(headers["ratelimit-limit"]).match(/^\s*(\d+)/);
  return {
    remaining: Number(remaining[1]),
    ...(limit && { limit: Number(limit[1]) }),
    ...(remaining[2] !== undefined && { windowSeconds: Number(remaining[2]) }),
  };
}

/**
 * The one rule for "too many requests", from an HTTP 429 or the engine's `toomanyrequests`:
 * GHCR's throttle states `retry-after: 2s, allowed: 44000/minute` (whatever host fronts it,
 * lscr.io does), and any registry's 429 from ghcr.io, or one that neither is Docker Hub's nor
 * says the pull quota is spent, is a short throttle: wait as asked, then retry. Docker Hub's
 * (by host, by a spent `ratelimit-remaining`, or by its "pull rate limit" text relayed
 * through a cache) is a quota whose window is hours: next source at once, never retried.
 */
function tooManyRequests(registry: string, text: string, quota?: Quota, retryAfterHeader?: number): Classified {
  const stated = text.match(/retry-after:\s*([\d.]+)\s*(ms|s|m)?\b[^\n]*?allowed:\s*\d+\s*\/\s*(minute|second|hour)/i);
  if (stated) {
    const value = Number(stated[1]);
    const seconds = stated[2] === "ms" ? value / 1000 : stated[2] === "m" ? value * 60 : value;
    return { errorClass: "transient", label: "throttled (429)", retryAfter: seconds };
  }
  if (registry === "ghcr.io") return { errorClass: "transient", label: "throttled (429)", ...retryAfterOf(retryAfterHeader) };
  const hubQuota = registry === "docker.io" || quota?.remaining === 0 || /pull rate limit|increase-rate-limit/i.test(text);
  if (hubQuota) return { errorClass: "rate-limited", label: "Docker Hub pull quota spent" };
  return { errorClass: "transient", label: "throttled (429)", ...retryAfterOf(retryAfterHeader) };
}

const retryAfterOf = (seconds: number | undefined) => (seconds === undefined ? {} : { retryAfter: seconds });

/** The `errors[]` of a registry's JSON error body, as `CODE: message` text ("" when there are none). */
export function registryErrorText(body: Buffer | string): string {
  try {
    const parsed = JSON.parse(body.toString()) as { errors?: { code?: unknown; message?: unknown }[] };
    if (!Array.isArray(parsed.errors)) return "";
    return parsed.errors
      .map((e) => [e?.code, e?.message].filter((part) => typeof part === "string" && part !== "").join(": "))
      .filter(Boolean)
      .join("; ")
      .slice(0, 500);
  } catch {
    return "";
  }
}

/**
 * Classifies a registry's HTTP answer that is not a success: 404/410 and 401/403 are answers
 * (permanent for this source), 408 and 5xx are transient, a 429 goes through the one rule above.
 */
export function classifyHttp(
  status: number,
  registry: string,
  headers: IncomingHttpHeaders = {},
  body: Buffer | string = "",
  now: number = Date.now(),
): Classified {
  if (status === 429) {
    return tooManyRequests(
      registry,
      registryErrorText(body),
      parseQuota(headers),
      parseRetryAfter(headerText(headers["retry-after"]), now),
    );
  }
  if (status === 404 || status === 410) return { errorClass: "permanent", label: "not found" };
  if (status === 401) return { errorClass: "permanent", label: "unauthorized" };
  if (status === 403) return { errorClass: "permanent", label: "access denied" };
  if (status === 408 || status >= 500) {
    return {
      errorClass: "transient",
      label: `server error (HTTP ${status})`,
      ...retryAfterOf(parseRetryAfter(headerText(headers["retry-after"]), now)),
    };
  }
  return { errorClass: "permanent", label: `unexpected HTTP ${status}` };
}

/** Lines of progress that say nothing about a failure (docker's `<id>: Pulling fs layer`, podman's `Copying blob …`). */
const PROGRESS_LINE =
  /^\s*(?:[a-f0-9]{12}: |Copying (?:blob|config) |Writing manifest|Storing signatures|Getting image source signatures|Trying to pull |Digest: |Status: |[\w.-]+: Pulling from )/;

/**
 * The engine's message with what is not about the failure removed: progress lines, the image
 * references it names (`…/timeout-tool:1` is not a timeout, `code-server:4.5.500` not a 5xx),
 * URLs, digests and other long hexadecimal runs (a digest holds `404` about 4.5 % of the time).
 */
export function failureText(message: string, references: readonly string[] = []): string {
  let text = message
    .split(/\r\n|\r|\n/)
    .filter((line) => !PROGRESS_LINE.test(line))
    .join("\n");
  for (const ref of [...references].sort((a, b) => b.length - a.length)) if (ref) text = text.split(ref).join(" <ref> ");
  return text
    .replace(/"?https?:\/\/[^\s"]+"?/g, " <url> ")
    .replace(/\b(?:sha256|sha384|sha512):[a-f0-9]+/gi, " <digest> ")
    .replace(/\b[a-f0-9]{12,}\b/gi, " <hex> ")
    .replace(/(?:[a-z0-9.-]+(?::\d+)?\/)?[a-z0-9._-]+(?:\/[a-z0-9._-]+)+(?::[\w][\w.-]{0,127})?/gi, " <ref> ")
    .replace(/\b[a-z0-9._-]+:[\w][\w.-]*\.[\w.-]*\b/gi, (m) => (/^[a-z][a-z0-9._-]*:\d+(?:\.\d+)+$/i.test(m) ? " <ref> " : m));
}

/** Conditions no retry of this source changes, whatever else the message says. */
const DEFINITE_PERMANENT: readonly [RegExp, string][] = [
  [/\bx509: |certificate signed by unknown authority|certificate is not valid|certificate has expired/i, "TLS certificate refused"],
  [/server gave HTTP response to HTTPS client/i, "registry speaks plain HTTP"],
  [/\bunknown blob\b|\bblob unknown\b/i, "registry lacks a blob (incomplete copy)"],
  [/schema ?1|manifest v2 schema 1|Docker Image Format v1/i, "schema-1 manifest refused"],
  [/no basic auth credentials/i, "no credentials"],
  [/max depth exceeded/i, "image too deep for the engine (max depth exceeded)"],
  [
    /no matching manifest|does not match the specified platform|no image found in (?:manifest list|image index) for architecture/i,
    "no matching platform",
  ],
  [/invalid reference format|invalid reference|repository name must be lowercase/i, "invalid reference"],
  [/no space left on device/i, "no space left on device"],
];

const TRANSIENT: readonly [RegExp, string][] = [
  [
    /\b(?:status|HTTP|code)\b[^\n]{0,24}\b5\d\d\b|\b5\d\d (?:service unavailable|bad gateway|gateway time-?out|internal server error)|\b5\d\d \(/i,
    "server error (5xx)",
  ],
  [/service unavailable|bad gateway|gateway time-?out|internal server error/i, "server error (5xx)"],
  [/unexpected EOF|\bEOF\b/, "unexpected EOF"],
  [/connection reset|broken pipe|connection refused|ECONNRESET|ECONNREFUSED|EPIPE/i, "connection reset"],
  [/TLS handshake timeout|i\/o timeout|context deadline exceeded|\btimed? ?out\b|ETIMEDOUT|Client\.Timeout/i, "timeout"],
  [/no such host|temporary failure in name resolution|EAI_AGAIN|ENOTFOUND/i, "name resolution"],
  [/short read|stream error|http2: |unexpected end of JSON|read: connection/i, "interrupted transfer"],
];

const PERMANENT: readonly [RegExp, string][] = [
  [/manifest unknown|manifest for .* not found|name unknown|\bnot found\b|\b404\b/i, "not found"],
  [/pull access denied|requested access to the resource is denied|\bdenied\b/i, "access denied"],
  [/unauthorized|authentication required|\b401\b|\b403\b|forbidden/i, "unauthorized"],
];

/**
 * Classifies the engine's error text for a pull from `registry` (`references`: the names the
 * pull used, removed before reading). Definite conditions first; then transient ones, checked
 * before the generic permanent ones because the engine wraps network failures in text such as
 * "error pulling image configuration: … unexpected EOF". An error nobody recognises is
 * treated as transient: retrying costs a few seconds, giving up costs the build.
 */
export function classifyEngineError(message: string, registry: string, references: readonly string[] = []): Classified {
  const text = failureText(message, references);
  if (/\btoomanyrequests\b|\btoo many requests\b|pull rate limit/i.test(text)) return tooManyRequests(registry, message);
  for (const [pattern, label] of DEFINITE_PERMANENT) if (pattern.test(text)) return { errorClass: "permanent", label };
  for (const [pattern, label] of TRANSIENT) if (pattern.test(text)) return { errorClass: "transient", label };
  for (const [pattern, label] of PERMANENT) if (pattern.test(text)) return { errorClass: "permanent", label };
  return { errorClass: "transient", label: "unrecognised error" };
}

export const MAX_BACKOFF_SECONDS = 60;

/**
 * Seconds to wait before retry number `retry` (1 = the first retry): `base` doubling each
 * time, times a jitter factor in [1, 1.5), capped at 60 s. A server's `Retry-After` is
 * honoured when longer, up to the same cap.
 */
export function backoffSeconds(retry: number, base: number, random: () => number = Math.random, retryAfter?: number): number {
  const exponential = base * 2 ** Math.max(0, retry - 1) * (1 + random() * 0.5);
  const wait = Math.max(exponential, retryAfter ?? 0);
  return Math.min(wait, MAX_BACKOFF_SECONDS);
}

/** Parses a `Retry-After` header (seconds or an HTTP date) into seconds from `now`. */
export function parseRetryAfter(value: string | undefined, now: number = Date.now()): number | undefined {
  if (value === undefined || value.trim() === "") return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, (date - now) / 1000);
}
