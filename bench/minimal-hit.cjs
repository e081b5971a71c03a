// The least a node program does for a mirror hit, as a floor for issue 24's benchmark: HEAD of
// the mirror's manifest → 401 → token → HEAD (HTTPS, verified), the engine's pull by that digest
// over its socket with the token, the tag under the upstream name. No inputs, no verification
// against upstream, no retries, no checks, no report: not a tool, a measure of what node itself
// costs (its start, its TLS) on the same job. Public images only (an anonymous token).
// node bench/minimal-hit.cjs MIRROR_REF UPSTREAM_REF ENGINE_SOCKET
const https = require("node:https");
const { ACCEPT, answer, pullAndTag, tokenUrl } = require("./floor-common.cjs");

const [mirrorRef = "", upstreamRef = "", socket = ""] = process.argv.slice(2);
const slash = mirrorRef.indexOf("/");
const host = mirrorRef.slice(0, slash);
const [repository, tag] = mirrorRef.slice(slash + 1).split(":");
const agent = new https.Agent({ keepAlive: true });
const registry = (url, method, headers = {}) => answer(https.request(url, { method, headers, agent }));

async function main() {
  const manifest = `https://${host}/v2/${repository}/manifests/${tag}`;
  const challenge = String((await registry(manifest, "HEAD", { Accept: ACCEPT })).headers["www-authenticate"]);
  const granted = await registry(tokenUrl(challenge, repository), "GET");
  const { token } = JSON.parse(granted.body);
  const head = await registry(manifest, "HEAD", { Accept: ACCEPT, Authorization: `Bearer ${token}` });
  const digest = head.headers["docker-content-digest"];
  await pullAndTag(socket, host, repository, digest, token, upstreamRef);
  agent.destroy();
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
