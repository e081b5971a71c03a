import { inject } from "vitest";
import { Docker } from "./images.js";

export { JOB_TOKEN, PACKAGES_TOKEN, runAction, workflowCommands } from "./action.js";
export { ConnectProxy } from "./connect-proxy.js";
export { startEngine } from "./engine.js";
export { FaultProxy } from "./fault-proxy.js";
export { FileServer } from "./http-server.js";
export { Docker, seedImage, uniqueName } from "./images.js";
export { dockerConfig } from "./logins.js";
export { loopbackRequest, trustBundle } from "./net.js";
export { podmanMissing, usePodmanStore } from "./podman.js";
export { startRegistry } from "./registry.js";
export {
  CHECKOUT_TOKEN,
  DOCKER_LOGIN,
  fileCommandFiles,
  type RunnerLayout,
  type RunnerVariant,
  runAsRunner,
} from "./runner.js";
export { TokenServer } from "./token-server.js";
export { useWorld } from "./world.js";

/** Why the e2e world is unavailable ("" when it runs); with CI=true global setup fails instead. */
export const worldUnavailable = inject("worldUnavailable");

export function docker(): Docker {
  return new Docker(inject("dockerHost"));
}
