// Types of bench/floor-common.cjs, for bench/minimal-action.ts.
import type { ClientRequest, IncomingHttpHeaders } from "node:http";

export declare const ACCEPT: string;
export declare function answer(request: ClientRequest): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }>;
export declare function tokenUrl(challenge: string, repository: string): string;
export declare function pullAndTag(
  socket: string,
  host: string,
  repository: string,
  digest: string,
  token: string,
  upstreamRef: string,
): Promise<void>;
