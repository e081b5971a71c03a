// Files that inputs name (images-file, images-from and the files those name): found and read
// inside the workspace only, as regular files of at most 1 MiB. A path or glob that leaves the
// workspace (`..`, an absolute path elsewhere, a symbolic link that points out) is refused, a
// glob never walks through a symbolic link, and a device or FIFO is never opened for reading.
import { closeSync, constants, fstatSync, openSync, readSync, realpathSync } from "node:fs";
import { isAbsolute, relative, resolve, sep } from "node:path";

const MAX_INPUT_FILE_BYTES = 1024 * 1024;

/** A file an input names that prepull will not read; the message says why, never what it holds. */
export class FileRefused extends Error {
  override name = "FileRefused";
}

const leaves = (root: string, path: string) => {
  const rel = relative(root, path);
  return rel === ".." || rel.startsWith(`..${sep}`) || isAbsolute(rel);
};

/** A path as the workspace sees it (`docker/Dockerfile`), for messages. */
const shownPath = (path: string, workspace: string) => relative(resolve(workspace), resolve(workspace, path)) || path;

/**
 * The real path of `path` (relative to the workspace), refused where it leaves the workspace
 * by its name or through a symbolic link. A missing file throws ENOENT as fs does.
 */
function insideWorkspace(path: string, workspace: string): string {
  const absolute = resolve(workspace, path);
  if (leaves(resolve(workspace), absolute)) throw new FileRefused(`${path} is outside the workspace (${workspace})`);
  const real = realpathSync(absolute);
  if (leaves(realpathSync(workspace), real))
    throw new FileRefused(`${shownPath(path, workspace)} leads out of the workspace through a symbolic link`);
  return real;
}

/**
 * A file's text, read inside the workspace only: a regular file (a device, FIFO or socket is
 * refused after an open that cannot block), at most 1 MiB (read no further than that, so a file
 * that grows while it is read is refused too).
 */
export function readWorkspaceFile(path: string, workspace: string): string {
  const real = insideWorkspace(path, workspace);
  const shown = shownPath(path, workspace);
  // O_NONBLOCK: opening a FIFO with no writer returns at once; O_NOFOLLOW: the real path's last
  // component is no link, unless one was put there since (then ELOOP, not a read elsewhere).
  const fd = openSync(real, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY | constants.O_NOFOLLOW);
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new FileRefused(`${shown} is not a regular file`);
    if (stat.size > MAX_INPUT_FILE_BYTES) throw new FileRefused(`${shown} is larger than 1 MiB (${stat.size} bytes)`);
    const buffer = Buffer.alloc(MAX_INPUT_FILE_BYTES + 1);
    let length = 0;
    for (let n = 1; n > 0 && length < buffer.length; length += n) n = readSync(fd, buffer, length, buffer.length - length, null);
    if (length > MAX_INPUT_FILE_BYTES) throw new FileRefused(`${shown} is larger than 1 MiB (it grew while it was read)`);
    return buffer.toString("utf8", 0, length);
  } finally {
    closeSync(fd);
  }
}

/** A pattern's own way out of the workspace: a `..` component, or an absolute path elsewhere. */
function patternInside(pattern: string, workspace: string): string {
  if (pattern.split(/[\\/]/).includes("..")) throw new FileRefused(`${pattern} leaves the workspace (..)`);
  if (!isAbsolute(pattern)) return pattern;
  if (leaves(resolve(workspace), pattern)) throw new FileRefused(`${pattern} is outside the workspace (${workspace})`);
  return relative(resolve(workspace), pattern) || ".";
}

/**
 * The files a path or glob names under the workspace (`node_modules` and `.git` left out),
 * sorted. A glob walks no symbolic link (a link to a directory out of the workspace is never
 * entered; a link to a file is not matched), and its fixed part (`docker` of `docker/*.json`)
 * must lead inside the workspace, or the pattern is refused before any walk; each path found is
 * still read by readWorkspaceFile, which refuses one that leads out.
 */
export async function findFiles(pattern: string, workspace: string): Promise<string[]> {
  const inside = patternInside(pattern, workspace);
  // tinyglobby is bundled apart with the build-file parsers (see scripts/build.mjs).
  const { glob, isDynamicPattern } = await import("./buildfiles.js");
  if (!isDynamicPattern(inside)) {
    const path = resolve(workspace, inside);
    try {
      realpathSync(path);
      return [path];
    } catch {
      return [];
    }
  }
  // The fixed part before the first glob character is walked as it is, links and all: it must
  // lead to a directory inside the workspace (`docker/**` with `docker -> /` is refused, once).
  const parts = inside.split(/[\\/]/);
  const base = parts
    .slice(
      0,
      parts.findIndex((part) => isDynamicPattern(part)),
    )
    .join("/");
  if (base !== "") {
    try {
      insideWorkspace(base, workspace);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw error;
    }
  }
  const found = await glob(inside, {
    cwd: workspace,
    absolute: true,
    onlyFiles: true,
    followSymbolicLinks: false,
    ignore: ["**/node_modules/**", "**/.git/**"],
  });
  return found.sort();
}

/** Why a file was not read: refused (outside the workspace, not a regular file, too large) or an fs error's code. */
export function unreadable(error: unknown, shown: string): string {
  if (error instanceof FileRefused) return `refused: ${error.message}`;
  return `cannot read ${shown}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`;
}
