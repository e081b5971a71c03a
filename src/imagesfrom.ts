// images-from: find the build files (paths or globs under the workspace), read each by kind,
// and turn what they name into images to pre-pull, each with the file and line that named it.
import { dirname, isAbsolute, join, relative } from "node:path";
// buildfiles.js is bundled apart (dist/buildfiles.cjs, its parsers are most of prepull's
// bytes) and loaded only when images-from is used: see scripts/build.mjs.
import { buildFileKind, composeImages, dockerfileImages, type FileImages, type NamedImage, parseDotEnv } from "./buildfiles.js";
import type { Config, ImageLineError, ImageSpec } from "./inputs.js";
import { parseFileImageLine } from "./inputs.js";
import type { Logger } from "./report.js";
import { FileRefused, findFiles, readWorkspaceFile } from "./resolve/files.js";

export interface ImagesFromOutcome {
  readonly images: (ImageSpec | ImageLineError)[];
  /** failures that `on-failure` decides about (a path that names no file) */
  readonly problems: string[];
}

export async function resolveImagesFrom(config: Config, env: NodeJS.ProcessEnv, log: Logger): Promise<ImagesFromOutcome> {
  const images: (ImageSpec | ImageLineError)[] = [];
  const problems: string[] = [];
  for (const { text, line } of config.imagesFrom) {
    const forced = text.startsWith("dockerfile:");
    const pattern = forced ? text.slice("dockerfile:".length).trim() : text;
    let files: string[];
    try {
      files = await findFiles(pattern, config.workspace);
    } catch (error) {
      if (!(error instanceof FileRefused)) throw error;
      problems.push(`images-from line ${line}: refused: ${error.message}`);
      continue;
    }
    if (files.length === 0) {
      problems.push(`images-from line ${line}: no file matches ${pattern} (under ${config.workspace})`);
      continue;
    }
    for (const file of files) {
      const shown = relative(config.workspace, file) || file;
      const kind = forced ? "dockerfile" : buildFileKind(file);
      if (!kind) {
        problems.push(
          `images-from line ${line}: cannot tell what ${shown} is: name it Dockerfile, *.Dockerfile, Dockerfile.*, compose.yaml or docker-compose.yml, or write dockerfile: in front`,
        );
        continue;
      }
      let found: FileImages;
      try {
        found =
          kind === "dockerfile"
            ? await readDockerfile(file, shown, config.buildArgs, config.workspace)
            : await readCompose(file, shown, config.buildArgs, env, config.workspace);
      } catch (error) {
        problems.push(`images-from line ${line}: ${unreadable(error, shown)}`);
        continue;
      }
      for (const warning of found.warnings) log.warning(`images-from: ${warning}`);
      for (const named of found.images) images.push(toSpec(named, `images-from ${named.file ?? shown} line ${named.line}`));
      log.info(`images-from: ${shown} (${kind}) names ${found.images.length} image(s)`);
    }
  }
  return { images, problems };
}

/** Why a file was not read: refused (outside the workspace, not a regular file, too large) or an fs error's code. */
function unreadable(error: unknown, shown: string): string {
  if (error instanceof FileRefused) return `refused: ${error.message}`;
  return `cannot read ${shown}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`;
}

function toSpec(named: NamedImage, origin: string): ImageSpec | ImageLineError {
  const spec = parseFileImageLine(named.text, origin);
  return "message" in spec || !named.platform ? spec : { ...spec, platform: named.platform };
}

async function readDockerfile(file: string, shown: string, buildArgs: ReadonlyMap<string, string>, workspace: string): Promise<FileImages> {
  return dockerfileImages(readWorkspaceFile(file, workspace), shown, buildArgs);
}

/** A compose file: its images, and the FROM images of the Dockerfiles its `build:` services use. */
async function readCompose(
  file: string,
  shown: string,
  buildArgs: ReadonlyMap<string, string>,
  env: NodeJS.ProcessEnv,
  workspace: string,
): Promise<FileImages> {
  const read = (path: string) => readWorkspaceFile(path, workspace);
  let dotenv = new Map<string, string>();
  try {
    dotenv = parseDotEnv(read(join(dirname(file), ".env")));
  } catch {
    // no .env beside it (or one prepull will not read): compose goes without it too
  }
  // compose: the environment wins over .env
  const lookup = (name: string) => env[name] ?? dotenv.get(name);
  const compose = composeImages(read(file), shown, lookup);
  const images = [...compose.images];
  const warnings = [...compose.warnings];
  for (const build of compose.builds) {
    const dockerfile = isAbsolute(build.dockerfile) ? build.dockerfile : join(dirname(file), build.dockerfile);
    const dockerfileShown = `${relative(dirname(file), dockerfile)} (service ${build.service} of ${shown})`;
    try {
      const found = dockerfileImages(read(dockerfile), dockerfileShown, new Map([...buildArgs, ...build.args]));
      images.push(
        ...found.images.map((named) => ({
          ...named,
          file: dockerfileShown,
          ...(!named.platform && build.platform && { platform: build.platform }),
        })),
      );
      warnings.push(...found.warnings);
    } catch (error) {
      const why =
        error instanceof FileRefused ? `refused: ${error.message}` : ((error as NodeJS.ErrnoException).code ?? (error as Error).message);
      warnings.push(`${shown} line ${build.line}: service ${build.service} builds from ${dockerfile}, which cannot be read (${why})`);
    }
  }
  return { images, warnings };
}
