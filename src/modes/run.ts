// Wiring for the modes that touch registries and the engine: one registry client (with the
// user's credentials), the probe settings, the engine with the token added only where needed.
// Loaded only when there are images (a run with nothing to do never loads it).
import { tmpdir } from "node:os";
import { EngineAuth } from "../engine/config.js";
import { Engine } from "../engine/engine.js";
import type { Host } from "../host.js";
import { probeHooks } from "../pull/probehooks.js";
import { Credentials } from "../registry/auth.js";
import { RegistryClient } from "../registry/client.js";
import { ANSWER_TIMEOUT_MS } from "../registry/http.js";
import { platformSpec } from "../registry/manifests.js";
import type { ProbeSettings } from "../registry/probe.js";
import type { Result } from "../report/results.js";
import type { Config, ImageSpec } from "../resolve/inputs.js";
import { pullAll } from "./pull.js";

/** The registry client with the user's credentials (a problem with them a warning) and the probe settings: every mode's and fill-mirror's. */
export function registryAccess(config: Config, host: Host): { client: RegistryClient; settings: ProbeSettings } {
  const credentials = new Credentials(host.env ?? process.env, config.githubToken, undefined, undefined, config.engine);
  if (credentials.problem) host.log.warning(credentials.problem);
  // A probe waits for an answer 15 s at most (DESIGN.md), and never longer than a whole pull may take.
  const client = new RegistryClient(credentials, Math.min(ANSWER_TIMEOUT_MS, config.pullTimeoutSeconds * 1000));
  const settings: ProbeSettings = {
    verify: config.verify,
    platform: platformSpec(config.platform),
    attempts: config.attempts,
    backoffSeconds: config.backoffSeconds,
  };
  return { client, settings };
}

export async function runMode(images: readonly ImageSpec[], config: Config, host: Host): Promise<Result[]> {
  const baseEnv = host.env ?? process.env;
  const { client, settings } = registryAccess(config, host);
  try {
    // Each mode's own code loads when that mode runs (the copier brings node's TLS with it).
    if (config.mode === "plan") return await (await import("./plan.js")).planAll(images, config, client, settings, host);
    if (config.mode === "mirror") return await (await import("./mirror.js")).mirrorImages(images, config, client, settings, host);
    const auth = config.githubToken ? new EngineAuth(baseEnv, config.githubToken, baseEnv.RUNNER_TEMP || tmpdir()) : undefined;
    // fill-mirror: the pull's probes are watched for first mirrors that lack their image.
    const filling = config.fillMirror ? await import("./fill.js") : undefined;
    const fill = filling && new filling.FillWatch(images, config);
    try {
      const probes = probeHooks(
        client,
        settings,
        (image, line) => host.log.warning(`${image}: ${line}`),
        (line) => host.log.info(line),
        // Before each pull: where github-token got the probes in, the engine gets it too.
        () => auth?.sync(client.githubTokenRegistries) ?? Promise.resolve(),
      );
      const engine = new Engine(config.engine, () => auth?.engineEnv() ?? baseEnv);
      try {
        if (!filling || !fill) return await pullAll(images, config, host, engine, probes);
        const onResult = host.onResult;
        const marked = { ...host, ...(onResult && { onResult: (result: Result) => onResult(fill.mark(result)) }) };
        const results = (await pullAll(images, config, marked, engine, fill.wrap(probes))).map((result) => fill.mark(result));
        await filling.afterPulls(host, results);
        return results;
      } finally {
        engine.dispose();
      }
    } finally {
      await auth?.cleanup();
    }
  } finally {
    client.dispose();
  }
}
