// @actions/http-client imports undici only for getAgentDispatcher() (a proxy for fetch), which
// prepull never calls; bundling undici would add 400 KB and ~50 ms to every start. Should
// anything call it, it says why it cannot work instead of failing obscurely.
class ProxyAgent {
  constructor() {
    throw new Error("undici is not bundled in prepull: getAgentDispatcher() is not available");
  }
}
module.exports = { ProxyAgent };
