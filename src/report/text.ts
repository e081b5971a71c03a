// Untrusted text (engine output, registry errors, a fetched script's output, a worker's log,
// the files inputs name) made safe for each place it is shown: the runner's log, where a line
// can be a workflow command, and the job summary, where text can be markdown or HTML.

/**
 * How the runner reads a step's output (actions/runner): ProcessInvoker.StartReadStream reads
 * each stream with StreamReader.ReadLine, which ends a line at `\n`, `\r` or `\r\n` (not at
 * U+0085, U+2028 or U+2029); OutputManager.OnDataReceived gives a line holding `::` or `##[` to
 * ActionCommandManager.TryProcessCommand, where ActionCommand.TryParseV2 takes `::name …::data`
 * after `message.TrimStart()` (.NET whitespace, Char.IsWhiteSpace: JavaScript's `\s` less U+FEFF,
 * plus U+0085), and the legacy ActionCommand.TryParse takes `##[name …]` anywhere in the line.
 * TryParseV2's `StartsWith("::")` compares by culture, and ICU ignores zero-width characters
 * there, so those count as leading blanks here too (neutralising one line more costs nothing).
 */
export const LINE_END = /\r\n|\r|\n/;
const LEADING_BLANKS = "[\\s\\u0085\\u00ad\\u180e\\u200b-\\u200f\\u2060-\\u2064\\ufeff]*";
const COMMAND_START = new RegExp(`^(${LEADING_BLANKS}):(?=:)`);

/**
 * Any text as log lines that the runner never reads as a workflow command: split where the
 * runner splits, a line that starts with `::` after its leading blanks gets a zero-width space
 * between the colons, and the legacy `##[` likewise wherever it is. The command name the runner
 * would then read starts with `:` (it takes it from the third character on), which no command has.
 */
export function neutralise(text: string): string[] {
  return text.split(LINE_END).map((line) => line.replace(COMMAND_START, "$1:\u200b").replaceAll("##[", "#\u200b#["));
}

/** JSON.stringify's text for a log: it leaves no line end raw, and `##[` (only ever inside a string) is written `\u0023#[`, the same value. */
export function jsonForLog(json: string): string {
  return json.replaceAll("##[", "\\u0023#[");
}

/** One table cell of plain text: every line end (the runner's and Unicode's) a space. */
export function oneLine(text: string): string {
  return text.replace(/\r\n|[\r\n\u0085\u2028\u2029]/g, " ");
}

/**
 * Untrusted text in a markdown table cell, as text: a code span (no emphasis, link, image,
 * autolink or HTML inside one) fenced by one backtick more than the longest run in the text, so
 * that nothing in it can close it; `|` escaped (GitHub's table splits cells before it reads
 * code spans, and gives `\|` back as `|`), line ends made spaces (a row is one line).
 */
export function markdownCode(text: string): string {
  if (text === "") return "";
  const flat = oneLine(text).replaceAll("|", "\\|");
  const longest = Math.max(0, ...(flat.match(/`+/g) ?? []).map((run) => run.length));
  const fence = "`".repeat(longest + 1);
  // A space on each side where the text starts or ends with a backtick (CommonMark strips one).
  const pad = flat.startsWith("`") || flat.endsWith("`") || /^ .* $/.test(flat) ? " " : "";
  return `${fence}${pad}${flat}${pad}${fence}`;
}
