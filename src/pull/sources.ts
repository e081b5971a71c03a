// Which sources an image is tried from, in order: its mirrors, then upstream. Pure logic.
import {
  DEFAULT_REGISTRY,
  formatReference,
  InvalidReferenceError,
  parseRepository,
  type Reference,
  repositoryOf,
  withRepository,
} from "../resolve/reference.js";

/** One line of the `mirrors` input. */
export interface MirrorRule {
  /** Serve only images of this upstream registry (`docker.io=…`). */
  readonly onlyRegistry?: string;
  /** `{path}`-style template, or a bare prefix (then `<prefix>/{flat}`). */
  readonly template: string;
  readonly line: number;
}

const PLACEHOLDERS = ["{path}", "{flat}", "{name}", "{registry}"] as const;

/** Parses one `mirrors` line; throws InvalidReferenceError when it cannot yield a valid repository. */
export function parseMirrorRule(text: string, line: number): MirrorRule {
  let rest = text.trim();
  let onlyRegistry: string | undefined;
  const eq = rest.indexOf("=");
  if (eq >= 0) {
    const registry = rest.slice(0, eq).trim();
    rest = rest.slice(eq + 1).trim();
    if (registry === "" || /[/{}\s]/.test(registry)) {
      throw new InvalidReferenceError(`"${registry}" before '=' is not a registry name`);
    }
    onlyRegistry = registry === "index.docker.io" ? DEFAULT_REGISTRY : registry.toLowerCase();
  }
  rest = rest.replace(/\/+$/, "");
  const template = PLACEHOLDERS.some((p) => rest.includes(p)) ? rest : `${rest}/{flat}`;
  // Check the template yields a valid repository for a sample upstream.
  const sample = expand(template, { registry: "docker.io", path: "library/sample" });
  if (/[{}]/.test(sample)) throw new InvalidReferenceError(`unknown placeholder in "${rest}" (use {path}, {flat}, {name}, {registry})`);
  parseRepository(sample);
  return { ...(onlyRegistry !== undefined && { onlyRegistry }), template, line };
}

function expand(template: string, upstream: Pick<Reference, "registry" | "path">): string {
  const name = upstream.path.slice(upstream.path.lastIndexOf("/") + 1);
  return template
    .replaceAll("{path}", upstream.path)
    .replaceAll("{flat}", upstream.path.replaceAll("/", "-"))
    .replaceAll("{name}", name)
    .replaceAll("{registry}", upstream.registry);
}

/** The mirror reference one rule gives for `upstream`, tag and digest carried over; undefined if the rule does not serve it. */
export function mirrorFor(rule: MirrorRule, upstream: Reference): Reference | undefined {
  if (rule.onlyRegistry !== undefined && rule.onlyRegistry !== upstream.registry) return undefined;
  return withRepository(upstream, parseRepository(expand(rule.template, upstream)));
}

/** `mirror-map`: upstream repository (normalised `registry/path`) → mirror repository. */
export type MirrorMap = ReadonlyMap<string, Reference>;

export interface Source {
  readonly kind: "mirror" | "upstream";
  readonly ref: Reference;
}

/**
 * Sources for one image, in order. An explicit `UPSTREAM => MIRROR` line or a `mirror-map`
 * entry names this image's mirror and replaces the `mirrors` rules for it (a rename is a
 * statement about where the copy lives); otherwise every rule that serves the image adds one.
 * Duplicates and a mirror equal to upstream are dropped.
 */
export function sourcesFor(upstream: Reference, rules: readonly MirrorRule[], map: MirrorMap, explicitMirror?: Reference): Source[] {
  const mapped = map.get(repositoryOf(upstream));
  const mirrors: Reference[] = explicitMirror
    ? [explicitMirror]
    : mapped
      ? [withRepository(upstream, mapped)]
      : rules.flatMap((rule) => mirrorFor(rule, upstream) ?? []);
  const seen = new Set<string>([formatReference(upstream)]);
  const sources: Source[] = [];
  for (const ref of mirrors) {
    const key = formatReference(ref);
    if (seen.has(key)) continue;
    seen.add(key);
    sources.push({ kind: "mirror", ref });
  }
  sources.push({ kind: "upstream", ref: upstream });
  return sources;
}

/** sourcesFor an image line under the run's `mirrors` and `mirror-map` (every mode's one call). */
export function sourcesOf(
  spec: { readonly upstream: Reference; readonly explicitMirror?: Reference },
  config: { readonly mirrors: readonly MirrorRule[]; readonly mirrorMap: MirrorMap },
): Source[] {
  return sourcesFor(spec.upstream, config.mirrors, config.mirrorMap, spec.explicitMirror);
}
