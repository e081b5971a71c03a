// Issue 10, end to end: fetched scripts and registries may be hostile. set-vars scripts as
// builds run them (§5), the token out of reach of fetched code (§6), untrusted text never a
// workflow command (§7), Docker Hub's 429 never hammered (§8).
import { execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { itkSetVarsScript } from "../fixtures/itk-set-vars.js";
import { JOB_TOKEN, runAction, seedImage, uniqueName, useWorld, workflowCommands, worldUnavailable } from "../world/index.js";

/** A registry error message that tries every way a line can become a workflow command. */
const EVIL = "gone\r::set-output name=failed::0\n::add-mask::prepull\r\n  ::error::pwned ##[error]legacy-pwned";
const evilBody = (code: string) => JSON.stringify({ errors: [{ code, message: EVIL }] });
/**
 * Commands the registry's text would have issued: a line of its own that the runner reads as
 * set-output, add-mask or an error annotation, or a legacy `##[error]` line. prepull's own
 * annotations carrying that text are fine: their data is escaped (CR → %0D, LF → %0A).
 */
const injected = (stdout: string) =>
  workflowCommands(stdout).filter(
    (c) => /^::(set-output|add-mask::prepull|error::pwned)/.test(c) || (!c.startsWith("::") && c.includes("##[error]legacy-pwned")),
  );

describe.skipIf(worldUnavailable !== "")("hostile scripts and registries, end to end", () => {
  const {
    engine,
    registry: { registry, mirror },
    proxy: { registry: proxy },
    files,
  } = useWorld({ registries: { registry: { proxy: true }, mirror: {} }, files: true, cleanEngine: true });

  const seeded = async (name: string) => {
    const path = uniqueName(name);
    const { id, digests } = await seedImage(engine, [`${registry.host}/${path}:1`]);
    return { path, id, up: `${proxy.host}/${path}:1`, digest: digests[`${registry.host}/${path}:1`] ?? "" };
  };
  const serve = (name: string, body: string) => {
    files.routes.set(`/${name}/set-vars.sh`, { status: 200, body });
    return files.url(`/${name}/set-vars.sh`);
  };

  describe("§5 set-vars scripts as builds run them", () => {
    it("a script that refuses a direct run is sourced as a build sources it: $0 is its caller, beside it", async () => {
      const { up, id } = await seeded("guarded");
      const url = serve(
        "guarded",
        `if [[ "\${BASH_SOURCE[0]}" == "\${0}" ]]; then
  echo "variable config files should only be sourced" >&2
  exit 255
fi
# dirname "$0" is the script's own directory (scripts look for siblings there)
[[ -f "$(dirname "$0")/$(basename "\${BASH_SOURCE[0]}")" ]] || { echo "not beside its caller" >&2; exit 3; }
CONTAINER_SOURCE=${up}
`,
      );
      const run = await runAction({ "set-vars-url": url, "on-failure": "fail" }, { env: engine.env });
      expect(run.exitCode, run.stdout).toBe(0);
      expect(run.outputs.images).toBe(up);
      expect(run.results[0]).toMatchObject({ status: "pulled" });
      expect(await engine.imageId(up)).toBe(id);
    });

    it("set-vars-env values in quotes mean what is inside them (NAME=\"value\", NAME='value')", async () => {
      const image = `${registry.host}/dockcross/manylinux_2_28-x64:20240304-9e57d2b`;
      await seedImage(engine, [image]);
      const url = serve("itk", itkSetVarsScript({ x64: registry.host, aarch64: registry.host }));
      const run = await runAction(
        { "set-vars-url": url, "set-vars-env": `MANYLINUX_VERSION="_2_28"\nTARGET_ARCH='x64'`, "on-failure": "fail" },
        { env: engine.env },
      );
      expect(run.exitCode, run.stdout).toBe(0);
      expect(run.outputs.images).toBe(image);
      expect(run.results[0]).toMatchObject({ status: "pulled" });
    });

    it("nothing the script starts outlives it, in its group or out of it", async () => {
      const { up } = await seeded("children");
      // Durations unique to this run, so that nothing else on the machine is mistaken for them.
      const mark = String(Date.now() % 1_000_000).padStart(6, "0");
      const url = serve(
        "children",
        `sleep 313.${mark} &
setsid sleep 314.${mark} &
( sleep 315.${mark} & )
CONTAINER_SOURCE=${up}
`,
      );
      const run = await runAction({ "set-vars-url": url, "on-failure": "fail" }, { env: engine.env });
      expect(run.exitCode, run.stdout).toBe(0);
      const left = (() => {
        try {
          return execFileSync("pgrep", ["-f", `^sleep 31[345]\\.${mark}$`], { encoding: "utf8" }).trim();
        } catch {
          return ""; // pgrep exits 1 when nothing matches
        }
      })();
      expect(left).toBe("");
    });

    it("what it printed is one ordered stream: the failure quotes the last line, whichever pipe it came by", async () => {
      const url = serve("ordered", 'echo first\necho second >&2\necho third\necho "the real reason" >&2\nexit 2\n');
      const run = await runAction({ "set-vars-url": url, "on-failure": "fail" }, { env: engine.env });
      expect(run.exitCode).toBe(1);
      expect(run.stdout).toMatch(/first\n.*second\n.*third\n.*the real reason/);
      expect(run.stdout).toMatch(/::error::set-vars script exited with status 2: the real reason; no image from it/);
    });
  });

  describe("§6 the token, out of reach of fetched code", () => {
    it("the script sees no process of the step: no environ with an input or the token, and it cannot unmount its /proc", async () => {
      const { up } = await seeded("isolated");
      const url = serve(
        "snoop",
        `hits=0
for f in /proc/[0-9]*/environ; do
  if grep -qaF -e INPUT_ -e "${JOB_TOKEN}" "$f" 2>/dev/null; then hits=$((hits+1)); fi
done
echo "environ-hits=$hits processes=$(ls -d /proc/[0-9]* | wc -l)"
if umount /proc 2>/dev/null; then echo "umount=yes"; else echo "umount=no"; fi
CONTAINER_SOURCE=${up}
`,
      );
      const run = await runAction({ "set-vars-url": url, "on-failure": "fail" }, { env: engine.env });
      expect(run.exitCode, run.stdout).toBe(0);
      expect(run.stdout).toContain("environ-hits=0");
      expect(run.stdout).toContain("umount=no");
      expect(run.stdout).toMatch(/set-vars: the script runs in a sandbox made as root, as the user nobody/);
    });

    it("the engine CLI's environment holds no input and no token", async () => {
      const { up } = await seeded("cli-env");
      const bin = mkdtempSync(join(tmpdir(), "prepull-docker-wrapper-"));
      const realDocker = execFileSync("sh", ["-c", "command -v docker"], { encoding: "utf8" }).trim();
      writeFileSync(join(bin, "docker"), `#!/bin/sh\nenv > "${bin}/env-$$"\nexec "${realDocker}" "$@"\n`);
      chmodSync(join(bin, "docker"), 0o755);
      // A credential helper (which has nothing stored) keeps the pull with the CLI: without one,
      // a pull goes over the engine's API and no CLI runs at all.
      writeFileSync(join(bin, "docker-credential-none"), "#!/bin/sh\necho 'credentials not found in native keychain'\nexit 1\n");
      chmodSync(join(bin, "docker-credential-none"), 0o755);
      const config = mkdtempSync(join(tmpdir(), "prepull-docker-config-"));
      writeFileSync(join(config, "config.json"), JSON.stringify({ credsStore: "none" }));
      const env = { ...engine.env, PATH: `${bin}:${process.env.PATH}`, DOCKER_CONFIG: config };
      const run = await runAction({ images: up }, { env });
      expect(run.results[0]).toMatchObject({ status: "pulled" });
      const envs = readdirSync(bin)
        .filter((name) => name.startsWith("env-"))
        .map((name) => readFileSync(join(bin, name), "utf8"));
      expect(envs.length).toBeGreaterThan(0);
      for (const env of envs) {
        expect(env).not.toMatch(/^INPUT_/m);
        expect(env).not.toContain(JOB_TOKEN);
      }
    });
  });

  describe("§7 untrusted text never becomes a workflow command", () => {
    it("a registry's error text, through the engine's stderr, in a pull", async () => {
      const { up } = await seeded("evil-pull");
      proxy.addRule({
        method: "GET",
        path: /\/manifests\//,
        agent: /^docker\//,
        fault: { kind: "status", status: 404, body: evilBody("MANIFEST_UNKNOWN") },
      });
      const run = await runAction({ images: up }, { env: engine.env });
      expect(run.results[0]).toMatchObject({ status: "failed" });
      expect(run.stdout).toContain("pwned"); // shown …
      expect(injected(run.stdout)).toEqual([]); // … never as a command
      expect(run.outputs.failed).toBe("1");
    });

    it("a registry's error message in mirror mode", async () => {
      const { up } = await seeded("evil-mirror");
      proxy.addRule({ method: "GET", path: /\/manifests\//, fault: { kind: "status", status: 403, body: evilBody("DENIED") } });
      const run = await runAction({ images: up, mirrors: `${mirror.host}/m`, mode: "mirror" }, { env: engine.env });
      expect(run.results[0]).toMatchObject({ status: "failed" });
      expect(run.results[0]?.reason).toContain("pwned");
      expect(injected(run.stdout)).toEqual([]);
    });

    it("a worker's log replayed by the wait step, and the post step's table", async () => {
      const { up } = await seeded("evil-background");
      proxy.addRule({
        method: "GET",
        path: /\/manifests\//,
        agent: /^docker\//,
        fault: { kind: "status", status: 404, body: evilBody("MANIFEST_UNKNOWN") },
      });
      const job = mkdtempSync(join(tmpdir(), "prepull-job-"));
      await runAction({ images: up, background: "true" }, { env: engine.env, runnerTemp: job });
      const wait = await runAction({ mode: "wait" }, { env: engine.env, runnerTemp: job });
      expect(wait.results[0]).toMatchObject({ status: "failed" });
      expect(wait.stdout).toContain("pwned");
      expect(injected(wait.stdout)).toEqual([]);

      const uncollected = mkdtempSync(join(tmpdir(), "prepull-job-"));
      const step = await runAction({ images: up, background: "true" }, { env: engine.env, runnerTemp: uncollected });
      const dir = step.state.workerDir ?? "";
      const until = Date.now() + 60_000;
      while (!readFileSync(join(dir, "state.json"), "utf8").includes('"done"') && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 100));
      }
      const post = await runAction({}, { env: engine.env, runnerTemp: uncollected, state: { ...step.state, isPost: "true" } });
      expect(post.stdout).toMatch(/finished but no step with mode: wait collected it/);
      expect(post.stdout).toContain("pwned");
      expect(injected(post.stdout)).toEqual([]);
    }, 120_000);
  });

  describe("§8 Docker Hub's 429 is never hammered", () => {
    const HUB_429 = {
      kind: "status" as const,
      status: 429,
      headers: { "retry-after": "1" },
      body: '{"errors":[{"code":"TOOMANYREQUESTS","message":"You have reached your unauthenticated pull rate limit. https://www.docker.com/increase-rate-limit"}]}',
    };

    it("mirror mode: Hub's toomanyrequests ends the copy at once, one request", async () => {
      const { up } = await seeded("hub-429-mirror");
      proxy.addRule({ method: "GET", path: /\/manifests\//, fault: HUB_429 });
      const run = await runAction({ images: up, mirrors: `${mirror.host}/m`, mode: "mirror", backoff: "0.1" }, { env: engine.env });
      expect(run.results[0]).toMatchObject({ status: "failed", attempts: 1 });
      expect(run.results[0]?.reason).toMatch(/HTTP 429 TOOMANYREQUESTS.*Docker Hub pull quota spent/);
      expect(proxy.count("GET", /\/manifests\//)).toBe(1);
    });

    it("GHCR's stated throttle (retry-after, allowed: N/minute) from any host is waited out and retried, not taken for a spent quota", async () => {
      const { up, id } = await seeded("ghcr-throttle");
      proxy.addRule({
        method: "GET",
        path: /\/manifests\//,
        agent: /^docker\//,
        fault: {
          kind: "status",
          status: 429,
          body: '{"errors":[{"code":"TOOMANYREQUESTS","message":"retry-after: 1s, allowed: 44000/minute"}]}',
        },
        times: 1,
      });
      const run = await runAction({ images: up, backoff: "0" }, { env: engine.env });
      expect(run.exitCode, run.stdout).toBe(0);
      expect(run.results[0]).toMatchObject({ status: "pulled", source: "upstream", attempts: 2 });
      expect(run.stdout).toMatch(/attempt 1\/3 failed, transient \(throttled \(429\)\).*retrying in 1\.0 s/);
      expect(await engine.imageId(up)).toBe(id);
    });
  });
});
