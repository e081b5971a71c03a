// A real Docker engine for the end-to-end tests: dockerd with vfs storage, no iptables,
// no bridge, listening on a unix socket of its own under a temporary directory.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCommand } from "../../src/engine/engine.js";

export interface EngineWorld {
  readonly dockerHost: string;
  readonly root: string;
  readonly dataRoot: string;
  stop(): Promise<void>;
}

/** `tmpfsMegabytes`: put the data root on a tmpfs of that size (a nearly full disk, for the disk guard). */
export async function startEngine(options: { tmpfsMegabytes?: number } = {}): Promise<EngineWorld> {
  if (process.getuid?.() !== 0) throw new Error("the test engine needs root (dockerd)");
  // Short paths: containerd's sockets live under exec-root and unix socket paths are limited.
  const root = mkdtempSync(join(tmpdir(), "ppw-"));
  const dataRoot = join(root, "d");
  if (options.tmpfsMegabytes) {
    mkdirSync(dataRoot);
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${options.tmpfsMegabytes}m`, "tmpfs", dataRoot]);
  }
  const socket = join(root, "docker.sock");
  const logFile = join(root, "dockerd.log");
  const log = openSync(logFile, "a");
  const daemon: ChildProcess = spawn(
    "dockerd",
    [
      "--storage-driver=vfs",
      "--iptables=false",
      "--ip6tables=false",
      "--bridge=none",
      `--data-root=${dataRoot}`,
      `--exec-root=${join(root, "e")}`,
      `--pidfile=${join(root, "dockerd.pid")}`,
      `-H`,
      `unix://${socket}`,
    ],
    { stdio: ["ignore", log, log], detached: false },
  );
  let exited = false;
  daemon.on("exit", () => {
    exited = true;
  });
  daemon.on("error", () => {
    exited = true;
  });
  const dockerHost = `unix://${socket}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited) throw new Error(`dockerd exited at start:\n${tail(logFile)}`);
    const probe = await runCommand("docker", ["version", "--format", "{{.Server.Version}}"], {
      env: { ...process.env, DOCKER_HOST: dockerHost },
      timeoutMs: 10_000,
    }).catch((error: Error) => ({ exitCode: 1, stdout: "", stderr: error.message, timedOut: false }));
    if (probe.exitCode === 0) break;
    if (Date.now() > deadline) {
      daemon.kill("SIGKILL");
      throw new Error(`dockerd did not answer within 60 s: ${probe.stderr}\n${tail(logFile)}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    dockerHost,
    root,
    dataRoot,
    async stop() {
      if (!exited) {
        const done = new Promise((r) => daemon.once("exit", r));
        daemon.kill("SIGTERM");
        const timer = setTimeout(() => daemon.kill("SIGKILL"), 20_000);
        await done;
        clearTimeout(timer);
      }
      if (options.tmpfsMegabytes) execFileSync("umount", ["-l", dataRoot]);
      rmSync(root, { recursive: true, force: true, maxRetries: 3 });
    },
  };
}

function tail(file: string): string {
  try {
    return readFileSync(file, "utf8").split("\n").slice(-20).join("\n");
  } catch {
    return "";
  }
}
