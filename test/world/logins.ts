// A docker config directory holding registry logins, as `docker login` stores them
// (`auths.HOST.auth` = base64 of `user:password`): the engine's, a seed's or a user's.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Writes `config.json` with a login per host (`user:password`) into `dir` (default: a new temporary one); returns the directory. */
export function dockerConfig(
  logins: Readonly<Record<string, string>>,
  dir = mkdtempSync(join(tmpdir(), "prepull-docker-config-")),
): string {
  const auths = Object.fromEntries(Object.entries(logins).map(([host, pair]) => [host, { auth: Buffer.from(pair).toString("base64") }]));
  writeFileSync(join(dir, "config.json"), JSON.stringify({ auths }));
  return dir;
}
