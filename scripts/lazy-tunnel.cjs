// tunnel (http-client's proxy agents, which load node's TLS) on first use: only behind a proxy.
let tunnel;
const load = () => {
  tunnel ??= require("tunnel");
  return tunnel;
};
module.exports = {
  get httpOverHttp() {
    return load().httpOverHttp;
  },
  get httpsOverHttp() {
    return load().httpsOverHttp;
  },
  get httpOverHttps() {
    return load().httpOverHttps;
  },
  get httpsOverHttps() {
    return load().httpsOverHttps;
  },
};
