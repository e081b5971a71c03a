// Issue 7, end to end: a background pull that overlaps the job, a wait step, the post step.
import { chownSync, mkdtempSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { isAlive as alive, readState } from "../../src/background.js";
import type { RunOptions } from "../world/action.js";
import { runAction, runAsRunner, seedImage, uniqueName, useWorld, worldUnavailable } from "../world/index.js";

describe.skipIf(worldUnavailable !== "")("background pulls, end to end", () => {
  const world = useWorld({ registries: { upstream: {}, mirror: { proxy: true } }, cleanEngine: true, runners: ["sudo"] });
  const {
    engine,
    registry: { upstream, mirror },
    proxy: { mirror: proxy },
  } = world;
  /** the runner's user with sudo, as on a GitHub-hosted runner: the steps, the worker and the post step run as it */
  const layout = world.runner("sudo");
  let big: { up: string; id: string };

  beforeAll(async () => {
    // ≥ 200 MB across several layers, in the mirror and upstream.
    const path = uniqueName("big");
    const up = `${upstream.host}/${path}:1`;
    const built = await seedImage(engine, [up, `${mirror.host}/mirror/${path.replaceAll("/", "-")}:1`], {
      layers: 4,
      layerBytes: 52_000_000,
    });
    big = { up, id: built.id };
  }, 300_000);

  const job = () => mkdtempSync(join(tmpdir(), "prepull-job-"));
  /** Who runs the steps: root (as in a container job) or the runner's user with sudo (a hosted runner). */
  const WHO = ["root", "the runner user with sudo"] as const;
  type Who = (typeof WHO)[number];
  /** A job's RUNNER_TEMP that `who` owns. */
  const jobOf = (who: Who) => {
    if (who === "root") return job();
    const dir = mkdtempSync(join(layout.temp, "job-"));
    chownSync(dir, layout.user.uid, layout.user.gid);
    return dir;
  };
  const act = (who: Who, inputs: Record<string, string>, options: RunOptions) =>
    who === "root" ? runAction(inputs, options) : runAsRunner(layout, inputs, options);
  const inputs = (images: string, extra: Record<string, string> = {}) => ({ images, mirrors: `${proxy.host}/mirror`, ...extra });

  for (const who of WHO) {
    it(`returns within 2 s while a ≥ 200 MB pull goes on; the worker outlives the step; wait reports as a foreground run would (${who})`, async () => {
      const runnerTemp = jobOf(who);
      // A slow first blob keeps the pull going well past the step's end.
      proxy.addRule({ method: "GET", path: /\/blobs\//, fault: { kind: "delay", ms: 3000 }, times: 1 });
      const step = await act(who, inputs(big.up, { background: "true" }), { env: engine.env, runnerTemp });
      expect(step.exitCode, step.stdout).toBe(0);
      expect(step.seconds).toBeLessThan(2);
      expect(step.outputs.images).toBe(big.up);
      expect(step.stdout).toMatch(/started a background pull of 1 image\(s\) \(worker pid \d+\)/);
      const workerDir = step.state.workerDir ?? "";
      const running = readState(workerDir);
      expect(running?.status).toBe("running");
      // The step's process has ended; the worker has not.
      expect(alive(running?.pid ?? 0)).toBe(true);
      // …as the step's own user.
      expect(statSync(`/proc/${running?.pid}`).uid).toBe(who === "root" ? 0 : layout.user.uid);
      expect(await engine.imageId(big.up)).toBeUndefined();

      const wait = await act(who, { mode: "wait" }, { env: engine.env, runnerTemp });
      expect(wait.exitCode, wait.stdout).toBe(0);
      expect(wait.results).toHaveLength(1);
      expect(wait.results[0]).toMatchObject({ image: big.up, source: "mirror", status: "pulled" });
      expect(wait.outputs.failed).toBe("0");
      expect(wait.stdout).toMatch(/::group::.*: pulled from mirror/); // the worker's log, streamed
      expect(wait.summary).toContain("| image | status |");
      expect(await engine.imageId(big.up)).toBe(big.id);
      expect(alive(running?.pid ?? 0)).toBe(false);

      // The same image in the foreground gives the same result.
      await engine.removeAllImages();
      const foreground = await act(who, inputs(big.up), { env: engine.env });
      const comparable = (r: Record<string, unknown>) => ({
        image: r.image,
        source: r.source,
        ref: r.ref,
        digest: r.digest,
        status: r.status,
      });
      expect(comparable(wait.results[0] ?? {})).toEqual(comparable(foreground.results[0] ?? {}));

      // The post step after a wait has nothing left to do.
      const postStep = await act(who, {}, { env: engine.env, runnerTemp, state: step.state });
      expect(postStep.stdout).not.toMatch(/background/);
    });
  }

  it("the post step with no wait stops a worker still running, and says so", async () => {
    const runnerTemp = job();
    proxy.addRule({ method: "GET", path: /\/blobs\//, fault: { kind: "stall" } });
    const step = await runAction(inputs(big.up, { background: "true" }), { env: engine.env, runnerTemp });
    const pid = readState(step.state.workerDir ?? "")?.pid ?? 0;
    expect(alive(pid)).toBe(true);
    const postStep = await runAction({}, { env: engine.env, runnerTemp, state: step.state });
    expect(postStep.exitCode).toBe(0);
    expect(postStep.stdout).toMatch(
      /::warning::the background pull is still running and no step with mode: wait collected it; stopping it/,
    );
    await new Promise((r) => setTimeout(r, 500));
    expect(alive(pid)).toBe(false);
  });

  it("the post step with no wait reports a finished worker's results", async () => {
    const runnerTemp = job();
    const path = uniqueName("small");
    const up = `${upstream.host}/${path}:1`;
    await seedImage(engine, [up]);
    const step = await runAction(inputs(up, { background: "true" }), { env: engine.env, runnerTemp });
    for (let i = 0; i < 100 && readState(step.state.workerDir ?? "")?.status !== "done"; i++) await new Promise((r) => setTimeout(r, 100));
    const postStep = await runAction({}, { env: engine.env, runnerTemp, state: step.state });
    expect(postStep.stdout).toMatch(
      /::notice::the background pull finished but no step with mode: wait collected it: 0 of 1 image\(s\) failed/,
    );
    expect(postStep.stdout).toContain(up);
    expect(postStep.summary).toContain("reported by the post step");
  });

  it("two background steps in one job keep their own state; one wait reports both", async () => {
    const runnerTemp = job();
    const images = await Promise.all(
      ["one", "two"].map(async (name) => {
        const up = `${upstream.host}/${uniqueName(name)}:1`;
        const { id } = await seedImage(engine, [up]);
        return { up, id };
      }),
    );
    const first = await runAction(inputs(images[0]?.up ?? "", { background: "true" }), { env: engine.env, runnerTemp });
    const second = await runAction(inputs(images[1]?.up ?? "", { background: "true" }), { env: engine.env, runnerTemp });
    expect(first.state.workerDir).not.toBe(second.state.workerDir);
    const wait = await runAction({ mode: "wait" }, { env: engine.env, runnerTemp });
    expect(wait.results.map((r) => [r.image, r.status])).toEqual([
      [images[0]?.up, "pulled"],
      [images[1]?.up, "pulled"],
    ]);
    for (const image of images) expect(await engine.imageId(image.up)).toBe(image.id);
    // Collected: a second wait has nothing to wait for.
    const again = await runAction({ mode: "wait" }, { env: engine.env, runnerTemp });
    expect(again.exitCode).toBe(1);
  });

  it("a wait with no background pull is a clear error", async () => {
    const wait = await runAction({ mode: "wait" }, { env: engine.env, runnerTemp: job() });
    expect(wait.exitCode).toBe(1);
    expect(wait.stdout).toContain(
      "::error::mode: wait found no background pull in this job to wait for: start one earlier with background: true",
    );
  });

  describe("issue 21 §6: results never lost, an image without one failed with why", () => {
    /** Polls the worker's state until `ready` holds (or 60 s pass). */
    const until = async (dir: string, ready: (state: ReturnType<typeof readState>) => boolean) => {
      const end = Date.now() + 60_000;
      while (!ready(readState(dir)) && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
      return readState(dir);
    };
    const kill = (pid: number) => {
      for (const target of [-pid, pid]) {
        try {
          process.kill(target, "SIGKILL");
        } catch {
          // already gone
        }
      }
    };
    const small = async (name: string) => {
      const up = `${upstream.host}/${uniqueName(name)}:1`;
      const { id } = await seedImage(engine, [up]);
      return { up, id };
    };

    it("the wait deadline leaves room for every source and the backoff: a healthy worker with a failing mirror is not cut off", async () => {
      const runnerTemp = job();
      const path = uniqueName("deadline");
      const up = `${upstream.host}/${path}:1`;
      const { id } = await seedImage(engine, [up, `${mirror.host}/mirror/${path.replaceAll("/", "-")}:1`]);
      // The mirror's probes answer; the engine's pulls from it get 503 twice, 8–12 s apart.
      proxy.addRule({ method: "GET", path: /\/manifests\//, agent: /^docker\//, fault: { kind: "status", status: 503 } });
      const settings = { background: "true", attempts: "2", backoff: "8", "pull-timeout": "4" };
      await runAction(inputs(up, settings), { env: engine.env, runnerTemp });
      const wait = await runAction({ mode: "wait" }, { env: engine.env, runnerTemp });
      // pull-timeout × attempts alone (8 s) would have stopped it mid-backoff.
      expect(wait.seconds).toBeGreaterThan(8);
      expect(
        wait.results.map((r) => [r.image, r.status, r.source]),
        `${wait.stdout}\n${JSON.stringify(wait.results)}`,
      ).toEqual([[up, "pulled", "upstream"]]);
      expect(await engine.imageId(up)).toBe(id);
    });
    it("wait: a worker done without results for the images it was asked for gives each a failed result, never results=[] failed=0", async () => {
      const runnerTemp = job();
      const [one, two] = [await small("never-one"), await small("never-two")];
      const step = await runAction(inputs(`${one.up}\n${two.up}`, { background: "true" }), { env: engine.env, runnerTemp });
      const dir = step.state.workerDir ?? "";
      const pid = readState(dir)?.pid ?? 0;
      // The worker's last word, as one that lost its results wrote it (the old worker did, on an
      // exception). Stopped first, so that it writes nothing over it; one already gone writes nothing either.
      try {
        process.kill(pid, "SIGSTOP");
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error;
      }
      try {
        writeFileSync(join(dir, "state.json"), JSON.stringify({ status: "done", pid, results: [], problems: [] }));
        const wait = await runAction({ mode: "wait" }, { env: engine.env, runnerTemp });
        expect(wait.results.map((r) => [r.image, r.status, r.reason])).toEqual([
          [one.up, "failed", "the background worker finished without a result for it"],
          [two.up, "failed", "the background worker finished without a result for it"],
        ]);
        expect(wait.outputs.failed).toBe("2");
      } finally {
        kill(pid);
      }
    });

    for (const who of WHO) {
      it(`a worker that crashes mid-run: the post step says so (not 'finished'), keeps what it pulled, fails the rest with why (${who})`, async () => {
        const runnerTemp = jobOf(who);
        const fast = await small("crash-fast");
        const slowPath = uniqueName("crash-slow");
        const slow = `${upstream.host}/${slowPath}:1`;
        await seedImage(engine, [slow, `${mirror.host}/mirror/${slowPath.replaceAll("/", "-")}:1`]);
        // One at a time, the fast one first; the slow one's blobs stall at the mirror (for 20 s, so
        // that the engine's download slots come free for the tests after this one).
        proxy.addRule({ method: "GET", path: /\/blobs\//, fault: { kind: "stall", ms: 20_000 } });
        const step = await act(who, inputs(`${fast.up}\n${slow}`, { background: "true", concurrency: "1" }), {
          env: engine.env,
          runnerTemp,
        });
        const dir = step.state.workerDir ?? "";
        const running = await until(dir, (state) => (state?.results ?? []).some((r) => r.image === fast.up));
        expect(running?.status).toBe("running");
        kill(running?.pid ?? 0); // a crash: no last word from the worker
        await new Promise((r) => setTimeout(r, 300));
        const postStep = await act(who, {}, { env: engine.env, runnerTemp, state: step.state });
        expect(postStep.stdout).toMatch(/::warning::the background worker \(pid \d+\) ended before it finished.*1 of 2 image\(s\) failed/);
        expect(postStep.stdout).not.toMatch(/background pull finished/);
        expect(postStep.summary).toMatch(new RegExp(`${fast.up}.*\\| pulled \\|`));
        expect(postStep.summary).toMatch(new RegExp(`${slow}.*\\| failed \\|.*the background worker ended without a result for it`));
      });
    }
  });
});
