// Test images: FROM scratch + random bytes, built with the legacy builder (no container
// runs), pushed to the test registries, then removed locally so the action must pull.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type CommandResult, runCommand } from "../../src/engine/engine.js";

export class Docker {
  constructor(readonly dockerHost: string) {}

  get env(): Record<string, string> {
    return { DOCKER_HOST: this.dockerHost };
  }

  async run(args: string[], extraEnv: Record<string, string> = {}): Promise<CommandResult> {
    return runCommand("docker", args, { env: { ...process.env, DOCKER_HOST: this.dockerHost, ...extraEnv }, timeoutMs: 300_000 });
  }

  async ok(args: string[], extraEnv: Record<string, string> = {}): Promise<string> {
    const result = await this.run(args, extraEnv);
    if (result.exitCode !== 0) throw new Error(`docker ${args.join(" ")} failed: ${result.stderr}`);
    return result.stdout.trim();
  }

  /** Image ID under `ref`, or undefined. */
  async imageId(ref: string): Promise<string | undefined> {
    const result = await this.run(["image", "inspect", "--format", "{{.Id}}", ref]);
    return result.exitCode === 0 ? result.stdout.trim() : undefined;
  }

  async repoDigests(ref: string): Promise<string[]> {
    return JSON.parse(await this.ok(["image", "inspect", "--format", "{{json .RepoDigests}}", ref])) ?? [];
  }

  async tags(ref: string): Promise<string[]> {
    return JSON.parse(await this.ok(["image", "inspect", "--format", "{{json .RepoTags}}", ref])) ?? [];
  }

  /** Removes every local image (tests share one engine). */
  async removeAllImages(): Promise<void> {
    const ids = (await this.ok(["image", "ls", "-aq"])).split("\n").filter(Boolean);
    if (ids.length > 0) await this.run(["image", "rm", "-f", ...new Set(ids)]);
  }
}

export interface BuiltImage {
  readonly id: string;
  /** manifest digest per pushed reference */
  readonly digests: Record<string, string>;
}

let counter = 0;
/** A unique repository path for one test. */
export function uniqueName(prefix = "img"): string {
  counter++;
  return `test/${prefix}-${process.pid}-${counter}-${randomBytes(3).toString("hex")}`;
}

/**
 * Builds an image of `layers` layers of `layerBytes` random bytes each, pushes it under every
 * ref in `pushTo`, then removes it locally.
 */
export async function seedImage(
  docker: Docker,
  pushTo: string[],
  options: { layerBytes?: number; layers?: number; dockerConfig?: string } = {},
): Promise<BuiltImage> {
  const auth = options.dockerConfig ? { DOCKER_CONFIG: options.dockerConfig } : {};
  const dir = mkdtempSync(join(tmpdir(), "prepull-image-"));
  try {
    const layers = options.layers ?? 1;
    const lines = ["FROM scratch"];
    for (let i = 0; i < layers; i++) {
      writeFileSync(join(dir, `blob${i}`), randomBytes(options.layerBytes ?? 64 * 1024));
      lines.push(`COPY blob${i} /blob${i}`);
    }
    writeFileSync(join(dir, "Dockerfile"), `${lines.join("\n")}\n`);
    const [first, ...rest] = pushTo;
    if (!first) throw new Error("seedImage needs a reference");
    const id = await docker.ok(["build", "-q", "-t", first, dir], { DOCKER_BUILDKIT: "0" });
    for (const ref of rest) await docker.ok(["tag", first, ref]);
    const digests: Record<string, string> = {};
    for (const ref of pushTo) {
      const out = await docker.ok(["push", ref], auth);
      const digest = out.match(/digest: (sha256:[a-f0-9]{64})/)?.[1];
      if (!digest) throw new Error(`no digest in push output: ${out}`);
      digests[ref] = digest;
    }
    await docker.ok(["image", "rm", "-f", id]);
    return { id, digests };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
