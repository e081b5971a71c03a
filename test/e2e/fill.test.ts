// fill-mirror's limits, end to end against a GHCR-like mirror (token auth over TLS, an HTTPS
// realm): the post step pushes only where the workflow's own inputs say (never a mirror a file of
// the repository names, never another registry's image through a bare prefix), and never
// replaces a tag the mirror holds, cosign's signature tags included.

import { mkdtempSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { PACKAGES_TOKEN, runAction, seedImage, uniqueName, useWorld, workflowCommands, worldUnavailable } from "../world/index.js";
import { ACCEPT, pushCosignSignature } from "../world/oci.js";

/** GET or HEAD over HTTPS on loopback (the world's certificates are self-signed). */
function httpsCall(
  url: string,
  method: string,
  headers: Record<string, string>,
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, rejectUnauthorized: false }, (res) => {
      let body = "";
      res.on("data", (chunk: Buffer) => {
        body += chunk.toString();
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe.skipIf(worldUnavailable !== "")("fill-mirror pushes only where the inputs say and overwrites nothing", () => {
  const {
    engine,
    tokens,
    registry: { upstream, other, ghcr },
  } = useWorld({
    registries: { upstream: {}, other: {}, ghcr: { tokenAuth: true, tls: true } },
    tokens: { service: "fill-limits", policy: { isPrivate: () => false, users: { "octo-runner": PACKAGES_TOKEN } }, tls: true },
    cleanEngine: true,
  });

  /** The digest `path:tag` has in the GHCR-like mirror (read as octo-runner), or undefined. */
  const ghcrDigest = async (path: string, tag: string) => {
    const basic = Buffer.from(`octo-runner:${PACKAGES_TOKEN}`).toString("base64");
    const scope = encodeURIComponent(`repository:${path}:pull`);
    const got = await httpsCall(`${tokens.realm}?service=fill-limits&scope=${scope}`, "GET", { Authorization: `Basic ${basic}` });
    const { token } = JSON.parse(got.body) as { token: string };
    const head = await httpsCall(`https://${ghcr.host}/v2/${path}/manifests/${tag}`, "HEAD", {
      Accept: ACCEPT,
      Authorization: `Bearer ${token}`,
    });
    return head.status === 200 ? String(head.headers["docker-content-digest"]) : undefined;
  };

  const base = { "fill-mirror": "true", "github-token": PACKAGES_TOKEN, backoff: "0.1" };
  const notices = (stdout: string) => workflowCommands(stdout).filter((c) => c.startsWith("::notice::fill-mirror"));

  it("a `=>` mirror read from images-file is never filled (a notice says why), even by a forged saved list; the same line in the images input is", async () => {
    expect(tokens.realm).toMatch(/^https:/);
    expect(ghcr.scheme).toBe("https");
    const image = `${upstream.host}/${uniqueName("evil")}:1`;
    const digest = (await seedImage(engine, [image])).digests[image];
    const product = uniqueName("org-product");
    const target = `${ghcr.host}/${product}:v9.9.9`;
    const workspace = mkdtempSync(join(tmpdir(), "prepull-fill-ws-"));
    writeFileSync(join(workspace, "images.txt"), `${image} => ${target}\n`);
    const env = { ...engine.env, GITHUB_WORKSPACE: workspace };
    const fromFile = { ...base, "images-file": "images.txt", mirrors: `${ghcr.host}/m` };

    const step = await runAction(fromFile, { env });
    expect(step.exitCode, step.stdout).toBe(0);
    expect(step.results[0]).toMatchObject({ image, status: "pulled", source: "upstream", digest });
    expect(step.state.fill).toBeUndefined();
    expect(notices(step.stdout)).toEqual([
      `::notice::fill-mirror: ${target} not filled: its mirror was named by "=>" in images-file images.txt line 1, not by the workflow's inputs (mirrors, mirror-map, images)`,
    ]);
    // The post step checks a saved list against its own inputs: a forged one fills nothing.
    const forged = JSON.stringify([{ image, from: `${image}@${digest}`, to: target, digest }]);
    const post = await runAction(fromFile, { env, state: { ...step.state, fill: forged } });
    expect(post.exitCode, post.stdout).toBe(0);
    expect(notices(post.stdout)).toEqual([expect.stringMatching(new RegExp(`^::notice::fill-mirror: ${target} not filled: `))]);
    expect(post.stdout).toMatch(/fill-mirror: 0 filled, 0 already there, 1 not filled, 0 failed/);
    expect(await ghcrDigest(product, "v9.9.9")).toBeUndefined();

    // The workflow author's own `=>` (in the images input) is filled.
    await engine.removeAllImages();
    const fromInput = { ...base, images: `${image} => ${target}`, mirrors: `${ghcr.host}/m` };
    const own = await runAction(fromInput, { env });
    expect(JSON.parse(own.state.fill ?? "[]")).toEqual([{ image, from: `${image}@${digest}`, to: target, digest }]);
    const ownPost = await runAction(fromInput, { env, state: own.state });
    expect(ownPost.stdout).toMatch(/fill-mirror: 1 filled/);
    expect(await ghcrDigest(product, "v9.9.9")).toBe(digest);
  });

  it("a bare-prefix mirrors line fills Docker Hub's images alone (it drops the registry); a REGISTRY= line fills its registry's", async () => {
    const path = uniqueName("bare");
    // Named without a tag (`:latest`, as the engine reads it): the post step's check of the saved target agrees.
    const named = `${upstream.host}/${path}`;
    const image = `${named}:latest`;
    const digest = (await seedImage(engine, [image])).digests[image];
    const slot = `m/${path.replaceAll("/", "-")}`;
    const bare = { ...base, images: named, mirrors: `${ghcr.host}/m` };
    const step = await runAction(bare, { env: engine.env });
    expect(step.results[0]).toMatchObject({ image, status: "pulled", source: "upstream", digest });
    expect(step.state.fill).toBeUndefined();
    expect(notices(step.stdout)).toEqual([
      `::notice::fill-mirror: ${ghcr.host}/${slot}:latest not filled: mirrors line 1 serves every registry and drops the registry from the name; it fills only docker.io images (write "${upstream.host}=…" to fill this registry's)`,
    ]);
    expect(await ghcrDigest(slot, "latest")).toBeUndefined();

    await engine.removeAllImages();
    const registryLine = { ...base, images: named, mirrors: `${upstream.host}=${ghcr.host}/m` };
    const again = await runAction(registryLine, { env: engine.env });
    expect(JSON.parse(again.state.fill ?? "[]")).toEqual([
      { image, from: `${named}@${digest}`, to: `${ghcr.host}/${slot}:latest`, digest },
    ]);
    const post = await runAction(registryLine, { env: engine.env, state: again.state });
    expect(post.stdout).toMatch(/fill-mirror: 1 filled/);
    expect(await ghcrDigest(slot, "latest")).toBe(digest);
  });

  it("a cosign signature tag the mirror holds is never replaced by fill (a notice); mode: mirror, an explicit copy of upstream, replaces it", async () => {
    const path = uniqueName("signed");
    const [one, two] = [`${upstream.host}/${path}:1`, `${other.host}/${path}:2`];
    const seeded = await seedImage(engine, [one, two]);
    const x = seeded.digests[one];
    expect(seeded.digests[two]).toBe(x);
    const s1 = await pushCosignSignature(upstream.host, path, "1");
    const s2 = await pushCosignSignature(other.host, path, "2");
    expect(s2.tag).toBe(s1.tag);
    expect(s2.digest).not.toBe(s1.digest);
    const org = uniqueName("org");
    const mirrorMap = `${upstream.host}/${path} => ${ghcr.host}/${org}\n${other.host}/${path} => ${ghcr.host}/${org}`;
    const common = { "github-token": PACKAGES_TOKEN, "mirror-map": mirrorMap, backoff: "0.1" };

    // The mirror holds org:1 (X) and org:sha256-X.sig (S1).
    const seed = await runAction({ ...common, images: one, mode: "mirror" }, { env: engine.env });
    expect(seed.results[0], seed.stdout).toMatchObject({ status: "copied" });
    expect(await ghcrDigest(org, s1.tag)).toBe(s1.digest);

    // Another upstream with X under :2 and its own signature S2: org:2 is a miss, filled after the job.
    const inputs = { ...common, ...base, images: two };
    const step = await runAction(inputs, { env: engine.env });
    expect(step.results[0]).toMatchObject({ status: "pulled", source: "upstream", digest: x });
    const post = await runAction(inputs, { env: engine.env, state: step.state });
    expect(post.exitCode, post.stdout).toBe(0);
    expect(post.stdout).toMatch(/fill-mirror: 1 filled/);
    expect(await ghcrDigest(org, "2")).toBe(x);
    expect(await ghcrDigest(org, s1.tag)).toBe(s1.digest);
    expect(notices(post.stdout)).toEqual([
      `::notice::fill-mirror: ${org}:${s1.tag} holds ${s1.digest}, not upstream's ${s2.digest}; left as it is`,
    ]);

    // mode: mirror copies upstream as it is: its signature tag too.
    const copy = await runAction({ ...common, images: two, mode: "mirror" }, { env: engine.env });
    expect(copy.results[0], copy.stdout).toMatchObject({ status: "present" });
    expect(await ghcrDigest(org, s1.tag)).toBe(s2.digest);
  });
});
