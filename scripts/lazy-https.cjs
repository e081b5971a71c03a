// node:https for @actions/http-client, loaded on its first use: loading node's TLS took 4–5 ms of
// a start here, and the post step, `mode: wait`, a run with nothing to do and plain-HTTP caches
// never need it.
let https;
const load = () => {
  https ??= require("node:https");
  return https;
};
module.exports = {
  get Agent() {
    return load().Agent;
  },
  get globalAgent() {
    return load().globalAgent;
  },
  get request() {
    return load().request;
  },
  get get() {
    return load().get;
  },
};
