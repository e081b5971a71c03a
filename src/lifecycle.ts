// What prepull leaves behind and hands on: temporary files removed on every way out (a normal
// end, an error, SIGTERM from a stopped worker or a cancelled job), and the environment given
// to every child process, without the step's inputs and tokens.
import { rmSync } from "node:fs";

const cleanups = new Set<() => void>();
let installed = false;

/** Removes `path` when the process ends, however it ends; call the returned function to remove it sooner. */
export function removeOnExit(path: string): () => void {
  return onExit(() => rmSync(path, { recursive: true, force: true }));
}

/** Runs `cleanup` (synchronous) when the process ends, however it ends; call the returned function to run it sooner. */
export function onExit(cleanup: () => void): () => void {
  const run = () => {
    cleanups.delete(run);
    cleanup();
  };
  cleanups.add(run);
  install();
  return run;
}

function runCleanups(): void {
  // Last registered first: a process is stopped before the directory it works in is removed.
  for (const cleanup of [...cleanups].reverse()) {
    try {
      cleanup();
    } catch {
      // best effort: the process is ending
    }
  }
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on("exit", runCleanups);
  for (const [signal, code] of [
    ["SIGTERM", 143],
    ["SIGINT", 130],
    ["SIGHUP", 129],
  ] as const) {
    // Without a handler node ends at once on these signals and runs no 'exit' listener.
    process.on(signal, () => {
      runCleanups();
      process.exit(code);
    });
  }
}

/**
 * Node ends a process once nothing is left to wait for, even while the run's own promise is
 * unsettled (something awaited an event that could never come). That end would pass for
 * success, with no results and no outputs; `onUnfinished` runs then instead (at exit, so it
 * must be synchronous) to say so and set the exit code.
 */
export function whenUnfinished(work: Promise<unknown>, onUnfinished: () => void): void {
  let settled = false;
  const settle = () => {
    settled = true;
  };
  work.then(settle, settle);
  // Only a quiet end: a signal's exit (a cancelled job, a stopped worker) has its own code.
  process.on("exit", (code) => {
    if (!settled && code === 0) onUnfinished();
  });
}

/**
 * Variables that carry the step's secrets: the runner's inputs (the token among them) and the
 * runner's tokens. Narrower than compose interpolation's rule (resolve/compose.ts drops every
 * name with TOKEN in it): a credential helper may need its own, AWS_SESSION_TOKEN for ECR's.
 */
const SECRET_VARIABLE =
  /^(?:INPUT_.*|GITHUB_TOKEN|GH_TOKEN|ACTIONS_RUNTIME_TOKEN|ACTIONS_ID_TOKEN_REQUEST_TOKEN|ACTIONS_ID_TOKEN_REQUEST_URL)$/i;

/** The environment for a child process: the step's own, less its inputs and tokens. */
export function childEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([name]) => !SECRET_VARIABLE.test(name)));
}
