// Issue 21 §2 and §3, the pure rules: a manifest body is the content its digest names, an
// announced digest is the one asked for, and credentials go only to their registry's realm.
import { describe, expect, it } from "vitest";
import { credentialsMayGoTo, identitiesInOrder } from "../../src/registry/http.js";
import { announcedDigestFault, manifestDigestFault, sha256Digest } from "../../src/registry/manifests.js";

const body = Buffer.from('{"schemaVersion":2}');
const real = sha256Digest(body);
const other = `sha256:${"b".repeat(64)}`;

describe("manifest bodies are hashed", () => {
  it("a body that hashes to the digest asked for and announced is taken", () => {
    expect(manifestDigestFault(body, real, real)).toBeUndefined();
    expect(manifestDigestFault(body, "", real)).toBeUndefined();
    expect(manifestDigestFault(body, "", "latest")).toBeUndefined();
  });

  it("a body under a digest it does not hash to is refused, asked for or announced", () => {
    expect(manifestDigestFault(body, other, other)).toMatch(new RegExp(`answered for ${other} hashes to ${real}: a forged`));
    expect(manifestDigestFault(body, "", other)).toMatch(/forged or corrupt/);
    // A GET by tag: the digest the registry announced for it must be the body's.
    expect(manifestDigestFault(body, other, "1")).toMatch(new RegExp(`announced as ${other} hashes to ${real}`));
  });

  it("an announced digest must be the one asked for, where one was", () => {
    expect(announcedDigestFault(real, real)).toBeUndefined();
    expect(announcedDigestFault(other, undefined)).toBeUndefined();
    expect(announcedDigestFault("", real)).toBeUndefined();
    expect(announcedDigestFault(other, real)).toMatch(new RegExp(`announced ${other} for ${real}`));
  });
});

describe("credentials go only where they belong", () => {
  it("to a realm over HTTPS, or plain HTTP only for a plain-HTTP registry and realm on this machine", () => {
    expect(credentialsMayGoTo("https://auth.docker.io/token", "docker.io", undefined)).toBe(true);
    expect(credentialsMayGoTo("http://auth.example.com/token", "registry.example.com", undefined)).toBe(false);
    expect(credentialsMayGoTo("http://127.0.0.1:5001/token", "127.0.0.1:5000", "http")).toBe(true);
    // A TLS registry on this machine: its credentials do not go over plain HTTP.
    expect(credentialsMayGoTo("http://127.0.0.1:5001/token", "127.0.0.1:5000", "https")).toBe(false);
    // A plain-HTTP registry here naming a plain-HTTP realm elsewhere.
    expect(credentialsMayGoTo("http://auth.example.com/token", "127.0.0.1:5000", "http")).toBe(false);
    expect(credentialsMayGoTo("not a url", "127.0.0.1:5000", "http")).toBe(false);
    expect(credentialsMayGoTo(undefined, "127.0.0.1:5000", "http")).toBe(false);
  });

  it("a realm that may not have them gets anonymous access only", () => {
    const alice = { username: "alice", password: "pw", from: "config" };
    const github = { username: "x", password: "ghs", from: "github-token" };
    const bearer = (realm: string) => ({ scheme: "Bearer", params: { realm } });
    const never = () => false;
    expect(identitiesInOrder([github, alice], bearer("http://evil.example/token"), never)).toEqual([undefined]);
    expect(identitiesInOrder([github, alice], bearer("https://ghcr.io/token"), () => true)).toEqual([alice, undefined, github]);
  });
});
