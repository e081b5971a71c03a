// The least an action on prepull's chosen stack does for a mirror hit, as a second floor for issue
// 24's benchmark: bench/minimal-hit.cjs's work (HEAD of the mirror's manifest → 401 → token → HEAD
// over verified HTTPS, the engine's API pull by that digest with that token, the tag under the
// upstream name), but its inputs read with @actions/core and checked with zod, its registry requests
// sent with @actions/http-client, the token's JSON checked with zod, its output written with
// @actions/core (as core writes it, with node:crypto's random delimiter; TLS has loaded node:crypto
// already); bundled with dist's own esbuild options (scripts/bundle-options.mjs). Not a tool: no
// verification against upstream, no retries, no report. Between node's floor and the action, it
// tells how much of the gap the stack's loading costs and how much is prepull's own work. The
// engine's part is the node floor's own (bench/floor-common.cjs): only the registry's differs.
// Inputs: INPUT_MIRROR (the mirror's reference), INPUT_UPSTREAM, INPUT_SOCKET (the engine's socket).
import * as core from "@actions/core";
import { HttpClient } from "@actions/http-client";
import * as z from "zod/mini";
import { ACCEPT, pullAndTag, tokenUrl } from "./floor-common.cjs";

const Inputs = z.object({ mirror: z.string().check(z.regex(/^[^/]+\/[^:]+:[^:/]+$/)), upstream: z.string(), socket: z.string() });
const Token = z.object({ token: z.optional(z.string()), access_token: z.optional(z.string()) });

async function main() {
  const inputs = Inputs.parse({ mirror: core.getInput("mirror"), upstream: core.getInput("upstream"), socket: core.getInput("socket") });
  const slash = inputs.mirror.indexOf("/");
  const host = inputs.mirror.slice(0, slash);
  const [repository = "", tag = ""] = inputs.mirror.slice(slash + 1).split(":");
  const client = new HttpClient("minimal-action", [], { keepAlive: true, allowRedirects: false, allowRetries: false });
  const manifest = `https://${host}/v2/${repository}/manifests/${tag}`;
  const first = await client.request("HEAD", manifest, null, { Accept: ACCEPT });
  await first.readBody();
  const challenge = String(first.message.headers["www-authenticate"]);
  const granted = await client.get(tokenUrl(challenge, repository));
  const parsed = Token.parse(JSON.parse(await granted.readBody()));
  const token = parsed.token ?? parsed.access_token ?? "";
  const head = await client.request("HEAD", manifest, null, { Accept: ACCEPT, Authorization: `Bearer ${token}` });
  await head.readBody();
  const digest = String(head.message.headers["docker-content-digest"]);
  await pullAndTag(inputs.socket, host, repository, digest, token, inputs.upstream);
  core.setOutput("digest", digest);
  client.dispose();
}

main().catch((error: Error) => core.setFailed(error.message));
