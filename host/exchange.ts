// What crosses each side of the filter, as a test or a gateway sees it: the parts as they pass,
// the accumulated record of a side, and the local response that replaces an upstream answer.
import { HeaderPairs } from "./header-map";

/** One piece of a message as it leaves the filter. */
export type StreamPart =
  | { kind: "headers"; headers: HeaderPairs; endOfStream: boolean }
  | { kind: "data"; data: Buffer; endOfStream: boolean }
  | { kind: "trailers"; trailers: HeaderPairs }
  /** The stream ended before this side did (client disconnect, upstream reset, plugin close). */
  | { kind: "reset"; reason: string };

export interface LocalResponse {
  status: number;
  body: Buffer;
  /** The headers the plugin asked for (names lower-cased). */
  headers: HeaderPairs;
  /** Response code details, with whitespace replaced by '_' as Envoy does. */
  details: string;
  grpcStatus: number;
}

/** What crossed one side of the filter. */
export class Exchange {
  headers: HeaderPairs | null = null;
  trailers: HeaderPairs | null = null;
  ended = false;
  private chunks: Buffer[] = [];
  private joined: Buffer | null = Buffer.alloc(0);

  /** Every body byte that passed (joined once per read, not per chunk). */
  get body(): Buffer {
    this.joined ??= Buffer.concat(this.chunks);
    this.chunks = [this.joined];
    return this.joined;
  }

  append(data: Buffer): void {
    if (data.length === 0) return;
    this.chunks.push(data);
    this.joined = null;
  }
}
