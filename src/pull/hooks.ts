// What one image's pull asks of its caller: its options, and the hooks through which the
// registry probes (probehooks.ts) and the engine's presence check take part.
import type { Engine } from "../engine/engine.js";
import type { HandedToken } from "../engine/pullapi.js";
import type { ImageSpec } from "../resolve/inputs.js";
import type { Layer } from "./progress.js";
import type { Source } from "./sources.js";

export interface PullOptions {
  readonly attempts: number;
  readonly backoffSeconds: number;
  readonly pullTimeoutSeconds: number;
  readonly platform?: string;
  readonly keepMirrorTag: boolean;
}

/** A source's verdict from the registry API before any pull (issue: probe before pulling). */
export interface ProbeVerdict {
  /** pull this instead of the tag (`repo@sha256:…`) so that what was checked is what lands */
  readonly pullRef?: string;
  /** the manifest digest `pullRef` names (set with it) */
  readonly digest?: string;
  /** skip this source; the reason is logged and kept */
  readonly skip?: string;
  /** Docker Hub quota text, where a response carried it */
  readonly quota?: string;
  /** a mirror's state as the probe found it (fill-mirror fills only a `missing` one) */
  readonly mirrorState?: string;
}

/** A mirror's pull by the digest its HEAD named, started before its verdict (pull/overlap.ts). */
export interface EarlyPull {
  /** `repo:tag@sha256:…` */
  readonly pullRef: string;
  readonly digest: string;
}

export interface PullHooks {
  /** Checked before a source is pulled; absent, every source is pulled blindly. */
  probe?(source: Source, spec: ImageSpec): Promise<ProbeVerdict>;
  /** A mirror's pull reference as soon as its HEAD named the digest, to pull while its verification runs (pull/overlap.ts). */
  early?(source: Source): Promise<EarlyPull | undefined>;
  /** Transient failures of this source's probe: tries, counted in `attempts` like failed pulls. */
  probeFailures?(source: Source): number;
  /** Whether the image is here already (its digest), where the caller has asked before; else presentLocally. */
  present?(): Promise<string | undefined>;
  /** The digest upstream names for this image, when the registry told us; for `present`. */
  expectedDigest?(spec: ImageSpec): Promise<string | undefined>;
  /** The layers the chosen source will bring, where known (for progress). */
  layers?(): Promise<readonly Layer[] | undefined>;
  /** The engine without stored credentials, for a pull refused with them (see pull/image.ts). */
  anonymousEngine?: Engine;
  /** The bearer token prepull holds for this source's repository (pull scope), to hand the engine's API pull. */
  registryToken?(source: Source): HandedToken | undefined;
  /** Called before each engine pull (the engine's credentials are brought up to date). */
  beforePull?(): Promise<void>;
  /** A live line while a pull goes on (outside the image's group, which is written at the end). */
  progress?(line: string): void;
  sleep?(seconds: number): Promise<void>;
  random?(): number;
}
