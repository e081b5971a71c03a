// The retry policy, pure: how an engine or registry failure is classified, and how long to wait.

/**
 * - `transient`: worth retrying the same source (5xx, resets, EOF, timeouts, GHCR 429).
 * - `permanent`: this source will not serve the image; try the next one at once.
 * - `rate-limited`: Docker Hub's pull quota is spent; the window is hours, so never a quick
 *   retry: the next source at once.
 */
export type ErrorClass = "transient" | "permanent" | "rate-limited";

export interface Classified {
  readonly errorClass: ErrorClass;
  /** short name of the matched condition, for logs and `reason` */
  readonly label: string;
}

const RATE_LIMIT: readonly [RegExp, string][] = [[/toomanyrequests|too many requests|pull rate limit/i, "rate limit"]];

const TRANSIENT: readonly [RegExp, string][] = [
  [
    /(status|http|code)[^\n]{0,24}\b5\d\d\b|\b5\d\d (service unavailable|bad gateway|gateway time-?out|internal server error)/i,
    "server error (5xx)",
  ],
  [/service unavailable|bad gateway|gateway time-?out|internal server error/i, "server error (5xx)"],
  [/unexpected EOF|\bEOF\b/, "unexpected EOF"],
  [/connection reset|broken pipe|connection refused|ECONNRESET|ECONNREFUSED|EPIPE/i, "connection reset"],
  [/TLS handshake timeout|i\/o timeout|context deadline exceeded|timed? ?out|ETIMEDOUT|Client\.Timeout/i, "timeout"],
  [/no such host|temporary failure in name resolution|EAI_AGAIN|ENOTFOUND/i, "name resolution"],
  [/short read|stream error|http2: |unexpected end of JSON|read: connection/i, "interrupted transfer"],
];

const PERMANENT: readonly [RegExp, string][] = [
  [
    /no matching manifest|does not match the specified platform|no image found in (manifest list|image index) for architecture/i,
    "no matching platform",
  ],
  [/invalid reference format|invalid reference|repository name must be lowercase/i, "invalid reference"],
  [/manifest unknown|manifest for .* not found|name unknown|\bnot found\b|404/i, "not found"],
  [/pull access denied|requested access to the resource is denied|\bdenied\b/i, "access denied"],
  [/unauthorized|authentication required|401|403|forbidden/i, "unauthorized"],
  [/no space left on device/i, "no space left on device"],
];

/**
 * Classifies the engine's error text for a pull from `registry`. A 429 from GHCR is a
 * short-lived throttle (transient); `toomanyrequests` anywhere else is a spent pull quota.
 * Transient patterns are checked before permanent ones because the engine wraps network
 * failures in text such as "error pulling image configuration: … unexpected EOF".
 * An error nobody recognises is treated as transient: retrying costs a few seconds,
 * giving up costs the build.
 */
export function classifyEngineError(message: string, registry: string): Classified {
  for (const [pattern, label] of RATE_LIMIT) {
    if (pattern.test(message)) {
      return registry === "ghcr.io" ? { errorClass: "transient", label: "throttled (429)" } : { errorClass: "rate-limited", label };
    }
  }
  for (const [pattern, label] of TRANSIENT) if (pattern.test(message)) return { errorClass: "transient", label };
  for (const [pattern, label] of PERMANENT) if (pattern.test(message)) return { errorClass: "permanent", label };
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
