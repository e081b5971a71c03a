// set-vars: fetch a build's own script that names its images (retried, optionally pinned by
// sha256), run it in the sandbox (sandbox.ts), and read the named variables back as images.
// It is never sourced into this process or the step's shell.
import { HttpClient } from "@actions/http-client";
import { classifyHttp } from "../pull/policy.js";
import { type RetrySettings, retryTransient, TransientError } from "../pull/retry.js";
import { ANSWER_LIMITS, HeaderDeadlines, readAnswer } from "../registry/http.js";
import { sha256Hex } from "../registry/sha256.js";
import type { Logger } from "../report/log.js";
import { type Config, type ImageSpec, parseImageLine } from "./inputs.js";
import { formatReference } from "./reference.js";
import { type Evaluation, evaluateScript, SET_VARS_TIMEOUT_SECONDS, SetVarsError, scriptIsolation } from "./sandbox.js";

export type FetchOutcome = { readonly found: true; readonly body: Buffer } | { readonly found: false; readonly status: number };

export interface FetchOptions extends RetrySettings {
  readonly log: (line: string) => void;
  readonly timeoutMs?: number;
}

/** GET the script: 5xx, 429 and network failures are retried; 404/410 is an answer (no script at that ref). */
export async function fetchScript(url: string, options: FetchOptions): Promise<FetchOutcome> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const deadlines = new HeaderDeadlines(timeoutMs);
  const client = new HttpClient("prepull", [deadlines], { socketTimeout: timeoutMs, allowRetries: false });
  const once = async (): Promise<FetchOutcome> => {
    let response: Awaited<ReturnType<HttpClient["get"]>>;
    try {
      response = await deadlines.within({}, (headers) => client.get(url, headers));
    } catch (error) {
      throw new TransientError(`no answer (${(error as Error).message})`);
    }
    const status = response.message.statusCode ?? 0;
    // A build script is a few kilobytes: the bound is the one of a registry's small answers.
    const read = () => readAnswer(response.message, { limit: ANSWER_LIMITS.small, deadlineMs: timeoutMs, what: "the script" });
    if (status === 200) return { found: true, body: await read() };
    const body = (await read().catch(() => Buffer.alloc(0))).toString("utf8");
    if (status === 404 || status === 410) return { found: false, status };
    const classified = classifyHttp(status, new URL(url).host, response.message.headers, body);
    if (classified.errorClass === "transient") throw new TransientError(`HTTP ${status} (${classified.label})`, classified.retryAfter);
    throw new SetVarsError(`HTTP ${status} (${classified.label})`);
  };
  try {
    return await retryTransient("set-vars fetch", once, options, options.log);
  } catch (error) {
    throw new SetVarsError(`cannot fetch set-vars-url ${url}: ${(error as Error).message}`);
  } finally {
    client.dispose();
  }
}

export interface SetVarsOutcome {
  readonly images: (ImageSpec | { text: string; origin: string; message: string })[];
  /** a failure that `on-failure` decides about */
  readonly problem?: string;
}

export async function resolveSetVars(config: Config, log: Logger): Promise<SetVarsOutcome> {
  const setVars = config.setVars;
  if (!setVars) return { images: [] };
  const fetched = await fetchChecked(setVars, config, log);
  if (typeof fetched === "string") return { images: [], problem: fetched };
  if (fetched === undefined) return { images: [] };
  const scriptName = new URL(setVars.url).pathname.split("/").pop() || "set-vars.sh";
  const isolation = await scriptIsolation();
  // One line that says exactly what the script can reach: an info where a sandbox holds, else a warning.
  if (isolation.kind !== "none") log.info(`set-vars: the script runs in ${isolation.description}`);
  else log.warning(`set-vars: ${isolation.description}`);
  const evaluation = await evaluateScript(fetched, { env: setVars.env, variables: setVars.variables, scriptName, isolation });
  if (evaluation.output !== "") log.untrusted(`set-vars script ${scriptName} printed:`, evaluation.output);
  return readBack(evaluation, setVars.variables, log);
}

/** The script's bytes, checked against set-vars-sha256; undefined for a 404 (a notice), a string for a failure. */
async function fetchChecked(setVars: NonNullable<Config["setVars"]>, config: Config, log: Logger): Promise<Buffer | string | undefined> {
  let fetched: FetchOutcome;
  try {
    fetched = await fetchScript(setVars.url, { attempts: config.attempts, backoffSeconds: config.backoffSeconds, log: (l) => log.info(l) });
  } catch (error) {
    if (!(error instanceof SetVarsError)) throw error;
    return error.message;
  }
  if (!fetched.found) {
    log.notice(
      `set-vars-url answered HTTP ${fetched.status}: there is no set-vars script at ${setVars.url} (a ref without it); no images from it, skipped`,
    );
    return undefined;
  }
  const actual = sha256Hex(fetched.body);
  if (setVars.sha256 && actual !== setVars.sha256) {
    return `set-vars script refused: its sha256 is ${actual}, set-vars-sha256 pins ${setVars.sha256}; it was not run`;
  }
  return fetched.body;
}

/** What the script's run means: a time-out or a non-zero status (its own `exit 1`: a notice), or the named variables as images. */
function readBack(evaluation: Evaluation, variables: readonly string[], log: Logger): SetVarsOutcome {
  if (evaluation.valuesOverflow) {
    return { images: [], problem: "set-vars script sent more than 64 KiB of values back; none of them is used" };
  }
  if (evaluation.timedOut) {
    const problem = `set-vars script did not finish within ${SET_VARS_TIMEOUT_SECONDS} s and was stopped (does it wait for input or the network?)`;
    return { images: [], problem };
  }
  const last = evaluation.output.trim().split("\n").pop() ?? "";
  if (evaluation.exitCode === 1) {
    // The script's own word that this combination of set-vars-env names no image (DESIGN.md).
    log.notice(`set-vars script exited with status 1${last ? ` (${last})` : ""}: no image for this set-vars-env; skipped`);
    return { images: [] };
  }
  if (evaluation.exitCode !== 0) {
    return { images: [], problem: `set-vars script exited with status ${evaluation.exitCode}${last ? `: ${last}` : ""}; no image from it` };
  }
  const images: SetVarsOutcome["images"] = [];
  const unset: string[] = [];
  for (const variable of variables) {
    const value = evaluation.values[variable];
    if (value === undefined) unset.push(variable);
    else images.push(parseImageLine(value, `set-vars ${variable}`));
  }
  for (const spec of images) if (!("message" in spec)) log.info(`set-vars: ${spec.origin} = ${formatReference(spec.upstream)}`);
  return unset.length > 0 ? { images, problem: `set-vars script left ${unset.join(", ")} unset or empty` } : { images };
}
