// Issue 23 items 3 and 4, end to end: the images a workflow file makes the runner pull, in plan
// mode with their origins and the mirror's drift; and fill-mirror, whose post step copies an
// image that came from upstream into the mirror (token auth, as GHCR), or says as a notice that
// the push was refused.
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO, type RunOptions } from "../world/action.js";
import {
  dockerConfig,
  JOB_TOKEN,
  loopbackRequest,
  PACKAGES_TOKEN,
  runAction,
  runAsRunner,
  seedImage,
  uniqueName,
  useWorld,
  workflowCommands,
  worldUnavailable,
} from "../world/index.js";
import { ACCEPT } from "../world/oci.js";

describe.skipIf(worldUnavailable !== "")("workflow files and fill-mirror, end to end", () => {
  /** `ghcr`: a mirror behind token auth over HTTPS (an HTTPS realm too), as GHCR: octo-runner's PACKAGES_TOKEN may push, the job token may only read */
  const world = useWorld({
    registries: { upstream: {}, mirror: {}, ghcr: { tokenAuth: true, tls: true } },
    tokens: { service: "fill-test", policy: { isPrivate: () => false, users: { "octo-runner": PACKAGES_TOKEN } } },
    cleanEngine: true,
    runners: ["sudo"],
  });
  const {
    engine,
    tokens,
    registry: { upstream, mirror, ghcr },
  } = world;
  /** the runner's user with sudo, as on a GitHub-hosted runner: the step and its post step run as it */
  const layout = world.runner("sudo");
  const WHO = ["root", "the runner user with sudo"] as const;
  type Who = (typeof WHO)[number];
  const act = (who: Who, inputs: Record<string, string>, options: RunOptions) =>
    who === "root" ? runAction(inputs, options) : runAsRunner(layout, inputs, options);

  /** The digest `path:tag` has in the token-auth mirror (read as octo-runner), or undefined. */
  const ghcrDigest = async (path: string, tag: string) => {
    const { token = "" } = await tokens.grant(`repository:${path}:pull`, `octo-runner:${PACKAGES_TOKEN}`);
    const head = await loopbackRequest(`https://${ghcr.host}/v2/${path}/manifests/${tag}`, {
      method: "HEAD",
      headers: { Accept: ACCEPT, Authorization: `Bearer ${token}` },
    });
    const digest = head.headers["docker-content-digest"];
    return head.status === 200 && typeof digest === "string" ? digest : undefined;
  };

  it("plan mode lists every image a workflow runs (container, image:, services, docker:// steps, matrix list + include) with its file and line, the drift of the mirror, and warns of another expression", async () => {
    const a = uniqueName("wf-a");
    const db = uniqueName("wf-db");
    const tool = uniqueName("wf-tool");
    const b = uniqueName("wf-b");
    const flat = (path: string) => `m/${path.replaceAll("/", "-")}`;
    const up = (path: string, tag: string) => `${upstream.host}/${path}:${tag}`;
    // One image under every upstream name; the mirror holds a:1 (the same) and db:16 (other content).
    await seedImage(engine, [
      up(a, "1"),
      up(a, "2"),
      up(a, "3"),
      up(a, "4"),
      up(db, "16"),
      up(tool, "1"),
      up(b, "1"),
      `${mirror.host}/${flat(a)}:1`,
    ]);
    await seedImage(engine, [`${mirror.host}/${flat(db)}:16`]);
    const workspace = mkdtempSync(join(tmpdir(), "prepull-workspace-"));
    mkdirSync(join(workspace, ".github/workflows"), { recursive: true });
    writeFileSync(
      join(workspace, ".github/workflows/ci.yml"),
      [
        "name: ci", // 1
        "on: push", // 2
        "jobs:", // 3
        "  test:", // 4
        "    runs-on: ubuntu-latest", // 5
        "    strategy:", // 6
        "      matrix:", // 7
        "        tag: ['1', '2']", // 8
        "        include:", // 9
        "          - tag: '3'", // 10
        `    container: ${upstream.host}/${a}:\${{ matrix.tag }}`, // 11
        "    services:", // 12
        "      db:", // 13
        `        image: ${upstream.host}/${db}:16`, // 14
        "    steps:", // 15
        `      - uses: docker://${upstream.host}/${tool}:1`, // 16
        `      - uses: docker://${upstream.host}/${tool}:\${{ github.sha }}`, // 17
        "  other:", // 18
        "    runs-on: ubuntu-latest", // 19
        "    container:", // 20
        `      image: ${upstream.host}/${b}:1`, // 21
        "    steps:", // 22
        "      - run: true", // 23
        "",
      ].join("\n"),
    );
    // A workflow kept elsewhere is named as one by `workflow:` in front.
    mkdirSync(join(workspace, "ci"));
    writeFileSync(join(workspace, "ci/job.yml"), `jobs:\n  x:\n    runs-on: ubuntu-latest\n    container: ${up(a, "4")}\n`);
    const run = await runAction(
      { "images-from": ".github/workflows/*.yml\nworkflow: ci/job.yml", mirrors: `${mirror.host}/m`, mode: "plan" },
      { env: { ...engine.env, GITHUB_WORKSPACE: workspace } },
    );
    expect(run.exitCode, run.stdout).toBe(0);
    const file = "images-from .github/workflows/ci.yml";
    const expected: [string, string, RegExp][] = [
      [up(a, "1"), `${file} line 11`, /: ok$/],
      [up(a, "2"), `${file} line 11`, /: missing$/],
      [up(a, "3"), `${file} line 11`, /: missing$/],
      [up(db, "16"), `${file} line 14`, /: differs \(mirror sha256:[a-f0-9]{64}, upstream sha256:[a-f0-9]{64}\)$/],
      [up(tool, "1"), `${file} line 16`, /: missing$/],
      [up(b, "1"), `${file} line 21`, /: missing$/],
      [up(a, "4"), "images-from ci/job.yml line 4", /: missing$/],
    ];
    expect(run.outputs.images?.split("\n")).toEqual(expected.map(([image]) => image));
    for (const [image, origin, state] of expected) {
      const result = run.results.find((r) => r.image === image);
      expect(result, image).toMatchObject({ status: "planned", origin });
      expect(result?.mirror, image).toMatch(state);
    }
    // The expression that cannot be known is a warning naming the file and line; that image is left out.
    expect(workflowCommands(run.stdout)).toContainEqual(
      expect.stringMatching(
        /^::warning::images-from: \.github\/workflows\/ci\.yml line 17: job test, step: the expression \$\{\{ github\.sha \}\} cannot be known before the job runs; not pre-pulled$/,
      ),
    );
    // The drift view: 5 missing, 1 differs, each with where it was named, in the log and the summary.
    expect(run.stdout).toMatch(/mirror drift: 5 mirror tag\(s\) missing, 1 differ from upstream, for 7 image\(s\)/);
    expect(run.stdout).toContain(`${mirror.host}/${flat(b)}:1: missing — ${up(b, "1")}, named in ${file} line 21`);
    expect(run.summary).toMatch(/### prepull plan: mirror drift/);
    expect(run.summary).toMatch(/\| [^|]+ \| differs \| [^|]+ \| `images-from \.github\/workflows\/ci\.yml line 14` \|/);
  });

  it("plan drift's summary shows a file path a pull request chose (www.evil.example/login/Dockerfile) as a code span, never a link", async () => {
    const path = uniqueName("drift-path");
    const image = `${upstream.host}/${path}:1`;
    await seedImage(engine, [image]);
    const workspace = mkdtempSync(join(tmpdir(), "prepull-workspace-"));
    mkdirSync(join(workspace, "www.evil.example/login"), { recursive: true });
    writeFileSync(join(workspace, "www.evil.example/login/Dockerfile"), `FROM ${image}\n`);
    const run = await runAction(
      { "images-from": "www.evil.example/login/Dockerfile", mirrors: `${mirror.host}/m`, mode: "plan" },
      { env: { ...engine.env, GITHUB_WORKSPACE: workspace } },
    );
    expect(run.exitCode, run.stdout).toBe(0);
    const row = run.summary.split("\n").find((line) => line.includes("| missing |"));
    expect(row).toBe(
      `| \`${mirror.host}/m/${path.replaceAll("/", "-")}:1\` | missing | \`${image}\` | \`images-from www.evil.example/login/Dockerfile line 1\` |`,
    );
  });

  /** An upstream image the token-auth mirror lacks; the step that pulls it with fill-mirror: true. */
  const missFromMirror = async (inputs: Record<string, string>, options: { runnerTemp?: string } = {}, who: Who = "root") => {
    const path = uniqueName("fill");
    const image = `${upstream.host}/${path}:1`;
    const seeded = await seedImage(engine, [image]);
    const mirrorPath = `m/${path.replaceAll("/", "-")}`;
    // A `REGISTRY=` line: a bare prefix fills Docker Hub's images alone (fill.test.ts).
    const allInputs = { images: image, mirrors: `${upstream.host}=${ghcr.host}/m`, "fill-mirror": "true", backoff: "0.1", ...inputs };
    const step = await act(who, allInputs, { env: engine.env, ...options });
    return { image, digest: seeded.digests[image] ?? "", mirrorPath, allInputs, step };
  };

  for (const who of WHO) {
    it(`fill-mirror: a miss pulled from upstream is in the mirror with upstream's digest after the post step (and not before) (${who})`, async () => {
      const { image, digest, mirrorPath, allInputs, step } = await missFromMirror({ "github-token": PACKAGES_TOKEN }, {}, who);
      expect(step.exitCode, step.stdout).toBe(0);
      expect(step.results[0]).toMatchObject({ image, status: "pulled", source: "upstream", digest });
      expect(JSON.parse(step.state.fill ?? "[]")).toEqual([
        { image, from: `${image}@${digest}`, to: `${ghcr.host}/${mirrorPath}:1`, digest },
      ]);
      // The job did not wait for it: the mirror has nothing yet.
      expect(await ghcrDigest(mirrorPath, "1")).toBeUndefined();

      const post = await act(who, allInputs, { env: engine.env, state: step.state });
      expect(post.exitCode, post.stdout).toBe(0);
      expect(await ghcrDigest(mirrorPath, "1")).toBe(digest);
      expect(post.stdout).toMatch(/fill-mirror: 1 filled, 0 already there, 0 not filled, 0 failed/);
      expect(post.summary).toMatch(/### prepull fill-mirror/);
      expect(workflowCommands(post.stdout).filter((c) => /^::(warning|error)/.test(c))).toEqual([]);
      // The token is masked (as by the pulling step), never printed.
      expect(post.stdout.split("\n").filter((line) => line.includes(PACKAGES_TOKEN))).toEqual([`::add-mask::${PACKAGES_TOKEN}`]);

      // The next run finds the mirror: nothing left to fill.
      await engine.removeAllImages();
      const again = await act(who, allInputs, { env: engine.env });
      expect(again.results[0]).toMatchObject({ status: "pulled", source: "mirror", digest });
      expect(again.state.fill).toBeUndefined();
    });
  }

  it("fill-mirror: a push the registry refuses for the job token (a fork's pull request) is a notice; the post step does not fail", async () => {
    const { digest, mirrorPath, allInputs, step } = await missFromMirror({ "github-token": JOB_TOKEN, "on-failure": "fail" });
    expect(step.exitCode, step.stdout).toBe(0);
    expect(step.results[0]).toMatchObject({ status: "pulled", source: "upstream", digest });
    const post = await runAction(allInputs, { env: engine.env, state: step.state });
    expect(post.exitCode, post.stdout).toBe(0);
    const commands = workflowCommands(post.stdout);
    expect(commands).toContainEqual(
      expect.stringMatching(
        new RegExp(`^::notice::fill-mirror: ${ghcr.host}/${mirrorPath}:1 not filled: push to .* refused \\(HTTP 40[13]`),
      ),
    );
    expect(commands.filter((c) => /^::(warning|error)/.test(c))).toEqual([]);
    expect(await ghcrDigest(mirrorPath, "1")).toBeUndefined();
    expect(post.stdout).toMatch(/fill-mirror: 0 filled, 0 already there, 1 not filled, 0 failed/);
  });

  it("fill-mirror with background: true: the worker marks the miss, the post step fills it", async () => {
    const runnerTemp = mkdtempSync(join(tmpdir(), "prepull-job-"));
    const { digest, mirrorPath, allInputs, step } = await missFromMirror(
      { "github-token": PACKAGES_TOKEN, background: "true" },
      { runnerTemp },
    );
    expect(step.exitCode, step.stdout).toBe(0);
    const wait = await runAction({ mode: "wait" }, { env: engine.env, runnerTemp });
    expect(wait.results[0]).toMatchObject({ status: "pulled", source: "upstream", digest });
    const post = await runAction(allInputs, { env: engine.env, runnerTemp, state: step.state });
    expect(post.exitCode, post.stdout).toBe(0);
    expect(await ghcrDigest(mirrorPath, "1")).toBe(digest);
  });

  it("fill-mirror on the command line (no post step): the copy is made at the end of the run", async () => {
    const path = uniqueName("fill-cli");
    const image = `${upstream.host}/${path}:1`;
    const digest = (await seedImage(engine, [image])).digests[image];
    const mirrorPath = `m/${path.replaceAll("/", "-")}`;
    // Asynchronously: the token server answers from this process.
    const result = await new Promise<{ status: number | null; stderr: string }>((resolve) => {
      const args = ["--images", image, "--mirrors", `${upstream.host}=${ghcr.host}/m`, "--fill-mirror", "true"];
      const env = {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? "/root",
        ...engine.env,
        GITHUB_TOKEN: PACKAGES_TOKEN,
        GITHUB_ACTOR: "octo-runner",
      };
      const child = spawn(join(REPO, "dist/cli.cjs"), args, { env, stdio: ["ignore", "ignore", "pipe"] });
      let stderr = "";
      child.stderr.on("data", (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      child.on("close", (status) => resolve({ status, stderr }));
    });
    expect(result.status, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/fill-mirror: 1 filled/);
    expect(await ghcrDigest(mirrorPath, "1")).toBe(digest);
  });

  it("fill-mirror: a github-token the token server refuses (401 at the token endpoint) is a notice (it was three 15 s waits for an answer already read, then a warning)", async () => {
    const { mirrorPath, allInputs, step } = await missFromMirror({ "github-token": PACKAGES_TOKEN });
    expect(step.exitCode, step.stdout).toBe(0);
    // The post step under another user: the token server refuses octo-runner's token for it.
    const post = await runAction(allInputs, { env: { ...engine.env, GITHUB_ACTOR: "someone-else" }, state: step.state });
    expect(post.exitCode, post.stdout).toBe(0);
    expect(workflowCommands(post.stdout)).toContainEqual(
      expect.stringMatching(new RegExp(`^::notice::fill-mirror: ${ghcr.host}/${mirrorPath}:1 not filled: push to .* refused \\(HTTP 401`)),
    );
    expect(await ghcrDigest(mirrorPath, "1")).toBeUndefined();
  });

  it("a mirror tag that holds other content by the post step is never overwritten", async () => {
    const { image, digest, mirrorPath, allInputs, step } = await missFromMirror({ "github-token": PACKAGES_TOKEN });
    expect(JSON.parse(step.state.fill ?? "[]")[0]).toMatchObject({ image, digest });
    // Someone pushes other content under the tag before the post step.
    const seedConfig = dockerConfig({ [ghcr.host]: `octo-runner:${PACKAGES_TOKEN}` });
    const other = await seedImage(engine, [`${ghcr.host}/${mirrorPath}:1`], { dockerConfig: seedConfig });
    const post = await runAction(allInputs, { env: engine.env, state: step.state });
    expect(post.exitCode).toBe(0);
    expect(await ghcrDigest(mirrorPath, "1")).toBe(other.digests[`${ghcr.host}/${mirrorPath}:1`]);
    expect(post.stdout).toMatch(/left as it is/);
  });
});
