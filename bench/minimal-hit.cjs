// The least a node program does for a mirror hit, as a floor for issue 24's benchmark: HEAD of
// the mirror's manifest → 401 → token → HEAD (HTTPS, verified), the engine's pull by that digest
// over its socket with the token, the tag under the upstream name. No inputs, no verification
// against upstream, no retries, no checks, no report: not a tool, a measure of what node itself
// costs (its start, its TLS) on the same job. Public images only (an anonymous token).
// node bench/minimal-hit.cjs MIRROR_REF UPSTREAM_REF ENGINE_SOCKET
const https = require("node:https");
const http = require("node:http");

const [mirrorRef = "", upstreamRef = "", socket = ""] = process.argv.slice(2);
const slash = mirrorRef.indexOf("/");
const host = mirrorRef.slice(0, slash);
const [repository, tag] = mirrorRef.slice(slash + 1).split(":");
const agent = new https.Agent({ keepAlive: true });
const ACCEPT = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
].join(", ");

function answer(request) {
  return new Promise((resolve, reject) => {
    request.on("response", (res) => {
      const chunks = [];
      res.on("data", (chunk) => chunks.push(chunk));
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    request.on("error", reject);
    request.end();
  });
}
const registry = (url, method, headers = {}) => answer(https.request(url, { method, headers, agent }));
const engine = (method, path, headers = {}) =>
  answer(http.request({ socketPath: socket, method, path, headers: { Host: "docker", ...headers } }));

async function main() {
  const manifest = `https://${host}/v2/${repository}/manifests/${tag}`;
  const challenge = String((await registry(manifest, "HEAD", { Accept: ACCEPT })).headers["www-authenticate"]);
  const realm = /realm="([^"]+)"/.exec(challenge)?.[1];
  const service = /service="([^"]+)"/.exec(challenge)?.[1] ?? "";
  const scope = `repository:${repository}:pull`;
  const granted = await registry(`${realm}?service=${encodeURIComponent(service)}&scope=${encodeURIComponent(scope)}`, "GET");
  const { token } = JSON.parse(granted.body);
  const head = await registry(manifest, "HEAD", { Accept: ACCEPT, Authorization: `Bearer ${token}` });
  const digest = head.headers["docker-content-digest"];
  const auth = Buffer.from(JSON.stringify({ registrytoken: token, serveraddress: host })).toString("base64url");
  const padded = auth + "=".repeat((4 - (auth.length % 4)) % 4);
  const query = `fromImage=${encodeURIComponent(`${host}/${repository}`)}&tag=${digest}`;
  const pulled = await engine("POST", `/images/create?${query}`, { "X-Registry-Auth": padded });
  if (pulled.status !== 200 || pulled.body.includes('"error"')) throw new Error(`pull: ${pulled.body}`);
  const colon = upstreamRef.lastIndexOf(":");
  const to = `repo=${encodeURIComponent(upstreamRef.slice(0, colon))}&tag=${encodeURIComponent(upstreamRef.slice(colon + 1))}`;
  const tagged = await engine("POST", `/images/${host}/${repository}@${digest}/tag?${to}`);
  if (tagged.status !== 201) throw new Error(`tag: ${tagged.body}`);
  agent.destroy();
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
