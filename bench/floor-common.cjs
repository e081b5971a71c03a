// What both floors of issue 24's benchmark (bench/minimal-hit.cjs, bench/minimal-action.ts) do
// alike: the manifest types they ask for, the token URL the registry's challenge names, and the
// engine's part of a hit over its socket with node's own http (the pull by the digest with the
// registry's token, the tag under the upstream name). They differ only in how they reach the
// registry: node's https, or the chosen stack.
const http = require("node:http");

const ACCEPT = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
].join(", ");

/** A request's answer read whole: status, headers, body. */
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

/** The token endpoint's URL for pulling `repository`, from a 401's WWW-Authenticate (realm, service). */
function tokenUrl(challenge, repository) {
  const realm = /realm="([^"]+)"/.exec(challenge)?.[1];
  const service = /service="([^"]+)"/.exec(challenge)?.[1] ?? "";
  return `${realm}?service=${encodeURIComponent(service)}&scope=${encodeURIComponent(`repository:${repository}:pull`)}`;
}

/** The engine's pull of host/repository@digest with the registry's token, then the tag upstreamRef. */
async function pullAndTag(socket, host, repository, digest, token, upstreamRef) {
  const engine = (method, path, headers = {}) =>
    answer(http.request({ socketPath: socket, method, path, headers: { Host: "docker", ...headers } }));
  const auth = Buffer.from(JSON.stringify({ registrytoken: token, serveraddress: host })).toString("base64url");
  const padded = auth + "=".repeat((4 - (auth.length % 4)) % 4);
  const query = `fromImage=${encodeURIComponent(`${host}/${repository}`)}&tag=${digest}`;
  const pulled = await engine("POST", `/images/create?${query}`, { "X-Registry-Auth": padded });
  if (pulled.status !== 200 || pulled.body.includes('"error"')) throw new Error(`pull: ${pulled.body}`);
  const colon = upstreamRef.lastIndexOf(":");
  const to = `repo=${encodeURIComponent(upstreamRef.slice(0, colon))}&tag=${encodeURIComponent(upstreamRef.slice(colon + 1))}`;
  const tagged = await engine("POST", `/images/${host}/${repository}@${digest}/tag?${to}`);
  if (tagged.status !== 201) throw new Error(`tag: ${tagged.body}`);
}

module.exports = { ACCEPT, answer, pullAndTag, tokenUrl };
