// Where the set-vars script runs (DESIGN.md): a mount namespace whose root holds only read-only
// binds of the system, an empty tmpfs and the script, with its own PID, network, IPC and UTS
// namespaces, no capability and no way to gain one. Made as root where root is at hand (prepull
// runs as root, or `sudo -n` works, as on GitHub-hosted runners), the script then running as
// nobody; else inside a user namespace with the same view; else nothing, and one warning says
// what the script can reach. util-linux (unshare, setpriv, mount) builds it: it is on every
// Linux runner, where bubblewrap is not (README).
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCommand } from "../engine/command.js";

export type IsolationKind = "root" | "sudo" | "user-namespace" | "none";

/** How the script is run, decided once a run. */
export interface Isolation {
  readonly kind: IsolationKind;
  /** what the log says of it: exactly what the script can reach */
  readonly description: string;
  /** "none" only: the reaper (below) runs the script */
  readonly reaper?: boolean;
}

const NOBODY = "65534";
/** The sandbox's writable /tmp, in memory: bounded, and gone with the mount namespace. */
const SANDBOX_TMP_SIZE = "128m";
const SYSTEM = ["usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "etc"];

/**
 * Run as root in the new namespaces (fixed code; paths and the command come as arguments): a
 * tmpfs root, read-only binds of the system (merged-/usr symlinks copied as symlinks), a fresh
 * /proc of the new PID namespace, five harmless devices, an empty tmpfs /tmp owned by the
 * script's user, the scripts read-only; the root made read-only; then chroot there, and
 * setpriv drops every capability (so no chroot escape, no mount), sets no_new_privs (no
 * setuid) and, given a uid, becomes it. This shell stays, as the PID namespace's first
 * process, waiting for the script: when it ends the kernel kills every process of the
 * namespace. The script is never that first process: it could ignore every signal, and its
 * change of uid clears the parent-death signal that `unshare --kill-child` gives this shell,
 * which the script cannot signal (root's) and which dies with unshare. (The last command of
 * `bash -c` is exec'd: `&& s=0 || s=$?` keeps this shell.)
 */
const SETUP = `set -eu
new=$1; scripts=$2; uid=$3; shift 3
ro() { mount -o remount,bind,ro,nosuid,nodev "$1"; }
mount -t tmpfs -o mode=0755,nosuid,nodev,size=1m prepull-root "$new"
for d in ${SYSTEM.join(" ")}; do
  if [ -L "/$d" ]; then ln -s "$(readlink "/$d")" "$new/$d"
  elif [ -d "/$d" ]; then mkdir "$new/$d"; mount --rbind "/$d" "$new/$d"; ro "$new/$d"; fi
done
mkdir "$new/proc" "$new/dev" "$new/tmp" "$new/scripts"
mount -t proc -o nosuid,nodev,noexec proc "$new/proc"
mount -t tmpfs -o mode=0755,nosuid,noexec,size=64k prepull-dev "$new/dev"
for n in null zero full random urandom; do touch "$new/dev/$n"; mount --bind "/dev/$n" "$new/dev/$n"; done
mount -t tmpfs -o "mode=0700,uid=\${uid:-0},gid=\${uid:-0},nosuid,nodev,size=${SANDBOX_TMP_SIZE}" prepull-tmp "$new/tmp"
mount --bind "$scripts" "$new/scripts"; ro "$new/scripts"
mount -o remount,ro,nosuid,nodev prepull-root "$new"
if [ -n "$uid" ]; then set -- --reuid="$uid" --regid="$uid" --clear-groups "$@"; fi
unshare --root="$new" --wd=/tmp -- setpriv --no-new-privs --inh-caps=-all --bounding-set=-all "$@" && s=0 || s=$?
exit "$s"
`;

const NAMESPACES = ["--mount", "--pid", "--net", "--ipc", "--uts", "--fork", "--kill-child"];

export interface SandboxCommand {
  /** `new root` mount point (an empty directory) and the directory holding the script and its caller */
  readonly newRoot: string;
  readonly scripts: string;
  /** the command run inside, from `env -i` on */
  readonly inner: readonly string[];
  /** a last-resort limit enforced as root, where the sandbox runs as root */
  readonly timeoutSeconds: number;
}

/** The argument vector that runs `inner` in the sandbox of this kind (not for "none"). */
export function sandboxArgv(kind: Exclude<IsolationKind, "none">, command: SandboxCommand): string[] {
  const uid = kind === "user-namespace" ? "" : NOBODY;
  const setup = ["bash", "--noprofile", "--norc", "-c", SETUP, "prepull-sandbox", command.newRoot, command.scripts, uid, ...command.inner];
  if (kind === "user-namespace") return ["unshare", "--user", "--map-root-user", ...NAMESPACES, "--", ...setup];
  // As root, a stop from this process may not reach everything (sudo relays SIGTERM, not SIGKILL): a limit of its own.
  // A relayed SIGTERM becomes a KILL of unshare a second later, whose death kills the namespace's init (below).
  const asRoot = ["timeout", "--signal=KILL", "--kill-after=1", String(command.timeoutSeconds), "unshare", ...NAMESPACES, "--", ...setup];
  return kind === "sudo" ? ["sudo", "-n", "--", ...asRoot] : asRoot;
}

/** A check's time limit (sudo asked for nothing, a sandbox that runs `true`): a hung one is a failed one. */
const CHECK_TIMEOUT_MS = 20_000;

/** Runs argv to its end (CHECK_TIMEOUT_MS at most); ok when it exits 0, else the first line it printed on stderr. */
async function tryCommand(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<{ ok: boolean; why: string }> {
  const [command = "true", ...args] = argv;
  try {
    const run = await runCommand(command, args, { env, timeoutMs: CHECK_TIMEOUT_MS });
    if (run.timedOut) return { ok: false, why: `no end in ${CHECK_TIMEOUT_MS / 1000} s` };
    return { ok: run.exitCode === 0, why: run.stderr.trim().split("\n")[0] || `exit code ${run.exitCode}` };
  } catch (error) {
    return { ok: false, why: (error as Error).message };
  }
}

const REACHES_NOTHING =
  "a read-only /usr, /bin, /lib*, /etc and an empty /tmp of its own; no network, no other process, no file of this step's user, no way to gain privilege";

export function describeIsolation(kind: IsolationKind, why: readonly string[] = [], reaper = false): string {
  switch (kind) {
    case "root":
      return `a sandbox made as root, as the user nobody: ${REACHES_NOTHING}`;
    case "sudo":
      return `a sandbox made as root through sudo, as the user nobody: ${REACHES_NOTHING}`;
    case "user-namespace":
      return `a sandbox in a user namespace (not as root: ${why.join("; ")}): ${REACHES_NOTHING}`;
    case "none": {
      const user = process.getuid ? `uid ${process.getuid()}` : "this step's user";
      return (
        `no sandbox is possible here (${why.join("; ")}): the script runs as ${user} with this step's network and ` +
        "can read and write whatever that user can: its HOME (~/.docker/config.json logins), the workspace and its .git/config token, " +
        "RUNNER_TEMP and the step's file-command files (GITHUB_ENV, GITHUB_OUTPUT), the actions' code under _work/_actions, /tmp, " +
        "and /proc/<pid>/environ of this step's processes (github-token)" +
        "; what it starts in a session of its own (setsid) may outlive it" +
        (reaper ? " (a reaper ends those when the script ends, but the script can kill the reaper: it runs as the same user)" : "") +
        "; pin it with set-vars-sha256"
      );
    }
  }
}

/**
 * Where no sandbox is possible: a child subreaper (prctl PR_SET_CHILD_SUBREAPER, by its Linux
 * syscall number) runs the script, so what it starts, `setsid` ones included, is re-parented
 * to the reaper rather than to init; when the script ends, or the reaper is sent SIGTERM,
 * every descendant is killed. perl-base is on every Debian and Ubuntu system; node has no prctl.
 */
const REAPER = `use POSIX ();
my %prctl = (x86_64 => 157, aarch64 => 167, i686 => 172, i386 => 172, armv7l => 172, ppc64le => 171, s390x => 172, riscv64 => 167);
my $nr = $prctl{(POSIX::uname())[4]} // die "prepull-reaper: no prctl number for this machine\\n";
syscall($nr, 36, 1, 0, 0, 0) == 0 or die "prepull-reaper: prctl: $!\\n";
sub children { opendir(my $d, "/proc") or return (); my @k; for my $p (grep { /^\\d+$/ } readdir($d)) { open(my $f, "<", "/proc/$p/stat") or next; my $l = <$f> // next; my @s = split(" ", $l =~ s/^.*\\) //sr); push(@k, $p) if $s[1] == $$ } return @k }
sub reap { for (;;) { my @k = children(); kill("KILL", @k) if @k; last if waitpid(-1, 0) == -1 } }
$SIG{TERM} = $SIG{INT} = $SIG{HUP} = sub { reap(); exit 143 };
my $pid = fork() // die "prepull-reaper: fork: $!\\n";
if ($pid == 0) { exec { $ARGV[0] } @ARGV; exit 127 }
waitpid($pid, 0); my $status = $?;
reap();
exit($status & 127 ? 128 + ($status & 127) : $status >> 8);
`;

export function reaperArgv(inner: readonly string[]): string[] {
  return ["perl", "-e", REAPER, "--", ...inner];
}

let chosen: Promise<Isolation> | undefined;

/** The strongest isolation this host gives, tried for real once a run. */
export function scriptIsolation(): Promise<Isolation> {
  chosen ??= chooseIsolation();
  return chosen;
}

async function chooseIsolation(): Promise<Isolation> {
  const env = { PATH: process.env.PATH ?? "/usr/bin:/bin" };
  const why: string[] = [];
  if (process.platform !== "linux") why.push(`${process.platform} has no Linux namespaces`);
  else {
    // Root first (as root, or through sudo); a user namespace next, also for root in a
    // container without CAP_SYS_ADMIN.
    const kinds: Exclude<IsolationKind, "none">[] = [];
    if (process.getuid?.() === 0) kinds.push("root");
    else {
      const sudo = await tryCommand(["sudo", "-n", "true"], env);
      if (sudo.ok) kinds.push("sudo");
      else why.push(`sudo -n: ${sudo.why}`);
    }
    kinds.push("user-namespace");
    for (const kind of kinds) {
      const tried = await trySandbox(kind, env);
      if (tried.ok) return { kind, description: describeIsolation(kind, why) };
      why.push(`${kind === "user-namespace" ? "a user namespace" : `the sandbox as ${kind}`}: ${tried.why}`);
    }
  }
  const reaper = process.platform === "linux" && (await tryCommand(reaperArgv(["true"]), env)).ok;
  return { kind: "none", reaper, description: describeIsolation("none", why, reaper) };
}

async function trySandbox(kind: Exclude<IsolationKind, "none">, env: NodeJS.ProcessEnv): Promise<{ ok: boolean; why: string }> {
  const dir = await mkdtemp(join(tmpdir(), "prepull-sandbox-check-"));
  try {
    const command = { newRoot: join(dir, "root"), scripts: join(dir, "scripts"), inner: ["true"], timeoutSeconds: 10 };
    await Promise.all([mkdir(command.newRoot, { mode: 0o755 }), mkdir(command.scripts, { mode: 0o755 })]);
    return await tryCommand(sandboxArgv(kind, command), env);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
