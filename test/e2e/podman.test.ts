// Issue 6, end to end: engine: podman pulls and tags where a podman-based build looks
// (Debian's podman, rootful, vfs storage under a temporary directory).
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  dockerConfig,
  PACKAGES_TOKEN,
  podmanMissing,
  runAction,
  seedImage,
  uniqueName,
  usePodmanStore,
  useWorld,
  worldUnavailable,
} from "../world/index.js";

describe.skipIf(worldUnavailable !== "" || (podmanMissing !== "" && process.env.CI !== "true"))("engine: podman, end to end", () => {
  /** `privateMirror`: private/ needs credentials (as a private GHCR package) */
  const {
    engine,
    registry: { upstream, mirror, privateMirror },
  } = useWorld({
    registries: { upstream: {}, mirror: {}, privateMirror: { tokenAuth: true } },
    tokens: { service: "podman-test", policy: { users: { alice: "s3cret-password", "octo-runner": PACKAGES_TOKEN } } },
  });
  const { env, podman } = usePodmanStore("prepull-podman-");
  const podmanId = async (ref: string) => {
    const result = await podman(["image", "inspect", "--format", "{{.Id}}", ref]);
    return result.exitCode === 0 ? `sha256:${result.stdout.trim().replace(/^sha256:/, "")}` : undefined;
  };

  it("a mirror hit lands in podman's store under the upstream name; the mirror tag is gone", async () => {
    const path = uniqueName("podman");
    const up = `${upstream.host}/${path}:1`;
    const mir = `${mirror.host}/mirror/${path.replaceAll("/", "-")}:1`;
    const { id } = await seedImage(engine, [up, mir]);
    const run = await runAction({ images: up, mirrors: `${mirror.host}/mirror`, engine: "podman" }, { env });
    expect(run.exitCode, run.stdout).toBe(0);
    expect(run.results[0], run.stdout).toMatchObject({ image: up, source: "mirror", status: "pulled" });
    expect(await podmanId(up)).toBe(id);
    const tags = await podman(["image", "inspect", "--format", "{{json .RepoTags}}", up]);
    expect(JSON.parse(tags.stdout)).toEqual([up]);
    // Docker's store is untouched: the build runs podman.
    expect(await engine.imageId(up)).toBeUndefined();
    // Pulled from loopback over plain HTTP, as docker does by default.
    expect(run.stdout).not.toMatch(/server gave HTTP response to HTTPS client/);
  });

  it("a mirror miss falls back to upstream; a second run finds it present", async () => {
    const path = uniqueName("podman-miss");
    const up = `${upstream.host}/${path}:1`;
    const { id } = await seedImage(engine, [up]);
    const first = await runAction({ images: up, mirrors: `${mirror.host}/mirror`, engine: "podman" }, { env });
    expect(first.results[0]).toMatchObject({ source: "upstream", status: "pulled" });
    expect(first.results[0]?.reason).toMatch(/not found \(HTTP 404/);
    expect(await podmanId(up)).toBe(id);
    const second = await runAction({ images: up, mirrors: `${mirror.host}/mirror`, engine: "podman" }, { env });
    expect(second.results[0]).toMatchObject({ status: "present", source: "local" });
  });

  const seedPrivate = async (name: string) => {
    const path = uniqueName(name);
    const up = `${upstream.host}/${path}:1`;
    const seedConfig = dockerConfig({ [privateMirror.host]: "alice:s3cret-password" });
    const { id } = await seedImage(engine, [up, `${privateMirror.host}/private/${path.replaceAll("/", "-")}:1`], {
      dockerConfig: seedConfig,
    });
    return { up, id };
  };

  it("podman's own login (its auth file) opens a private mirror, with the job token set as on every runner", async () => {
    const { up, id } = await seedPrivate("podman-login");
    const authFile = join(mkdtempSync(join(tmpdir(), "prepull-podman-auth-")), "auth.json");
    await podman(["login", "--tls-verify=false", "--authfile", authFile, "-u", "alice", "-p", "s3cret-password", privateMirror.host]);
    const run = await runAction(
      { images: up, mirrors: `${privateMirror.host}/private`, engine: "podman" },
      { env: { ...env, REGISTRY_AUTH_FILE: authFile } },
    );
    expect(run.exitCode, run.stdout).toBe(0);
    expect(run.results[0]).toMatchObject({ source: "mirror", status: "pulled", reason: "" });
    expect(await podmanId(up)).toBe(id);
  });

  it("github-token reaches podman where it is what opens a private mirror", async () => {
    const { up, id } = await seedPrivate("podman-token");
    const run = await runAction(
      { images: up, mirrors: `${privateMirror.host}/private`, engine: "podman", "github-token": PACKAGES_TOKEN },
      { env },
    );
    expect(run.exitCode, run.stdout).toBe(0);
    expect(run.results[0]).toMatchObject({ source: "mirror", status: "pulled", reason: "" });
    expect(await podmanId(up)).toBe(id);
  });
});
