// Which pulls go through the engine's API, and with what X-Registry-Auth (engine/pullapi.ts).
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { shadowConfigDir } from "../../src/engine/config.js";
import { cachedRegistryAuthHeader, handedTokenHeader, registryAuthHeader } from "../../src/engine/pullapi.js";

const configEnv = (config: unknown) => {
  const dir = mkdtempSync(join(tmpdir(), "prepull-pullapi-"));
  writeFileSync(join(dir, "config.json"), typeof config === "string" ? config : JSON.stringify(config));
  return { DOCKER_CONFIG: dir };
};
const decoded = (header: string | undefined) =>
  header === undefined ? undefined : JSON.parse(Buffer.from(header.replaceAll("-", "+").replaceAll("_", "/"), "base64").toString());
const basic = (pair: string) => Buffer.from(pair).toString("base64");

describe("registryAuthHeader", () => {
  it("no config, or nothing for that registry: anonymous ({}), padded as the CLI pads it", () => {
    const none = registryAuthHeader({ DOCKER_CONFIG: mkdtempSync(join(tmpdir(), "prepull-pullapi-")) }, "ghcr.io");
    expect(none).toBe("e30=");
    expect(decoded(registryAuthHeader(configEnv({ auths: { "quay.io": { auth: basic("a:b") } } }), "ghcr.io"))).toEqual({});
  });

  it("an auths entry (github-token's as prepull writes it, or a login) is sent as the CLI sends it", () => {
    const env = configEnv({ auths: { "ghcr.io": { auth: basic("octo:ghs_token:with:colons") } } });
    expect(decoded(registryAuthHeader(env, "ghcr.io"))).toEqual({
      username: "octo",
      password: "ghs_token:with:colons",
      serveraddress: "ghcr.io",
    });
    const hub = configEnv({ auths: { "https://index.docker.io/v1/": { identitytoken: "id-tok" } } });
    expect(decoded(registryAuthHeader(hub, "docker.io"))).toEqual({
      identitytoken: "id-tok",
      serveraddress: "https://index.docker.io/v1/",
    });
  });

  it("a credential helper for the registry, or an unreadable config, leaves the pull to the CLI", () => {
    expect(registryAuthHeader(configEnv({ credsStore: "desktop" }), "ghcr.io")).toBeUndefined();
    expect(registryAuthHeader(configEnv({ credHelpers: { "ghcr.io": "gh" } }), "ghcr.io")).toBeUndefined();
    expect(registryAuthHeader(configEnv("{not json"), "ghcr.io")).toBeUndefined();
    expect(registryAuthHeader(configEnv({ auths: { "ghcr.io": { auth: basic("no-colon") } } }), "ghcr.io")).toBeUndefined();
  });

  it('a helper for another registry, or "" for this one (the file, as prepull\'s token config says), keeps the API', () => {
    expect(decoded(registryAuthHeader(configEnv({ credHelpers: { "quay.io": "q" } }), "ghcr.io"))).toEqual({});
    const fileForThis = configEnv({ credsStore: "desktop", credHelpers: { "ghcr.io": "" }, auths: { "ghcr.io": { auth: basic("u:p") } } });
    expect(decoded(registryAuthHeader(fileForThis, "ghcr.io"))).toEqual({ username: "u", password: "p", serveraddress: "ghcr.io" });
  });
});

describe("handedTokenHeader (issue 24)", () => {
  const handed = { registry: "ghcr.io", repository: "org/app", token: "tok.en.value" };

  it("the token alone as RegistryToken, with the registry's server address: no user name or password", () => {
    expect(decoded(handedTokenHeader("ghcr.io", "org/app", handed))).toEqual({ registrytoken: "tok.en.value", serveraddress: "ghcr.io" });
    const hub = { registry: "docker.io", repository: "library/alpine", token: "hub" };
    expect(decoded(handedTokenHeader("docker.io", "library/alpine", hub))).toEqual({
      registrytoken: "hub",
      serveraddress: "https://index.docker.io/v1/",
    });
  });

  it("only for the registry and repository it was issued for", () => {
    expect(handedTokenHeader("quay.io", "org/app", handed)).toBeUndefined();
    expect(handedTokenHeader("ghcr.io", "org/other", handed)).toBeUndefined();
    expect(handedTokenHeader("ghcr.io", "org/app", undefined)).toBeUndefined();
    expect(handedTokenHeader("ghcr.io", "org/app", { ...handed, token: "" })).toBeUndefined();
  });
});

describe("cachedRegistryAuthHeader", () => {
  it("reads config.json once per config directory; again only once prepull rewrote it (config.ts's write)", async () => {
    const home = mkdtempSync(join(tmpdir(), "prepull-pullapi-"));
    const shadow = await shadowConfigDir({ DOCKER_CONFIG: home }, tmpdir(), "prepull-pullapi-shadow-");
    const env = { DOCKER_CONFIG: shadow.dir };
    await shadow.write({ auths: { "ghcr.io": { auth: basic("a:one") } } });
    expect(decoded(cachedRegistryAuthHeader(env, "ghcr.io"))).toMatchObject({ password: "one" });
    // Changed behind prepull's back: the header computed once stands (no read on every pull).
    writeFileSync(join(shadow.dir, "config.json"), JSON.stringify({ auths: { "ghcr.io": { auth: basic("a:two") } } }));
    expect(decoded(cachedRegistryAuthHeader(env, "ghcr.io"))).toMatchObject({ password: "one" });
    await shadow.write({ auths: { "ghcr.io": { auth: basic("a:three") } } });
    expect(decoded(cachedRegistryAuthHeader(env, "ghcr.io"))).toMatchObject({ password: "three" });
    shadow.remove();
  });
});
