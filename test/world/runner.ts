// A GitHub-hosted runner's shape, on this machine: the non-root user `runner` (uid 1001, in
// the docker group, passwordless sudo) or a user like it without sudo, and its
// /home/<user>/work layout: _temp/_runner_file_commands, the action's own copy under
// _actions/prepull/prepull/v1, a checkout whose .git/config holds the job token as
// actions/checkout writes it, and a registry login in ~/.docker/config.json. Made by root,
// idempotently; the action then runs as that user (runAction's `runner` option).
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { type ActionRun, REPO, type RunOptions, runAction } from "./action.js";
import { dockerConfig } from "./logins.js";

/** The token actions/checkout leaves in .git/config (`persist-credentials`, its default). */
export const CHECKOUT_TOKEN = "ghs_CHECKOUTtokenINgitCONFIG0000000000000";
/** The user's own registry login in ~/.docker/config.json. */
export const DOCKER_LOGIN = "runner-user:dckr_pat_DOCKERloginINhome000000";

export type RunnerVariant = "sudo" | "no-sudo";

export interface RunnerUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
  readonly variant: RunnerVariant;
}

export interface RunnerLayout {
  readonly user: RunnerUser;
  readonly work: string;
  readonly temp: string;
  readonly fileCommands: string;
  readonly actionDir: string;
  readonly entry: string;
  readonly workspace: string;
  readonly gitConfig: string;
  readonly dockerConfig: string;
}

const USERS: Record<RunnerVariant, { name: string; uid: number }> = {
  sudo: { name: "runner", uid: 1001 },
  "no-sudo": { name: "runner-nosudo", uid: 1002 },
};
const SUDOERS = "/etc/sudoers.d/prepull-test-runner";

const run = (command: string, args: string[]) => spawnSync(command, args, { encoding: "utf8" });
const ids = (name: string) => ({
  uid: Number(execFileSync("id", ["-u", name], { encoding: "utf8" })),
  gid: Number(execFileSync("id", ["-g", name], { encoding: "utf8" })),
});

/**
 * The user, created if missing (`useradd -m -u 1001 runner`, docker group created if
 * missing), with passwordless sudo or provably without: `sudo -n true` is run as it and must
 * succeed, or fail, as the variant says.
 */
export function ensureRunnerUser(variant: RunnerVariant): RunnerUser {
  if (process.getuid?.() !== 0) throw new Error("the runner-shaped world needs root (useradd, sudoers)");
  const { name, uid } = USERS[variant];
  if (run("getent", ["group", "docker"]).status !== 0) execFileSync("groupadd", ["docker"]);
  if (run("id", ["-u", name]).status !== 0) {
    const taken = run("getent", ["passwd", String(uid)]).status === 0;
    execFileSync("useradd", ["-m", ...(taken ? [] : ["-u", String(uid)]), "-G", "docker", "-s", "/bin/bash", name]);
  } else {
    execFileSync("usermod", ["-aG", "docker", name]);
  }
  if (variant === "sudo") writeFileSync(SUDOERS, `${name} ALL=(ALL) NOPASSWD:ALL\n`, { mode: 0o440 });
  const user = { name, ...ids(name), home: `/home/${name}`, variant };
  const sudo = run("setpriv", [`--reuid=${user.uid}`, `--regid=${user.gid}`, "--init-groups", "--", "sudo", "-n", "true"]);
  if ((sudo.status === 0) !== (variant === "sudo")) {
    throw new Error(
      `${name}: sudo -n true ${sudo.status === 0 ? "works" : `fails (${sudo.stderr.trim()})`}, the ${variant} variant needs the opposite`,
    );
  }
  return user;
}

/** A fresh /home/<user>/work layout and ~/.docker/config.json, owned by the user. */
export function runnerLayout(user: RunnerUser, repo = "project"): RunnerLayout {
  const work = join(user.home, "work");
  rmSync(work, { recursive: true, force: true });
  const layout: RunnerLayout = {
    user,
    work,
    temp: join(work, "_temp"),
    fileCommands: join(work, "_temp", "_runner_file_commands"),
    actionDir: join(work, "_actions", "prepull", "prepull", "v1"),
    entry: join(work, "_actions", "prepull", "prepull", "v1", "dist", "index.cjs"),
    workspace: join(work, repo, repo),
    gitConfig: join(work, repo, repo, ".git", "config"),
    dockerConfig: join(user.home, ".docker", "config.json"),
  };
  mkdirSync(layout.fileCommands, { recursive: true });
  mkdirSync(layout.actionDir, { recursive: true });
  cpSync(join(REPO, "dist"), join(layout.actionDir, "dist"), { recursive: true });
  cpSync(join(REPO, "action.yml"), join(layout.actionDir, "action.yml"));
  mkdirSync(dirname(layout.gitConfig), { recursive: true });
  const extraheader = Buffer.from(`x-access-token:${CHECKOUT_TOKEN}`).toString("base64");
  writeFileSync(
    layout.gitConfig,
    `[core]\n\trepositoryformatversion = 0\n[remote "origin"]\n\turl = https://github.com/octo/${repo}\n` +
      `[http "https://github.com/"]\n\textraheader = AUTHORIZATION: basic ${extraheader}\n`,
  );
  writeFileSync(join(layout.workspace, "README.md"), "a checkout\n");
  mkdirSync(dirname(layout.dockerConfig), { recursive: true });
  dockerConfig({ "ghcr.io": DOCKER_LOGIN }, dirname(layout.dockerConfig));
  chmodSync(layout.dockerConfig, 0o600);
  execFileSync("chown", ["-R", `${user.uid}:${user.gid}`, work, dirname(layout.dockerConfig)]);
  return layout;
}

/**
 * Lets the user reach the test engine's socket as a runner reaches Docker's (the socket is
 * root:docker 0660; its directory must be traversable).
 */
export function shareEngine(dockerHost: string): void {
  const socket = dockerHost.replace(/^unix:\/\//, "");
  execFileSync("chmod", ["0711", dirname(socket)]);
}

/** Runs the action as the layout's user, from its _actions copy, in its workspace. */
export function runAsRunner(layout: RunnerLayout, inputs: Record<string, string>, options: RunOptions = {}): Promise<ActionRun> {
  const { user } = layout;
  return runAction(inputs, {
    ...options,
    entry: layout.entry,
    runner: {
      uid: user.uid,
      gid: user.gid,
      home: user.home,
      temp: layout.temp,
      fileCommands: layout.fileCommands,
      workspace: layout.workspace,
    },
  });
}

/** Every file under the file-command directory, by name: what a step can append to. */
export function fileCommandFiles(layout: RunnerLayout): string[] {
  return existsSync(layout.fileCommands) ? readdirSync(layout.fileCommands).map((name) => join(layout.fileCommands, name)) : [];
}
