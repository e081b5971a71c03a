// One test world a file: the parts an end-to-end file (or a benchmark) names in `useWorld`,
// started once in its beforeAll and stopped in its afterAll; the fault proxies' rules and logs
// are reset before each test. The engine is the run's own (global-setup.ts). Every part is a
// handle that finds the started part when used, so a describe block can name them all at once:
//   const { engine, tokens, registry: { upstream, mirror }, proxy: { mirror: mirrorProxy } } = world;
// The runner-shaped users (runner.ts) are made once a file where `runners` names them; a
// describe block takes a fresh /home/<user>/work layout of its own with `world.runner(variant)`.
import { rmSync } from "node:fs";
import { dirname } from "node:path";
import { afterAll, beforeAll, beforeEach, inject } from "vitest";
import { FaultProxy } from "./fault-proxy.js";
import { FileServer } from "./http-server.js";
import { Docker } from "./images.js";
import { addHostNames, trustBundle } from "./net.js";
import { type Registry, startRegistry } from "./registry.js";
import { ensureRunnerUser, type RunnerLayout, type RunnerUser, type RunnerVariant, runnerLayout, shareEngine } from "./runner.js";
import { type TokenPolicy, TokenServer } from "./token-server.js";

export interface RegistrySpec {
  /** token auth through the world's token server, as Docker Hub and GHCR ask for it */
  readonly tokenAuth?: boolean;
  /** HTTPS (a self-signed certificate for 127.0.0.1), as every public registry speaks */
  readonly tls?: boolean;
  /** a fault proxy in front, speaking TLS where `proxyTls` (to the registry behind it, as that registry speaks) */
  readonly proxy?: boolean;
  readonly proxyTls?: boolean;
  /**
   * What the action reaches (the TLS proxy where there is one, else the TLS registry) is reached
   * as `hostName:PORT`, a name that resolves to 127.0.0.1 (net.ts addHostNames), as a runner
   * reaches ghcr.io: no loopback address for prepull or the engine to treat as this machine's,
   * HTTPS verified against the certificate (World.trust). The registry behind a proxy stays at
   * 127.0.0.1 (the seeding's way in).
   */
  readonly hostName?: string;
}

export interface WorldSpec<R extends string> {
  readonly registries: { readonly [name in R]: RegistrySpec };
  /**
   * the token server of every `tokenAuth` registry (default policy: `private/*` needs a login);
   * its realm is HTTPS, as Docker Hub's and GHCR's are, unless `tls: false` asks for plain HTTP
   */
  readonly tokens?: {
    readonly service?: string;
    readonly policy?: Partial<TokenPolicy>;
    readonly tls?: boolean;
    /** the realm names the token server so (as `hostName` of a registry) */
    readonly hostName?: string;
  };
  /** a loopback file server (set-vars scripts, redirects) */
  readonly files?: boolean;
  /** every image removed from the engine before each test */
  readonly cleanEngine?: boolean;
  /** false: the fault proxies keep their rules and logs from test to test (a rule set in beforeAll) */
  readonly resetProxies?: boolean;
  /** the runner-shaped users made (idempotently) and the engine's socket shared with them */
  readonly runners?: readonly RunnerVariant[];
}

export interface World<R extends string> {
  readonly engine: Docker;
  readonly registry: { readonly [name in R]: Registry };
  /** the fault proxies of the registries started with `proxy` */
  readonly proxy: { readonly [name in R]: FaultProxy };
  readonly tokens: TokenServer;
  readonly files: FileServer;
  /**
   * A file of the world's TLS certificates (registries and realm), for NODE_EXTRA_CA_CERTS: what
   * a runner's system trust store is to ghcr.io's certificate, where a part is reached by a name.
   */
  trust(): string;
  /**
   * A fresh runner layout of a user named in `runners`, laid out in the beforeAll of the
   * describe block that calls this (a handle, as the parts are).
   */
  runner(variant: RunnerVariant): RunnerLayout;
}

/** A stand-in for the part `find` returns, looked up at each use (methods bound to the part). */
function handle<T extends object>(find: () => T): T {
  return new Proxy({} as T, {
    get(_, key) {
      const part = find();
      const value: unknown = Reflect.get(part, key, part);
      return typeof value === "function" ? value.bind(part) : value;
    },
    set: (_, key, value) => Reflect.set(find(), key, value),
    has: (_, key) => Reflect.has(find(), key),
    getPrototypeOf: () => Reflect.getPrototypeOf(find()),
  });
}

const DEFAULT_POLICY: TokenPolicy = { isPrivate: (repository) => repository.startsWith("private/"), users: {} };

/** Registers the file's hooks and returns the world they fill; its parts exist from beforeAll on. */
export function useWorld<R extends string>(spec: WorldSpec<R>): World<R> {
  const parts: {
    tokens?: TokenServer;
    files?: FileServer;
    registry: Partial<Record<R, Registry>>;
    proxy: Partial<Record<R, FaultProxy>>;
    runners: Partial<Record<RunnerVariant, RunnerUser>>;
  } = { registry: {}, proxy: {}, runners: {} };
  const names = Object.keys(spec.registries) as R[];
  const engine = new Docker(inject("dockerHost"));
  const needs = <T>(part: T | undefined, what: string): T => {
    if (part === undefined) throw new Error(`the test world has no ${what}: name it in useWorld`);
    return part;
  };

  let removeHostNames: (() => void) | undefined;
  let trustFile: string | undefined;

  beforeAll(async () => {
    const hostNames = [...names.map((name) => spec.registries[name].hostName), spec.tokens?.hostName].filter((n) => n !== undefined);
    if (hostNames.length > 0) removeHostNames = await addHostNames(hostNames);
    if (spec.runners?.length) shareEngine(engine.dockerHost);
    for (const variant of spec.runners ?? []) parts.runners[variant] = ensureRunnerUser(variant);
    const wantsTokens = spec.tokens !== undefined || names.some((name) => spec.registries[name].tokenAuth);
    const policy = { ...DEFAULT_POLICY, ...spec.tokens?.policy };
    const [tokens, files] = await Promise.all([
      wantsTokens
        ? TokenServer.start(spec.tokens?.service ?? "test-registry", policy, {
            tls: spec.tokens?.tls ?? true,
            ...(spec.tokens?.hostName && { hostName: spec.tokens.hostName }),
          })
        : undefined,
      spec.files ? FileServer.start() : undefined,
    ]);
    Object.assign(parts, { tokens, files });
    await Promise.all(
      names.map(async (name) => {
        const { tokenAuth, tls, proxy, proxyTls, hostName } = spec.registries[name];
        const named = hostName && !proxy ? hostName : undefined;
        const started = await startRegistry({
          ...(tokenAuth && tokens && { tokenAuth: tokens.registryConfig() }),
          ...(tls && { tls }),
          ...(named && { names: [named] }),
        });
        const registry = named ? { ...started, host: `${named}:${started.port}` } : started;
        parts.registry[name] = registry;
        if (proxy) {
          parts.proxy[name] = await FaultProxy.start(registry.host, {
            tls: proxyTls ?? false,
            targetTls: tls ?? false,
            ...(hostName && { hostName }),
          });
        }
      }),
    );
  });

  afterAll(async () => {
    removeHostNames?.();
    if (trustFile) rmSync(dirname(trustFile), { recursive: true, force: true });
    await Promise.all(Object.values<FaultProxy | undefined>(parts.proxy).map((proxy) => proxy?.stop()));
    await Promise.all([
      ...Object.values<Registry | undefined>(parts.registry).map((registry) => registry?.stop()),
      parts.tokens?.stop(),
      parts.files?.stop(),
    ]);
  });

  beforeEach(async () => {
    if (spec.cleanEngine) await engine.removeAllImages();
    if (spec.resetProxies === false) return;
    for (const proxy of Object.values<FaultProxy | undefined>(parts.proxy)) {
      proxy?.clearRules();
      proxy?.resetLog();
    }
  });

  return {
    engine,
    registry: Object.fromEntries(
      names.map((name) => [name, handle(() => needs<Registry>(parts.registry[name], `registry ${name}`))]),
    ) as Record<R, Registry>,
    proxy: Object.fromEntries(
      names.map((name) => [name, handle(() => needs<FaultProxy>(parts.proxy[name], `proxy for ${name}`))]),
    ) as Record<R, FaultProxy>,
    tokens: handle(() => needs(parts.tokens, "token server")),
    files: handle(() => needs(parts.files, "file server")),
    trust() {
      trustFile ??= trustBundle(
        ...Object.values<Registry | undefined>(parts.registry).map((r) => r?.certFile),
        ...Object.values<FaultProxy | undefined>(parts.proxy).map((p) => p?.certFile),
        parts.tokens?.tlsCertFile,
      );
      return trustFile;
    },
    runner(variant) {
      let layout: RunnerLayout | undefined;
      beforeAll(() => {
        layout = runnerLayout(needs(parts.runners[variant], `runner user ${variant}`));
      });
      return handle(() => needs(layout, `runner layout ${variant} (used before its beforeAll)`));
    },
  };
}
