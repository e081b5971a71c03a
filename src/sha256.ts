// sha256 with node:crypto loaded on first use: its load cost 4–6 ms of a start (node 24), and a
// step's usual path (a hit, a present image, nothing to do) never hashes.
export function sha256Hex(data: string | Buffer): string {
  return process.getBuiltinModule("node:crypto").createHash("sha256").update(data).digest("hex");
}
