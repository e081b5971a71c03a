// images-from: find the build files (paths or globs under the workspace), read each by kind,
// and turn what they name into images to pre-pull, each with the file and line that named it.
import { dirname, isAbsolute, join, relative } from "node:path";
import type { Logger } from "../report/log.js";
// buildfiles.js is bundled apart (dist/buildfiles.cjs, its parsers are most of prepull's
// bytes) and loaded only when images-from is used: see scripts/build.mjs.
import {
  type BuildFileKind,
  buildFileKind,
  composeEnvironment,
  composeImages,
  dockerfileImages,
  type FileImages,
  type NamedImage,
  workflowImages,
} from "./buildfiles.js";
import { parseDotEnv } from "./dotenv.js";
import { FileRefused, findFiles, readWorkspaceFile, unreadable } from "./files.js";
import type { Config, ImageLineError, ImageSpec } from "./inputs.js";
import { parseFileImageLine } from "./inputs.js";

export interface ImagesFromOutcome {
  readonly images: (ImageSpec | ImageLineError)[];
  /** failures that `on-failure` decides about (a path that names no file) */
  readonly problems: string[];
}

export async function resolveImagesFrom(config: Config, env: NodeJS.ProcessEnv, log: Logger): Promise<ImagesFromOutcome> {
  const images: (ImageSpec | ImageLineError)[] = [];
  const problems: string[] = [];
  for (const { text, line } of config.imagesFrom) {
    // `dockerfile:` or `workflow:` in front names the kind of a file whose name does not tell it
    const forced = /^(dockerfile|workflow):/.exec(text)?.[1] as BuildFileKind | undefined;
    const pattern = forced ? text.slice(forced.length + 1).trim() : text;
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
      const kind = forced ?? buildFileKind(file);
      if (!kind) {
        problems.push(
          `images-from line ${line}: cannot tell what ${shown} is: name it Dockerfile, *.Dockerfile, Dockerfile.*, compose.yaml or docker-compose.yml, keep workflows in .github/workflows/, or write dockerfile: or workflow: in front`,
        );
        continue;
      }
      let found: FileImages;
      try {
        found =
          kind === "dockerfile"
            ? await readDockerfile(file, shown, config)
            : kind === "workflow"
              ? workflowImages(readWorkspaceFile(file, config.workspace), shown)
              : await readCompose(file, shown, config, env);
      } catch (error) {
        problems.push(`images-from line ${line}: ${unreadable(error, shown)}`);
        continue;
      }
      for (const warning of found.warnings) log.warning(`images-from: ${warning}`);
      for (const named of found.images) {
        const spec = toSpec(named, `images-from ${named.file ?? shown} line ${named.line}`);
        // read with a variable that has no value, as the build reads it: a warning said so; the
        // build fails on it too, so it is no input error of prepull's
        if ("message" in spec && named.unset) log.warning(`${spec.origin}: ${spec.message}; not pre-pulled`);
        else images.push(spec);
      }
      log.info(`images-from: ${shown} (${kind}) names ${found.images.length} image(s)`);
    }
  }
  return { images, problems };
}

function toSpec(named: NamedImage, origin: string): ImageSpec | ImageLineError {
  const spec = parseFileImageLine(named.text, origin);
  return "message" in spec || !named.platform ? spec : { ...spec, platform: named.platform };
}

async function readDockerfile(file: string, shown: string, config: Config): Promise<FileImages> {
  const text = readWorkspaceFile(file, config.workspace);
  return dockerfileImages(text, shown, config.buildArgs, { ...(config.platform && { target: config.platform }) });
}

/** A compose file: its images, and the FROM images of the Dockerfiles its `build:` services use. */
async function readCompose(file: string, shown: string, config: Config, env: NodeJS.ProcessEnv): Promise<FileImages> {
  const { buildArgs } = config;
  const read = (path: string) => readWorkspaceFile(path, config.workspace);
  // compose: the environment (without its tokens) wins over .env, which may expand both
  const environment = composeEnvironment(env);
  let dotenvText = "";
  try {
    dotenvText = read(join(dirname(file), ".env"));
  } catch {
    // no .env beside it (or one that leaves the workspace): compose goes without it too
  }
  let dotenv: Map<string, string>;
  try {
    dotenv = parseDotEnv(dotenvText, environment);
  } catch (error) {
    return { images: [], warnings: [`${shown}: its .env ${(error as Error).message}; compose refuses it too, no images read`] };
  }
  const lookup = (name: string) => environment(name) ?? dotenv.get(name);
  const compose = composeImages(read(file), shown, lookup);
  const images = [...compose.images];
  const warnings = [...compose.warnings];
  for (const build of compose.builds) {
    const dockerfile = isAbsolute(build.dockerfile) ? build.dockerfile : join(dirname(file), build.dockerfile);
    const dockerfileShown = `${relative(dirname(file), dockerfile)} (service ${build.service} of ${shown})`;
    try {
      const target = build.platform ?? config.platform;
      const found = dockerfileImages(read(dockerfile), dockerfileShown, new Map([...buildArgs, ...build.args]), {
        ...(target && { target }),
      });
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
