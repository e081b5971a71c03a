// What a run needs from where it runs: the Actions runner, a background worker, or the CLI.

import type { Logger } from "./report/log.js";
import type { Result } from "./report/results.js";
import type { GetInput } from "./resolve/inputs.js";

export interface Host {
  readonly getInput: GetInput;
  readonly log: Logger;
  setOutput(name: string, value: string): void;
  writeSummary(markdown: string): Promise<void>;
  setFailed(message: string): void;
  setSecret(secret: string): void;
  /** environment for the engine CLI (DOCKER_HOST, DOCKER_CONFIG, …) */
  readonly env?: NodeJS.ProcessEnv;
  readonly workspace?: string;
  /** the bundle to start as a background worker (the action's own dist/index.cjs) */
  readonly workerEntry?: string;
  /** keeps a value for the post step (core.saveState) */
  saveState?(name: string, value: string): void;
  /** each image's result as soon as it is known (a background worker writes it down) */
  onResult?(result: Result): void;
}
