// Where log lines go: the Actions runner (workflow commands), a terminal, or a worker's log
// file, every line of outside text through `neutralise` (text.ts).
import * as core from "@actions/core";
import { LINE_END, neutralise } from "./text.js";

/** Where log lines go: the Actions runner (workflow commands), a terminal, or a worker's log file. */
export interface Logger {
  info(message: string): void;
  notice(message: string): void;
  warning(message: string): void;
  error(message: string): void;
  /** Text from outside (a fetched script's output): shown under a title, never interpreted. */
  untrusted(title: string, text: string): void;
  group(title: string, lines: readonly string[]): void;
}

export const actionLogger: Logger = {
  info: (message) => {
    for (const line of neutralise(message)) core.info(line);
  },
  // Annotations are workflow commands of core's own: their text is escaped there (%, CR, LF).
  notice: (message) => core.notice(message),
  warning: (message) => core.warning(message),
  error: (message) => core.error(message),
  untrusted(title, text) {
    actionLogger.info(title);
    for (const line of text.split(LINE_END)) actionLogger.info(`  ${line}`);
  },
  group(title, lines) {
    core.startGroup(title);
    for (const line of lines) actionLogger.info(line);
    core.endGroup();
  },
};

export function consoleLogger(write: (line: string) => void = (line) => process.stderr.write(`${line}\n`)): Logger {
  // A CLI run inside a GitHub Actions step is read by the runner too.
  const out = (text: string) => {
    for (const line of neutralise(text)) write(line);
  };
  return {
    info: (message) => out(message),
    notice: (message) => out(`notice: ${message}`),
    warning: (message) => out(`warning: ${message}`),
    error: (message) => out(`error: ${message}`),
    untrusted(title, text) {
      out(title);
      for (const line of text.split(LINE_END)) out(`  ${line}`);
    },
    group(title, lines) {
      out(`── ${title}`);
      for (const line of lines) out(`   ${line}`);
    },
  };
}

type LogRecord =
  | { readonly k: "info" | "notice" | "warning" | "error"; readonly m: string }
  | { readonly k: "untrusted"; readonly t: string; readonly m: string }
  | { readonly k: "group"; readonly t: string; readonly l: readonly string[] };

/** A background worker's logger: one JSON record a line, replayed through the reader's own sinks. */
export function recordLogger(write: (line: string) => void): Logger {
  const put = (record: LogRecord) => write(JSON.stringify(record));
  return {
    info: (m) => put({ k: "info", m }),
    notice: (m) => put({ k: "notice", m }),
    warning: (m) => put({ k: "warning", m }),
    error: (m) => put({ k: "error", m }),
    untrusted: (t, m) => put({ k: "untrusted", t, m }),
    group: (t, l) => put({ k: "group", t, l }),
  };
}

/** Replays a worker's log through `log`: records as what they were, anything else as plain (neutralised) text. */
export function replayLog(text: string, log: Logger): void {
  for (const line of text.split("\n")) {
    if (line === "") continue;
    let record: LogRecord | undefined;
    try {
      record = JSON.parse(line) as LogRecord;
    } catch {
      record = undefined;
    }
    if (!record || typeof record !== "object") log.info(line);
    else if (record.k === "group" && Array.isArray(record.l)) log.group(String(record.t), record.l.map(String));
    else if (record.k === "untrusted") log.untrusted(String(record.t), String(record.m));
    else if (record.k === "info" || record.k === "notice" || record.k === "warning" || record.k === "error")
      log[record.k](String(record.m));
    else log.info(line);
  }
}
