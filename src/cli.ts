// `prepull` on the command line (GitLab, Jenkins, Tekton, a laptop): the same run, flags
// named like the action's inputs, a table on stdout, exit 1 under --on-failure fail.
import { parseArgs } from "node:util";
import { whenUnfinished } from "./lifecycle.js";
import { run, UNFINISHED } from "./main.js";
import { consoleLogger } from "./report/log.js";
import { textTable } from "./report/summary.js";
import { jsonForLog, neutralise } from "./report/text.js";
import { INPUT_NAMES } from "./resolve/inputs.js";

const INPUTS = INPUT_NAMES;

/** Everything the CLI prints goes through the runner's line rules (a CLI in a workflow `run:` step is read as the action is). */
const print = (stream: NodeJS.WriteStream, text: string) => stream.write(`${neutralise(text).join("\n")}\n`);

const USAGE = `usage: prepull [--images REF]... [--mirrors PREFIX]... [--FLAG VALUE]...

Flags are named like the action's inputs; list inputs take the flag once per item
(or one value with newlines). Examples:
  prepull --images alpine:3.20 --mirrors ghcr.io/myorg
  prepull --images-file images.txt --mirrors 'docker.io=mirror.gcr.io/{path}' --on-failure fail
  prepull --set-vars-url URL --set-vars-env MANYLINUX_VERSION=_2_28 --set-vars-env TARGET_ARCH=x64
The token may come from the environment (GITHUB_TOKEN) rather than a flag.
Flags: ${INPUTS.map((i) => `--${i}`).join(" ")} --json --help`;

/** The flags, or the usage error that stops the CLI. */
function readFlags(argv: readonly string[]): ReturnType<typeof parseArgs> | string {
  try {
    return parseArgs({
      args: [...argv],
      options: {
        ...Object.fromEntries(INPUTS.map((name) => [name, { type: "string", multiple: true }] as const)),
        json: { type: "boolean" },
        help: { type: "boolean", short: "h" },
        version: { type: "boolean" },
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    return (error as Error).message;
  }
}

export async function main(argv: readonly string[]): Promise<number> {
  const parsed = readFlags(argv);
  if (typeof parsed === "string") {
    print(process.stderr, `prepull: ${parsed}\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (values.version) {
    process.stdout.write(`${readVersion()}\n`);
    return 0;
  }
  if (values.background !== undefined) {
    process.stderr.write(
      "prepull: --background is the action's (a later step collects the pulls); on the command line run prepull in the background your shell's way (`prepull … &`, then `wait`)\n",
    );
    return 2;
  }
  const flag = (name: string): string => {
    const value = values[name];
    if (Array.isArray(value)) return value.join("\n");
    return typeof value === "string" ? value : "";
  };
  const log = consoleLogger();
  const outputs = new Map<string, string>();
  let failedMessage: string | undefined;
  const outcome = await run({
    getInput: (name) => {
      if (name === "images" && positionals.length > 0) return [flag(name), ...positionals].join("\n");
      if (name === "github-token" && flag(name) === "") return process.env.GITHUB_TOKEN ?? "";
      return flag(name);
    },
    log,
    setOutput: (name, value) => outputs.set(name, value),
    writeSummary: async () => {},
    setFailed: (message) => {
      failedMessage = message;
      log.error(message);
    },
    setSecret: () => {},
  });
  if (values.json) process.stdout.write(`${jsonForLog(outputs.get("results") ?? "[]")}\n`);
  else if (outcome.results.length > 0) print(process.stdout, textTable(outcome.results));
  return outcome.failed || failedMessage !== undefined ? 1 : 0;
}

declare const PREPULL_VERSION: string | undefined;
function readVersion(): string {
  return typeof PREPULL_VERSION === "string" ? PREPULL_VERSION : "dev";
}

export function runCli(): void {
  const work = main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: Error) => {
      print(process.stderr, `prepull: unexpected error: ${error.stack ?? error.message}`);
      process.exitCode = 1;
    },
  );
  whenUnfinished(work, () => {
    process.stderr.write(`${UNFINISHED}\n`);
    process.exitCode = 1;
  });
}
