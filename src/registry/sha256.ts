// sha256 with node:crypto loaded on first use: a start that hashes nothing (a present image,
// nothing to do) never loads it. A hit hashes the manifest bodies it reads.
export function sha256Hex(data: string | Buffer): string {
  return process.getBuiltinModule("node:crypto").createHash("sha256").update(data).digest("hex");
}
