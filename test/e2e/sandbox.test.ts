// Issue 21 §1, end to end: the set-vars script as a GitHub-hosted runner runs it. The action
// runs as the non-root user `runner` (passwordless sudo) and as a user without sudo, from its
// _actions copy, in a /home/<user>/work layout with a checkout token in .git/config and a
// registry login in ~/.docker/config.json. A hostile script tries every forbidden thing; each
// must fail, while an ITK-like script still resolves its image and the image is pulled.

import type { ChildProcess } from "node:child_process";
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { itkSetVarsScript } from "../fixtures/itk-set-vars.js";
import {
  CHECKOUT_TOKEN,
  DOCKER_LOGIN,
  type Docker,
  fileCommandFiles,
  type RunnerLayout,
  type RunnerVariant,
  runAction,
  runAsRunner,
  seedImage,
  uniqueName,
  useWorld,
  workflowCommands,
  worldUnavailable,
} from "../world/index.js";

const b64 = (text: string) => Buffer.from(text).toString("base64");
const sha = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");
const sleeping = (seconds: string) =>
  execFileSync("ps", ["-eo", "pid,args"], { encoding: "utf8" })
    .split("\n")
    .filter((line) => line.includes(`sleep ${seconds}`));
/** A unique `sleep` duration: the process table shows whether anything the script started is left. */
const uniqueSleep = () => `${200 + Math.floor(Math.random() * 700)}.${randomBytes(3).readUIntBE(0, 3)}`;

/** Tries each thing DESIGN.md says the script must not reach, and says for each what happened. */
function hostileScript(layout: RunnerLayout, canaryPort: number, marker: string, sleep: string, image: string): string {
  const { work } = layout;
  const home = layout.user.home;
  return `probe() { echo "probe $1=$2"; }
if grep -qs extraheader "${layout.gitConfig}"; then probe git-config READ; cat "${layout.gitConfig}"; else probe git-config denied; fi
if grep -qs auths "${home}/.docker/config.json"; then probe docker-login READ; cat "${home}/.docker/config.json"; else probe docker-login denied; fi
n=0; for f in "${work}"/_temp/_runner_file_commands/*; do echo "BASH_ENV=/tmp/${marker}" >> "$f" 2>/dev/null && n=$((n+1)); done
probe file-commands "$([ $n -gt 0 ] && echo WROTE-$n || echo denied)"
n=0; for f in "${work}"/_actions/prepull/prepull/v1/dist/*.cjs; do echo "/*${marker}*/" >> "$f" 2>/dev/null && n=$((n+1)); done
probe action-code "$([ $n -gt 0 ] && echo WROTE-$n || echo denied)"
if (exec 9<>/dev/tcp/127.0.0.1/${canaryPort}) 2>/dev/null; then probe loopback CONNECTED; else probe loopback denied; fi
n=$(grep -laF INPUT_ /proc/[0-9]*/environ 2>/dev/null | wc -l)
probe environ "$([ $n -gt 0 ] && echo READ-$n || echo denied)"
if sudo -n true 2>/dev/null; then probe sudo ROOT; else probe sudo denied; fi
if unshare --user --map-root-user --mount true 2>/dev/null; then probe own-namespace MADE; else probe own-namespace denied; fi
if echo x > "${home}/${marker}" 2>/dev/null; then probe home-write WROTE; else probe home-write denied; fi
if echo x > "${work}/${marker}" 2>/dev/null; then probe work-write WROTE; else probe work-write denied; fi
echo x > "/tmp/${marker}" 2>/dev/null
setsid sleep ${sleep} >/dev/null 2>&1 < /dev/null &
CONTAINER_SOURCE=${image}
`;
}

const ALL_DENIED = {
  "git-config": "denied",
  "docker-login": "denied",
  "file-commands": "denied",
  "action-code": "denied",
  loopback: "denied",
  environ: "denied",
  sudo: "denied",
  "own-namespace": "denied",
  "home-write": "denied",
  "work-write": "denied",
};

const probes = (stdout: string) => Object.fromEntries([...stdout.matchAll(/probe (\S+)=(\S+)/g)].map((m) => [m[1], m[2]]));

describe.skipIf(worldUnavailable !== "")("the set-vars sandbox on a runner-shaped machine (issue 21 §1)", () => {
  const world = useWorld({ registries: { registry: {} }, files: true, cleanEngine: true, runners: ["sudo", "no-sudo"] });
  const {
    engine,
    registry: { registry },
    files,
  } = world;
  let canary: Server;
  let connections = 0;

  beforeAll(async () => {
    canary = createServer((socket) => {
      connections++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => canary.listen(0, "127.0.0.1", resolve));
  });
  afterAll(() => {
    canary?.close();
  });

  const canaryPort = () => {
    const address = canary.address();
    return typeof address === "object" && address ? address.port : 0;
  };
  const serve = (name: string, body: string) => {
    const path = `/${uniqueName(name)}/set-vars.sh`;
    files.routes.set(path, { status: 200, body });
    return files.url(path);
  };
  const seeded = async (name: string) => {
    const up = `${registry.host}/${uniqueName(name)}:1`;
    await seedImage(engine, [up]);
    await engine.removeAllImages();
    return up;
  };
  const tempDirs = (uid: number) =>
    readdirSync(tmpdir()).filter((name) => name.startsWith("prepull-set-vars-") && statSync(join(tmpdir(), name)).uid === uid);
  /** The user's set-vars temporary directories that were not there before `before` was taken. */
  const leftTempDirs = (uid: number, before: string[]) => tempDirs(uid).filter((name) => !before.includes(name));

  const variants: [RunnerVariant, RegExp][] = [
    ["sudo", /set-vars: the script runs in a sandbox made as root through sudo, as the user nobody: a read-only/],
    [
      "no-sudo",
      /set-vars: the script runs in a sandbox in a user namespace \(not as root: sudo -n: sudo: a password is required\): a read-only/,
    ],
  ];
  describe.each(variants)("as a runner user (%s)", (variant, logged) => {
    const layout = world.runner(variant);

    it("a hostile script reaches nothing: no token, login, file-command file, action code, loopback server, environ, sudo, namespace of its own, write outside its /tmp, or process left behind", async () => {
      const marker = `prepull-pwned-${randomBytes(4).toString("hex")}`;
      const sleep = uniqueSleep();
      const image = await seeded(`hostile-${variant}`);
      const gitConfig = readFileSync(layout.gitConfig, "utf8");
      const dist = readdirSync(join(layout.actionDir, "dist")).filter((name) => name.endsWith(".cjs"));
      const before = Object.fromEntries(dist.map((name) => [name, sha(join(layout.actionDir, "dist", name))]));
      connections = 0;
      const temps = tempDirs(layout.user.uid);
      const url = serve("hostile", hostileScript(layout, canaryPort(), marker, sleep, image));
      const run = await runAsRunner(layout, { "set-vars-url": url, "on-failure": "fail" }, { env: engine.env });
      expect(run.exitCode, run.stdout + run.stderr).toBe(0);
      expect(probes(run.stdout)).toEqual(ALL_DENIED);
      expect(run.stdout).toMatch(logged);
      expect(run.stdout).not.toMatch(/::warning::set-vars/);
      // The image it named is still resolved and pulled, as the runner's user.
      expect(run.outputs.images).toBe(image);
      expect(run.results[0]).toMatchObject({ image, status: "pulled" });
      // Nothing it read, nothing it wrote.
      for (const secret of [b64(`x-access-token:${CHECKOUT_TOKEN}`), b64(DOCKER_LOGIN)]) {
        expect(run.stdout + run.stderr + JSON.stringify(run.outputs)).not.toContain(secret);
      }
      expect(readFileSync(layout.gitConfig, "utf8")).toBe(gitConfig);
      const commandFiles = fileCommandFiles(layout);
      expect(commandFiles.length).toBeGreaterThanOrEqual(5);
      for (const file of commandFiles) expect(readFileSync(file, "utf8")).not.toContain(marker);
      for (const name of dist) expect(sha(join(layout.actionDir, "dist", name)), name).toBe(before[name]);
      expect(connections).toBe(0);
      for (const path of [join(tmpdir(), marker), join(layout.user.home, marker), join(layout.work, marker)])
        expect(existsSync(path), path).toBe(false);
      expect(sleeping(sleep)).toEqual([]);
      expect(leftTempDirs(layout.user.uid, temps)).toEqual([]);
    });

    it("an ITK-like script still resolves its image, which is pulled", async () => {
      const up = `${registry.host}/dockcross/manylinux_2_28-x64:20240304-9e57d2b`;
      await seedImage(engine, [up]);
      await engine.removeAllImages();
      const url = serve("itk", itkSetVarsScript({ x64: registry.host, aarch64: registry.host }));
      const run = await runAsRunner(
        layout,
        { "set-vars-url": url, "set-vars-env": "MANYLINUX_VERSION=_2_28\nTARGET_ARCH=x64", "on-failure": "fail" },
        { env: engine.env },
      );
      expect(run.exitCode, run.stdout + run.stderr).toBe(0);
      expect(run.stdout).toMatch(logged);
      expect(run.outputs.images).toBe(up);
      expect(run.results[0]).toMatchObject({ image: up, status: "pulled", source: "upstream" });
    });

    it("a script flooding every descriptor it has with 800 MB ends as a clear failure: the step completes, its temporary directory is gone", async () => {
      const url = serve(
        "flood",
        'for fd in $(ls /proc/$$/fd); do [ "$fd" -gt 2 ] && { yes A=B | head -c 800000000 >&"$fd"; } 2>/dev/null; done\nCONTAINER_SOURCE=x/y:1\n',
      );
      const temps = tempDirs(layout.user.uid);
      const run = await runAsRunner(layout, { "set-vars-url": url }, { env: engine.env });
      expect(run.exitCode, run.stdout + run.stderr).toBe(0);
      expect(run.stderr).not.toMatch(/RangeError/);
      // The one problem of the step, said as a warning (on-failure: warn, the default); nothing else warned or failed.
      const overflow =
        "::warning::set-vars script sent more than 64 KiB of values back; none of them is used (on-failure: warn, the build's own pull is the last resort)";
      expect(workflowCommands(run.stdout).filter((c) => /^::(warning|error)::/.test(c))).toEqual([overflow]);
      // None of its values is used, not even the well-formed line after the flood: no image, no result, none failed.
      expect(run.outputs.images).toBe("");
      expect(run.results).toEqual([]);
      expect(run.outputs.failed).toBe("0");
      expect(run.stdout).not.toMatch(/x\/y:1/);
      expect(leftTempDirs(layout.user.uid, temps)).toEqual([]);
    });

    it("SIGTERM of the step leaves nothing of the script running", async () => {
      await stoppedLeavesNothing(layout, serve, engine);
    });

    it("set-vars-env values reach the script but no command line (root's, in ps and sudo's log)", async () => {
      const image = await seeded(`env-${variant}`);
      const url = serve("env", "sleep 2\nCONTAINER_SOURCE=$PREPULL_TEST_SOURCE\n");
      const inputs = { "set-vars-url": url, "set-vars-env": `PREPULL_TEST_SOURCE=${image}`, "on-failure": "fail" };
      let done = false;
      const running = runAsRunner(layout, inputs, { env: engine.env }).finally(() => {
        done = true;
      });
      const seen = new Set<string>();
      while (!done) {
        for (const line of execFileSync("ps", ["-eo", "args"], { encoding: "utf8" }).split("\n"))
          if (line.includes("PREPULL_TEST_SOURCE=")) seen.add(line);
        await new Promise((r) => setTimeout(r, 50));
      }
      const run = await running;
      expect(run.exitCode, run.stdout + run.stderr).toBe(0);
      expect(run.outputs.images).toBe(image);
      expect([...seen]).toEqual([]);
    });

    it("a script that ignores TERM in a session of its own, or only ignores TERM, is gone after SIGTERM of the step", async () => {
      for (const [script, marker] of hostileScripts())
        await hostileLeavesNothing(serve(`hostile-${variant}`, script), marker, "sigterm", layout, engine.env);
    });

    // The time limit's stop: with sudo, root's `timeout` KILLs unshare as well; in a user namespace
    // there is no such wrapper, and the step's own deadline ends the namespace (its first process
    // dies with unshare, and takes every process of the PID namespace with it).
    it("a script that ignores TERM in a session of its own is gone once the step's time limit ends it", async () => {
      const [script, marker] = hostileScripts()[0] as [string, string];
      await hostileLeavesNothing(serve(`deadline-${variant}`, script), marker, "deadline", layout, engine.env);
    }, 90_000);
  });

  describe("as root", () => {
    it("a script that ignores TERM in a session of its own, or only ignores TERM, is gone after SIGTERM of the step and at the time limit", async () => {
      for (const [script, marker] of hostileScripts())
        await hostileLeavesNothing(serve("hostile-root", script), marker, "sigterm", undefined, engine.env);
      const [script, marker] = hostileScripts()[0] as [string, string];
      await hostileLeavesNothing(serve("deadline-root", script), marker, "deadline", undefined, engine.env);
    }, 90_000);
  });

  describe("where no sandbox is possible (no sudo, user namespaces refused)", () => {
    const layout = world.runner("no-sudo");
    let bin: string;
    beforeAll(() => {
      // The host of an Ubuntu runner that forbids unprivileged user namespaces (AppArmor), without sudo.
      bin = mkdtempSync(join(tmpdir(), "prepull-no-userns-"));
      writeFileSync(join(bin, "unshare"), '#!/bin/sh\necho "unshare: unshare failed: Operation not permitted" >&2\nexit 1\n');
      chmodSync(join(bin, "unshare"), 0o755);
      chmodSync(bin, 0o755);
    });
    const env = () => ({ ...engine.env, PATH: `${bin}:${process.env.PATH}` });

    it("one warning says exactly what the script can reach; setsid children do not outlive it", async () => {
      const sleep = uniqueSleep();
      const image = await seeded("no-sandbox");
      const url = serve(
        "none",
        `setsid sleep ${sleep} >/dev/null 2>&1 </dev/null &\n(setsid bash -c "sleep ${sleep}" </dev/null >/dev/null 2>&1 &)\nCONTAINER_SOURCE=${image}\n`,
      );
      const run = await runAsRunner(layout, { "set-vars-url": url, "on-failure": "fail" }, { env: env() });
      expect(run.exitCode, run.stdout + run.stderr).toBe(0);
      const warnings = run.stdout.split("\n").filter((line) => line.startsWith("::warning::set-vars"));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(
        new RegExp(
          `no sandbox is possible here \\(sudo -n: .*; a user namespace: unshare: unshare failed: Operation not permitted\\): the script runs as uid ${layout.user.uid} with this step's network`,
        ),
      );
      for (const reach of ["~/.docker/config.json", ".git/config token", "GITHUB_ENV", "_work/_actions", "/tmp", "/proc/<pid>/environ"]) {
        expect(warnings[0]).toContain(reach);
      }
      expect(run.results[0]).toMatchObject({ image, status: "pulled" });
      expect(sleeping(sleep)).toEqual([]);
    });

    it("SIGTERM of the step leaves nothing of the script running", async () => {
      await stoppedLeavesNothing(layout, serve, engine, env());
    });
  });
});

/** Starts a script that leaves a setsid child and then waits, sends the step SIGTERM once both run, and looks for what is left. */
async function stoppedLeavesNothing(
  layout: RunnerLayout,
  serve: (name: string, body: string) => string,
  engine: Docker,
  env: Record<string, string> = engine.env,
): Promise<void> {
  const escaped = uniqueSleep();
  const waiting = uniqueSleep();
  const url = serve("sigterm", `setsid sleep ${escaped} >/dev/null 2>&1 </dev/null &\nsleep ${waiting}\nCONTAINER_SOURCE=x/y:1\n`);
  const ownTemps = () =>
    readdirSync(tmpdir()).filter((name) => name.startsWith("prepull-set-vars-") && statSync(join(tmpdir(), name)).uid === layout.user.uid);
  const temps = ownTemps();
  let child: ChildProcess | undefined;
  const running = runAsRunner(layout, { "set-vars-url": url }, { env, onSpawn: (c) => (child = c) });
  const deadline = Date.now() + 30_000;
  while ((sleeping(escaped).length === 0 || sleeping(waiting).length === 0) && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 100));
  expect(sleeping(escaped)).toHaveLength(1);
  child?.kill("SIGTERM");
  const run = await running;
  expect(run.exitCode).toBe(143);
  await new Promise((r) => setTimeout(r, 500));
  expect([...sleeping(escaped), ...sleeping(waiting)]).toEqual([]);
  expect(ownTemps().filter((name) => !temps.includes(name))).toEqual([]);
}

/**
 * The reviewer's scripts: one that ignores TERM, HUP and INT and becomes a session of its own
 * (it outlived the step while it was its PID namespace's first process), and one that only
 * ignores them; each with what shows it in the process table.
 */
function hostileScripts(): [string, string][] {
  const marker = `prepull-hostile-${randomBytes(4).toString("hex")}`;
  const sleep = uniqueSleep();
  return [
    [
      `trap '' TERM HUP INT; exec setsid bash -c 'trap "" TERM HUP INT; exec >/dev/null 2>&1; while :; do sleep 1; done # ${marker}'\n`,
      marker,
    ],
    [`trap '' TERM HUP INT; while :; do sleep ${sleep}; done\n`, `sleep ${sleep}`],
  ];
}

const running = (marker: string) =>
  execFileSync("ps", ["-eo", "user,ppid,args"], { encoding: "utf8" })
    .split("\n")
    .filter((line) => line.includes(marker) && !line.includes("ps -eo"));

/** Runs the step (as the layout's user, or as root) until the script runs, then ends it by SIGTERM or lets the time limit do so; nothing may be left. */
async function hostileLeavesNothing(
  url: string,
  marker: string,
  end: "sigterm" | "deadline",
  layout: RunnerLayout | undefined,
  env: Record<string, string>,
): Promise<void> {
  let child: ChildProcess | undefined;
  const options = { env, onSpawn: (c: ChildProcess) => (child = c) };
  const inputs = { "set-vars-url": url };
  const running_ = layout ? runAsRunner(layout, inputs, options) : runAction(inputs, options);
  const deadline = Date.now() + 30_000;
  while (running(marker).length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  expect(running(marker).length).toBeGreaterThan(0);
  if (end === "sigterm") child?.kill("SIGTERM");
  const run = await running_;
  if (end === "sigterm") expect(run.exitCode).toBe(143);
  else expect(run.stdout).toMatch(/set-vars script did not finish within 30 s/);
  await new Promise((r) => setTimeout(r, 1500));
  expect(running(marker)).toEqual([]);
}
