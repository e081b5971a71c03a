// Pull progress that reads well in a CI log: one line every few seconds per image with bytes
// done and total, built from the engine's per-layer events and the layer sizes in the
// manifest, rather than the engine's raw progress stream.
import { formatBytes } from "../report/results.js";

export const PROGRESS_INTERVAL_SECONDS = 5;

export interface Layer {
  readonly digest: string;
  readonly size: number;
}

// docker (not a terminal): `b40e6cd96538: Download complete` / `Pull complete` / `Already exists`
const DOCKER_DONE = /^([0-9a-f]{12}): (Download complete|Pull complete|Already exists)\s*$/;
// podman: `Copying blob sha256:<hex> done` / `… skipped: already exists` (a bare line only starts one)
const PODMAN_DONE = /^Copying blob (?:sha256:)?([0-9a-f]{12,64})\s+(done|skipped)/;

export class PullProgress {
  private readonly done = new Set<string>();

  constructor(
    private layers: readonly Layer[] | undefined,
    private readonly startedMs: number,
  ) {}

  /** The layers, once the size read the pull does not wait for has them (issue 24). */
  knowLayers(layers: readonly Layer[] | undefined): void {
    this.layers ??= layers;
  }

  /** Feeds one line of the engine's output. */
  onLine(line: string): void {
    const match = DOCKER_DONE.exec(line.trim()) ?? PODMAN_DONE.exec(line.trim());
    if (match?.[1]) this.done.add(match[1].slice(0, 12));
  }

  text(nowMs: number): string {
    const seconds = Math.round((nowMs - this.startedMs) / 1000);
    if (!this.layers || this.layers.length === 0) return `${this.done.size} layer(s) done, ${seconds} s`;
    const total = this.layers.reduce((sum, layer) => sum + layer.size, 0);
    const doneLayers = this.layers.filter((layer) => this.done.has(layer.digest.replace(/^sha256:/, "").slice(0, 12)));
    const bytes = doneLayers.reduce((sum, layer) => sum + layer.size, 0);
    return `${formatBytes(bytes)} of ${formatBytes(total)} (${doneLayers.length} of ${this.layers.length} layers), ${seconds} s`;
  }
}
