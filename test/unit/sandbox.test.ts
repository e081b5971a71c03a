// The sandbox's pieces without the e2e world: bounded streams, the reaper where no sandbox is
// possible, the root sandbox's view (as root), and the warning's words. The runner-shaped runs
// are in test/e2e/sandbox.test.ts.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, rmSync, writeFileSync } from "node:fs";
import { type AddressInfo, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { describeIsolation, type Isolation } from "../../src/resolve/isolation.js";
import { evaluateScript } from "../../src/resolve/sandbox.js";

const run = (script: string, isolation: Isolation, timeoutSeconds = 20) =>
  evaluateScript(Buffer.from(script), { env: {}, variables: ["CONTAINER_SOURCE"], isolation, timeoutSeconds });
/** The processes on this machine whose command line holds `marker`. */
const running = (marker: string) =>
  execFileSync("ps", ["-eo", "args"], { encoding: "utf8" })
    .split("\n")
    .filter((line) => line.includes(marker) && !line.startsWith("ps "));
const sleeping = (seconds: string) => running(`sleep ${seconds}`);
const uniqueSleep = () => `${300 + Math.floor(Math.random() * 600)}.${randomBytes(3).readUIntBE(0, 3)}`;
const REAPER: Isolation = { kind: "none", reaper: true, description: "none" };
const ROOT: Isolation = { kind: "root", description: "root" };

describe("the set-vars sandbox", () => {
  it("reads at most 64 KiB of values: 800 MB on every descriptor the script holds is read and dropped", async () => {
    const result = await run(
      'for fd in $(ls /proc/$$/fd); do [ "$fd" -gt 2 ] && { yes A=B | head -c 800000000 >&"$fd"; } 2>/dev/null; done\nCONTAINER_SOURCE=x/y:1\n',
      REAPER,
    );
    expect(result.timedOut).toBe(false);
    expect(result.valuesOverflow).toBe(true);
    expect(result.values).toEqual({});
  });

  it("keeps 64 KiB of output and says it was cut", async () => {
    const result = await run("head -c 5000000 /dev/zero | tr '\\0' a; CONTAINER_SOURCE=x/y:1", REAPER);
    expect(result.output.length).toBeLessThan(70_000);
    expect(result.output).toMatch(/… \(output cut at 64 KiB\)$/);
    expect(result.values).toEqual({ CONTAINER_SOURCE: "x/y:1" });
  });

  it("without a sandbox, the reaper ends what the script started in sessions of its own", async () => {
    const sleep = uniqueSleep();
    const result = await run(
      `setsid sleep ${sleep} >/dev/null 2>&1 </dev/null &\n(setsid bash -c "sleep ${sleep}" >/dev/null 2>&1 </dev/null &)\nCONTAINER_SOURCE=x/y:1`,
      REAPER,
    );
    expect(result.values).toEqual({ CONTAINER_SOURCE: "x/y:1" });
    expect(sleeping(sleep)).toEqual([]);
  });

  it.runIf(process.getuid?.() === 0)("as root: nobody, a read-only system, its own /tmp, no network, no host file", async () => {
    const marker = join(tmpdir(), `prepull-host-file-${randomBytes(4).toString("hex")}`);
    writeFileSync(marker, "host");
    // A server on this machine's loopback that the script must not reach.
    const canary = createServer((socket) => socket.end());
    const port = await new Promise<number>((resolve) =>
      canary.listen(0, "127.0.0.1", () => resolve((canary.address() as AddressInfo).port)),
    );
    try {
      const result = await run(
        `id -u; [ -e "${marker}" ] && echo host-tmp=SEEN || echo host-tmp=hidden
{ echo x > /usr/prepull-x; } 2>/dev/null && echo usr=WROTE || echo usr=ro
echo x > /tmp/mine && echo tmp=ok
(exec 9<>/dev/tcp/127.0.0.1/${port}) 2>/dev/null && echo net=CONNECTED || echo net=none
ls /home /root /run /var 2>/dev/null | wc -l
CONTAINER_SOURCE=x/y:1`,
        ROOT,
      );
      expect(result.output.split("\n")).toEqual(["65534", "host-tmp=hidden", "usr=ro", "tmp=ok", "net=none", "0"]);
      expect(result.values).toEqual({ CONTAINER_SOURCE: "x/y:1" });
      expect(existsSync("/usr/prepull-x")).toBe(false);
    } finally {
      canary.close();
      rmSync(marker, { force: true });
    }
  });

  // A script that ignores TERM and makes itself a session of its own outlived the step when it
  // was its PID namespace's first process: setpriv's change of uid clears the parent-death signal.
  const hostile = (marker: string) =>
    `trap '' TERM HUP INT; exec setsid bash -c 'trap "" TERM HUP INT; exec >/dev/null 2>&1; while :; do sleep 1; done # ${marker}'`;
  const trapOnly = (sleep: string) => `trap '' TERM HUP INT; while :; do sleep ${sleep}; done`;
  const settle = () => new Promise((r) => setTimeout(r, 1500));

  it.runIf(process.getuid?.() === 0)(
    "as root: a script ignoring TERM in a session of its own, or only ignoring TERM, is gone at the time limit",
    async () => {
      const marker = `prepull-hostile-${randomBytes(4).toString("hex")}`;
      const sleep = uniqueSleep();
      const [a, b] = await Promise.all([run(hostile(marker), ROOT, 2), run(trapOnly(sleep), ROOT, 2)]);
      expect(a.timedOut && b.timedOut).toBe(true);
      await settle();
      expect(running(marker)).toEqual([]);
      expect(sleeping(sleep)).toEqual([]);
    },
  );

  it.runIf(process.getuid?.() === 0)(
    "as root: what a script leaves in a session of its own ignoring TERM is gone when the script ends",
    async () => {
      const marker = `prepull-hostile-${randomBytes(4).toString("hex")}`;
      const result = await run(`(${hostile(marker)}) </dev/null >/dev/null 2>&1 &\nCONTAINER_SOURCE=x/y:1`, ROOT, 20);
      expect(result.values).toEqual({ CONTAINER_SOURCE: "x/y:1" });
      await settle();
      expect(running(marker)).toEqual([]);
    },
  );

  it("the warning where no sandbox is possible names what the script can reach", () => {
    const text = describeIsolation("none", ["sudo -n: a password is required", "a user namespace: Operation not permitted"], true);
    expect(text).toMatch(/^no sandbox is possible here \(sudo -n: a password is required; a user namespace: Operation not permitted\)/);
    for (const reach of [
      "HOME",
      "~/.docker/config.json",
      ".git/config token",
      "RUNNER_TEMP",
      "GITHUB_ENV",
      "_work/_actions",
      "/tmp",
      "network",
      "/proc/<pid>/environ",
    ]) {
      expect(text).toContain(reach);
    }
    expect(describeIsolation("none", [], false)).toContain("(setsid) may outlive it");
    // The reaper is no guarantee: the script can kill it.
    expect(text).toContain("(setsid) may outlive it (a reaper ends those when the script ends, but the script can kill the reaper");
  });

  it("without a sandbox, a script that kills its reaper still has its process group ended", async () => {
    const sleep = uniqueSleep();
    const result = await run(
      `sleep ${sleep} </dev/null >/dev/null 2>&1 &\nkill -KILL $PPID\nsleep ${sleep}\nCONTAINER_SOURCE=x/y:1`,
      REAPER,
    );
    expect(result.exitCode).toBe(128);
    await new Promise((r) => setTimeout(r, 500));
    expect(sleeping(sleep)).toEqual([]);
  });
});
