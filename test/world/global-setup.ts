// Starts one Docker engine for the e2e run. With CI=true a world that cannot start fails
// the run; elsewhere (no root, no dockerd) the e2e tests are skipped with the reason.
import type { TestProject } from "vitest/node";
import { type EngineWorld, startEngine } from "./engine.js";

declare module "vitest" {
  export interface ProvidedContext {
    dockerHost: string;
    worldUnavailable: string;
  }
}

let engine: EngineWorld | undefined;

export async function setup(project: TestProject): Promise<void> {
  try {
    engine = await startEngine();
    project.provide("dockerHost", engine.dockerHost);
    project.provide("worldUnavailable", "");
  } catch (error) {
    if (process.env.CI === "true") throw new Error(`CI=true and the test engine cannot start: ${(error as Error).message}`);
    project.provide("dockerHost", "");
    project.provide("worldUnavailable", (error as Error).message);
  }
}

export async function teardown(): Promise<void> {
  await engine?.stop();
}
