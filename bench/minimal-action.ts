// The least an action on prepull's chosen stack does for a mirror hit, as a second floor for issue
// 24's benchmark: bench/minimal-hit.cjs's work (HEAD of the mirror's manifest → 401 → token → HEAD
// over verified HTTPS, the engine's API pull by that digest with that token, the tag under the
// upstream name), but its inputs read with @actions/core and checked with zod, its registry requests
// sent with @actions/http-client, the token's JSON checked with zod, its output written with
// @actions/core (as core writes it, with node:crypto's random delimiter; TLS has loaded node:crypto
// already); bundled with dist's own esbuild options (scripts/bundle-options.mjs). Not a tool: no
// verification against upstream, no retries, no report. Between node's floor and the action, it
// tells how much of the gap the stack's loading costs and how much is prepull's own work.
// Inputs: INPUT_MIRROR (the mirror's reference), INPUT_UPSTREAM, INPUT_SOCKET (the engine's socket).
import { request as httpRequest } from "node:http";
import * as core from "@actions/core";
import { HttpClient } from "@actions/http-client";
import * as z from "zod/mini";

const ACCEPT = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
].join(", ");
const Inputs = z.object({ mirror: z.string().check(z.regex(/^[^/]+\/[^:]+:[^:/]+$/)), upstream: z.string(), socket: z.string() });
const Token = z.object({ token: z.optional(z.string()), access_token: z.optional(z.string()) });

function engine(socket: string, method: string, path: string, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = httpRequest({ socketPath: socket, method, path, headers: { Host: "docker", ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    req.on("error", reject);
    req.end();
  });
}

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
  const realm = /realm="([^"]+)"/.exec(challenge)?.[1];
  const service = /service="([^"]+)"/.exec(challenge)?.[1] ?? "";
  const scope = `repository:${repository}:pull`;
  const granted = await client.get(`${realm}?service=${encodeURIComponent(service)}&scope=${encodeURIComponent(scope)}`);
  const parsed = Token.parse(JSON.parse(await granted.readBody()));
  const token = parsed.token ?? parsed.access_token ?? "";
  const head = await client.request("HEAD", manifest, null, { Accept: ACCEPT, Authorization: `Bearer ${token}` });
  await head.readBody();
  const digest = String(head.message.headers["docker-content-digest"]);
  const auth = Buffer.from(JSON.stringify({ registrytoken: token, serveraddress: host })).toString("base64url");
  const padded = auth + "=".repeat((4 - (auth.length % 4)) % 4);
  const query = `fromImage=${encodeURIComponent(`${host}/${repository}`)}&tag=${digest}`;
  const pulled = await engine(inputs.socket, "POST", `/images/create?${query}`, { "X-Registry-Auth": padded });
  if (pulled.status !== 200 || pulled.body.includes('"error"')) throw new Error(`pull: ${pulled.body}`);
  const colon = inputs.upstream.lastIndexOf(":");
  const to = `repo=${encodeURIComponent(inputs.upstream.slice(0, colon))}&tag=${encodeURIComponent(inputs.upstream.slice(colon + 1))}`;
  const tagged = await engine(inputs.socket, "POST", `/images/${host}/${repository}@${digest}/tag?${to}`);
  if (tagged.status !== 201) throw new Error(`tag: ${tagged.body}`);
  core.setOutput("digest", digest);
  client.dispose();
}

main().catch((error: Error) => core.setFailed(error.message));
