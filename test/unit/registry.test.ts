import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer, get, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HttpClient } from "@actions/http-client";
import { describe, expect, it } from "vitest";
import { parseQuota, quotaText } from "../../src/pull/policy.js";
import { Credentials, parseChallenges, readDockerConfig } from "../../src/registry/auth.js";
import { registryBaseUrl } from "../../src/registry/client.js";
import { AnswerTooLarge, HeaderDeadlines, NetworkError, readAnswer } from "../../src/registry/http.js";
import { parseManifest, pickPlatform, platformSpec } from "../../src/registry/manifests.js";
import { isLoopback } from "../../src/resolve/reference.js";

describe("parseChallenges", () => {
  it("reads Docker Hub's Bearer challenge", () => {
    expect(
      parseChallenges('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"'),
    ).toEqual([
      {
        scheme: "Bearer",
        params: { realm: "https://auth.docker.io/token", service: "registry.docker.io", scope: "repository:library/alpine:pull" },
      },
    ]);
  });

  it("reads Quay's two challenges in one header, and quoted commas", () => {
    expect(
      parseChallenges('Basic realm="quay", Bearer realm="https://quay.io/v2/auth",service="quay.io",scope="repository:a/b:pull,push"'),
    ).toEqual([
      { scheme: "Basic", params: { realm: "quay" } },
      { scheme: "Bearer", params: { realm: "https://quay.io/v2/auth", service: "quay.io", scope: "repository:a/b:pull,push" } },
    ]);
  });

  it("accepts unquoted values, spaces around '=', escapes and a bare scheme", () => {
    expect(parseChallenges('Bearer realm = https://ghcr.io/token , service=ghcr.io, error="a \\"b\\""')).toEqual([
      { scheme: "Bearer", params: { realm: "https://ghcr.io/token", service: "ghcr.io", error: 'a "b"' } },
    ]);
    expect(parseChallenges("Negotiate")).toEqual([{ scheme: "Negotiate", params: {} }]);
    expect(parseChallenges("")).toEqual([]);
  });
});

describe("credentials", () => {
  const config = (content: unknown) => {
    const dir = mkdtempSync(join(tmpdir(), "prepull-cfg-"));
    writeFileSync(join(dir, "config.json"), JSON.stringify(content));
    return { DOCKER_CONFIG: dir };
  };
  const b64 = (s: string) => Buffer.from(s).toString("base64");

  it("reads auths from DOCKER_CONFIG, with Docker Hub under its index URL", () => {
    const env = config({
      auths: {
        "https://index.docker.io/v1/": { auth: b64("hubuser:hubpass") },
        "ghcr.io": { auth: b64("me:pat") },
        "bad.io": { auth: b64("nocolon") },
      },
    });
    const found = readDockerConfig(env);
    expect(found.get("docker.io")).toMatchObject({ username: "hubuser", password: "hubpass" });
    expect(found.get("ghcr.io")).toMatchObject({ username: "me", password: "pat" });
    expect(found.has("bad.io")).toBe(false);
  });

  it("offers github-token for ghcr.io only, before stored credentials", async () => {
    const credentials = new Credentials(
      { ...config({ auths: { "ghcr.io": { auth: b64("me:pat") } } }), GITHUB_ACTOR: "octo" },
      "ghs_token",
    );
    expect((await credentials.for("ghcr.io")).map((c) => `${c.username}:${c.from}`)).toEqual([
      "octo:github-token",
      expect.stringMatching(/^me:.*config\.json$/),
    ]);
    expect(await credentials.for("quay.io")).toEqual([]);
    expect(await credentials.for("mirror.example.com")).toEqual([]);
  });

  it("asks the credential helper the config names for a registry, as the engine does", async () => {
    const asked: string[] = [];
    const credentials = new Credentials(
      config({ credsStore: "desktop", credHelpers: { "ghcr.io": "gh" }, auths: { "quay.io": { auth: b64("q:ignored") } } }),
      undefined,
      "octo",
      async (helper, server) => {
        asked.push(`${helper} ${server}`);
        return server === "quay.io" ? undefined : { username: `${helper}-user`, secret: "s" };
      },
    );
    expect((await credentials.for("ghcr.io")).map((c) => `${c.username}:${c.from}`)).toEqual([
      "gh-user:credential helper docker-credential-gh",
    ]);
    expect((await credentials.for("docker.io"))[0]?.username).toBe("desktop-user");
    // With credsStore set the engine asks the store, not `auths`, for quay.io too.
    expect(await credentials.for("quay.io")).toEqual([]);
    expect(asked).toEqual(["gh ghcr.io", "desktop https://index.docker.io/v1/", "desktop quay.io"]);
  });

  it("survives a missing or malformed config file, and says what is wrong with it", () => {
    expect(readDockerConfig({ DOCKER_CONFIG: "/nonexistent" }).size).toBe(0);
    expect(readDockerConfig(config({ auths: "nope" })).size).toBe(0);
    const dir = mkdtempSync(join(tmpdir(), "prepull-config-"));
    writeFileSync(join(dir, "config.json"), "{ not json");
    expect(readDockerConfig({ DOCKER_CONFIG: dir }).size).toBe(0);
    expect(new Credentials({ DOCKER_CONFIG: dir }).problem).toMatch(/config\.json is not valid JSON/);
  });
});

describe("registry endpoints", () => {
  it("maps docker.io to registry-1.docker.io; a loopback registry's scheme is the one it answers on", () => {
    expect(registryBaseUrl("docker.io")).toBe("https://registry-1.docker.io");
    expect(registryBaseUrl("ghcr.io")).toBe("https://ghcr.io");
    expect(registryBaseUrl("127.0.0.1:5000")).toBe("https://127.0.0.1:5000");
    expect(registryBaseUrl("localhost:5000", "http")).toBe("http://localhost:5000");
    expect(isLoopback("[::1]:5000")).toBe(true);
    expect(isLoopback("128.0.0.1:5000")).toBe(false);
    expect(isLoopback("localhost.example.com")).toBe(false);
  });
});

describe("Docker Hub quota headers", () => {
  it("parses limit, remaining and window", () => {
    const quota = parseQuota({ "ratelimit-limit": "100;w=21600", "ratelimit-remaining": "76;w=21600" });
    expect(quota).toEqual({ remaining: 76, limit: 100, windowSeconds: 21600 });
    expect(quota && quotaText(quota)).toBe("76 of 100 pulls left per 6 h");
    expect(parseQuota({})).toBeUndefined();
  });
});

describe("manifests and platforms", () => {
  const d = (c: string) => `sha256:${c.repeat(64)}`;
  const index = parseManifest(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: "application/vnd.oci.image.index.v1+json",
        manifests: [
          { digest: d("1"), size: 1, platform: { os: "unknown", architecture: "unknown" } },
          { digest: d("2"), size: 1, platform: { os: "linux", architecture: "amd64" } },
          { digest: d("3"), size: 1, platform: { os: "linux", architecture: "arm64", variant: "v8" } },
          { digest: d("4"), size: 1, platform: { os: "linux", architecture: "arm", variant: "v7" } },
        ],
      }),
    ),
  );

  it("picks the platform's entry and never an attestation", () => {
    if (index.kind !== "index") throw new Error("expected an index");
    expect(pickPlatform(index.index, platformSpec("linux/amd64"))?.digest).toBe(d("2"));
    expect(pickPlatform(index.index, platformSpec("linux/arm64"))?.digest).toBe(d("3"));
    expect(pickPlatform(index.index, platformSpec("linux/arm64/v8"))?.digest).toBe(d("3"));
    expect(pickPlatform(index.index, platformSpec("linux/arm/v7"))?.digest).toBe(d("4"));
    expect(pickPlatform(index.index, platformSpec("linux/s390x"))).toBeUndefined();
    expect(pickPlatform(index.index, platformSpec("", "x64"))?.digest).toBe(d("2"));
  });

  it("refuses a manifest that is not one", () => {
    expect(() => parseManifest(Buffer.from('{"schemaVersion":2,"config":{}}'))).toThrow();
    expect(() => parseManifest(Buffer.from("not json"))).toThrow();
  });
});

describe("reading an answer whole, bounded", () => {
  /** One answer from a loopback server that `serve` writes, read by readAnswer with these limits. */
  async function readFrom(serve: (res: ServerResponse) => void, limit = 1000, deadlineMs = 2000): Promise<Buffer> {
    const server = createServer((_req, res) => serve(res));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const message = await new Promise<IncomingMessage>((resolve, reject) =>
        get({ host: "127.0.0.1", port }, resolve).on("error", reject),
      );
      return await readAnswer(message, { limit, deadlineMs, what: "GET /x" });
    } finally {
      server.closeAllConnections();
      server.close();
    }
  }

  it("returns the body of a whole answer, up to the limit", async () => {
    expect((await readFrom((res) => res.end("x".repeat(1000)))).length).toBe(1000);
  });

  it("a body cut short is a NetworkError (retried like unexpected EOF), not a wait for ever", async () => {
    const read = readFrom((res) => {
      res.writeHead(200, { "content-length": "100" });
      res.write("0123456789");
      setTimeout(() => res.socket?.destroy(), 20);
    });
    await expect(read).rejects.toThrow(NetworkError);
    await expect(read).rejects.toThrow(/GET \/x: the answer was cut short after 10 bytes/);
  });

  it("more than the limit is AnswerTooLarge, and the connection is closed", async () => {
    let closed = false;
    const read = readFrom((res) => {
      res.on("close", () => {
        closed = true;
      });
      const more = () => {
        if (!res.destroyed && res.write("y".repeat(512))) setImmediate(more);
      };
      more();
    });
    await expect(read).rejects.toThrow(AnswerTooLarge);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(closed).toBe(true);
  });

  it("a body still coming at the deadline is a NetworkError that says so", async () => {
    const read = readFrom(
      (res) => {
        res.writeHead(200);
        const drip = setInterval(() => res.write("."), 20);
        res.on("close", () => clearInterval(drip));
      },
      1000,
      300,
    );
    await expect(read).rejects.toThrow(/the answer was not whole after 0.3 s/);
  });
});

describe("a deadline for an answer's headers", () => {
  /** A loopback server; `serve` answers each request; what each request's headers were is kept. */
  async function withServer<T>(serve: (res: ServerResponse) => void, use: (url: string, seen: IncomingMessage["headers"][]) => Promise<T>) {
    const seen: IncomingMessage["headers"][] = [];
    const server = createServer((req, res) => {
      seen.push(req.headers);
      serve(res);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      return await use(`http://127.0.0.1:${(server.address() as AddressInfo).port}/v2/`, seen);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  }

  /** A GET through a client with a 0.3 s deadline, answered by `serve`: it must fail at the deadline, well before the 5 s idle timeout. */
  async function expectCutAtDeadline(serve: (res: ServerResponse) => void): Promise<void> {
    const deadlines = new HeaderDeadlines(300);
    const client = new HttpClient("prepull", [deadlines], { socketTimeout: 5000, allowRedirects: true });
    await withServer(serve, async (url) => {
      const started = Date.now();
      await expect(deadlines.within({}, (headers) => client.get(url, headers))).rejects.toThrow(/no answer within 0.3 s/);
      expect(Date.now() - started).toBeLessThan(3000);
    });
    client.dispose();
  }

  it("stops a request whose headers are still coming at the deadline, though the connection is never idle", async () => {
    await expectCutAtDeadline((res) => {
      const socket = res.socket;
      socket?.write("HTTP/1.1 200 OK\r\nX-Slow: ");
      const drip = setInterval(() => socket?.write("a"), 20);
      socket?.on("close", () => clearInterval(drip));
    });
  });

  it("holds while http-client reads a redirect's body itself, though that body never ends", async () => {
    await expectCutAtDeadline((res) => {
      res.writeHead(307, { location: `http://${res.req.headers.host}/elsewhere` });
      const drip = setInterval(() => res.write("a"), 20);
      res.on("close", () => clearInterval(drip));
    });
  });

  it("ends with the headers: a body slower than the deadline is read whole; the id header never leaves this process", async () => {
    const deadlines = new HeaderDeadlines(200);
    const client = new HttpClient("prepull", [deadlines], { socketTimeout: 5000 });
    await withServer(
      (res) => {
        res.writeHead(200, { "content-length": "2" });
        res.write("o");
        setTimeout(() => res.end("k"), 500);
      },
      async (url, seen) => {
        const response = await deadlines.within({ Accept: "x/y" }, (headers) => client.get(url, headers));
        expect((await readAnswer(response.message, { limit: 10, deadlineMs: 2000, what: "GET" })).toString()).toBe("ok");
        expect(seen).toHaveLength(1);
        expect(seen[0]?.accept).toBe("x/y");
        expect(Object.keys(seen[0] ?? {}).filter((name) => name.includes("prepull"))).toEqual([]);
      },
    );
    client.dispose();
  });
});
