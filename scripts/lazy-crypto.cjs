// node:crypto for @actions/core, loaded on first use: core needs it only for the delimiter of a
// file command, and prepull writes its own (src/filecommand.ts); loading it cost 4–6 ms of a start.
module.exports = {
  get randomUUID() {
    return require("node:crypto").randomUUID;
  },
};
