// Retrying registry and HTTP operations with the action's backoff policy: a TransientError
// (or no HTTP answer at all) is retried up to `attempts` times; anything else is final.
import pRetry, { AbortError } from "p-retry";
import { NetworkError } from "../registry/client.js";
import { backoffSeconds } from "./policy.js";

export class TransientError extends Error {
  override name = "TransientError";
  constructor(
    message: string,
    /** seconds a server asked us to wait (`Retry-After`) */
    readonly retryAfter?: number,
  ) {
    super(message);
  }
}

export interface RetrySettings {
  readonly attempts: number;
  readonly backoffSeconds: number;
  readonly sleep?: (seconds: number) => Promise<void>;
  readonly random?: () => number;
  /** aborted: no further try, no further wait (a probe nobody needs any more at the end of a run) */
  readonly signal?: AbortSignal;
}

export const sleepSeconds = (seconds: number) => new Promise<void>((resolve) => setTimeout(resolve, seconds * 1000));

/** Thrown instead of another try once the work was called off (the run ended without needing it). */
export class CalledOff extends Error {
  override name = "CalledOff";
}

/** A wait that ends early, with CalledOff, when `signal` aborts. */
function sleepUnless(seconds: number, signal: AbortSignal, sleep: (seconds: number) => Promise<void>): Promise<void> {
  if (signal.aborted) return Promise.reject(new CalledOff("called off"));
  return new Promise((resolve, reject) => {
    const stop = () => reject(new CalledOff("called off"));
    signal.addEventListener("abort", stop, { once: true });
    sleep(seconds).then(() => {
      signal.removeEventListener("abort", stop);
      resolve();
    }, reject);
  });
}

/**
 * Runs `operation`, retrying transient failures with backoff and one log line per retry.
 * After the last attempt the last TransientError is thrown (a NetworkError becomes one).
 * `onFailure` hears of every transient failure, the last included (callers count tries).
 */
export async function retryTransient<T>(
  what: string,
  operation: () => Promise<T>,
  settings: RetrySettings,
  log: (line: string) => void,
  onFailure?: () => void,
): Promise<T> {
  const sleep = settings.sleep ?? sleepSeconds;
  try {
    return await pRetry(
      async () => {
        if (settings.signal?.aborted) throw new AbortError(new CalledOff("called off"));
        try {
          return await operation();
        } catch (error) {
          if (error instanceof TransientError || error instanceof NetworkError) onFailure?.();
          if (error instanceof TransientError) throw error;
          if (error instanceof NetworkError) throw new TransientError(`no answer (${error.message})`);
          throw new AbortError(error as Error);
        }
      },
      {
        retries: settings.attempts - 1,
        minTimeout: 0,
        maxTimeout: 0,
        onFailedAttempt: async ({ error, attemptNumber, retriesLeft }) => {
          if (retriesLeft === 0) return;
          const wait = backoffSeconds(attemptNumber, settings.backoffSeconds, settings.random, (error as TransientError).retryAfter);
          log(
            `${what}: attempt ${attemptNumber}/${settings.attempts} failed, transient: ${error.message}; retrying in ${wait.toFixed(1)} s`,
          );
          await (settings.signal ? sleepUnless(wait, settings.signal, sleep) : sleep(wait));
        },
      },
    );
  } catch (error) {
    throw error instanceof AbortError ? error.originalError : error;
  }
}
