// How the mock puts an answer on the wire: content negotiation, compression, Server-Sent Events,
// and the misbehaviours a test can ask for.
//
// Directives (a request header, or a `+…` suffix on the model name, which the mock strips before
// answering; Gemini's model is in the path, the suffix works there too):
//   x-mock-cut-after: N          +cut=N       end the connection abruptly after N stream events (no
//                                             terminating chunk, no [DONE]); a JSON answer is cut
//                                             after the first half of its body
//   x-mock-usage: omit           +no-usage    report no usage anywhere, whatever the request asks
//                                             (an upstream that ignores stream_options.include_usage)
//   x-mock-content-encoding: E   +gzip +br +deflate
//                                             compress with E even when the request did not accept
//                                             it (an upstream or cache that ignores accept-encoding)
// Without a forced encoding the mock compresses as real upstreams do: with the best encoding the
// request's `accept-encoding` accepts (RFC 9110 §12.5.3: q-values, `*`, q=0 refuses; a tie goes to
// br, then gzip, then deflate), and says so in `content-encoding` with `vary: accept-encoding`.
import type * as http from "node:http";
import * as zlib from "node:zlib";

export type Encoding = "br" | "gzip" | "deflate";
const ENCODINGS: readonly Encoding[] = ["br", "gzip", "deflate"];

export interface Directives {
  cutAfter: number | null;
  omitUsage: boolean;
  forceEncoding: Encoding | null;
}

function header(req: http.IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** The directives of a request, and its model name without them. */
export function directivesOf(req: http.IncomingMessage, model: string): { model: string; directives: Directives } {
  const [base, ...suffixes] = model.split("+");
  const d: Directives = { cutAfter: null, omitUsage: false, forceEncoding: null };
  const cut = header(req, "x-mock-cut-after");
  if (cut !== undefined && /^\d+$/.test(cut.trim())) d.cutAfter = Number(cut.trim());
  if (header(req, "x-mock-usage")?.trim().toLowerCase() === "omit") d.omitUsage = true;
  const enc = header(req, "x-mock-content-encoding")?.trim().toLowerCase();
  if (ENCODINGS.includes(enc as Encoding)) d.forceEncoding = enc as Encoding;
  for (const s of suffixes) {
    const m = /^cut=(\d+)$/.exec(s);
    if (m) d.cutAfter = Number(m[1]);
    else if (s === "no-usage") d.omitUsage = true;
    else if (ENCODINGS.includes(s as Encoding)) d.forceEncoding = s as Encoding;
  }
  return { model: base, directives: d };
}

/** The encoding to answer with for an `accept-encoding` value, or null for identity. */
export function negotiateEncoding(accept: string | undefined): Encoding | null {
  if (accept === undefined) return null;
  const q = new Map<string, number>();
  for (const item of accept.split(",")) {
    const [name, ...params] = item.trim().toLowerCase().split(";");
    if (name === "") continue;
    let weight = 1;
    for (const p of params) {
      const m = /^\s*q\s*=\s*([0-9.]+)\s*$/.exec(p);
      if (m) weight = Number(m[1]);
    }
    if (Number.isFinite(weight)) q.set(name.trim(), Math.min(1, Math.max(0, weight)));
  }
  let best: Encoding | null = null;
  let bestQ = 0;
  for (const e of ENCODINGS) {
    const weight = q.get(e) ?? q.get("*") ?? 0;
    if (weight > bestQ) {
      best = e;
      bestQ = weight;
    }
  }
  return best;
}

function compressor(e: Encoding): zlib.Gzip | zlib.Deflate | zlib.BrotliCompress {
  return e === "br" ? zlib.createBrotliCompress() : e === "gzip" ? zlib.createGzip() : zlib.createDeflate();
}

export function compressSync(e: Encoding, data: Buffer): Buffer {
  return e === "br" ? zlib.brotliCompressSync(data) : e === "gzip" ? zlib.gzipSync(data) : zlib.deflateSync(data);
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => (ms > 0 ? setTimeout(resolve, ms) : setImmediate(resolve)));
}

/** Ends the connection without finishing the response, once what `res` was given has gone out. */
function cut(res: http.ServerResponse): void {
  const socket = res.socket;
  if (socket === null) return;
  socket.end(() => socket.destroy());
}

/** One answer of the mock: the encoding chosen for it and the directives it obeys. */
export class Reply {
  readonly encoding: Encoding | null;

  constructor(private readonly req: http.IncomingMessage, private readonly res: http.ServerResponse, readonly directives: Directives) {
    this.encoding = directives.forceEncoding ?? negotiateEncoding(header(req, "accept-encoding"));
  }

  private head(status: number, contentType: string, length: number | null, extra: Record<string, string> = {}): void {
    const headers: Record<string, string | number> = { "content-type": contentType, ...extra };
    if (this.encoding !== null) headers["content-encoding"] = this.encoding;
    headers["vary"] = "accept-encoding";
    if (contentType === "text/event-stream") headers["cache-control"] = "no-cache";
    if (length !== null) headers["content-length"] = length;
    this.res.writeHead(status, headers);
  }

  /** A whole JSON answer (compressed when negotiated; cut in half when told), with extra headers. */
  json(status: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = Buffer.from(JSON.stringify(body), "utf8");
    const data = this.encoding === null ? text : compressSync(this.encoding, text);
    this.head(status, "application/json", data.length, headers);
    if (this.directives.cutAfter !== null) {
      this.res.write(data.subarray(0, data.length >> 1));
      cut(this.res);
      return;
    }
    this.res.end(data);
  }

  /**
   * A stream of events, each written (and, compressed, flushed) on its own so that a reader sees it
   * before the next one exists; cut after `cutAfter` events when told. Resolves when done.
   */
  async stream(contentType: string, events: readonly (string | Buffer)[], delayMs: number): Promise<void> {
    this.head(200, contentType, null);
    const z = this.encoding === null ? null : compressor(this.encoding);
    z?.on("data", (c: Buffer) => this.res.write(c));
    const limit = this.directives.cutAfter ?? Infinity;
    for (let i = 0; i < events.length; i++) {
      if (this.res.destroyed) return z?.close();
      if (i >= limit) break;
      if (z === null) this.res.write(events[i]);
      else await new Promise<void>((done) => z.write(events[i], () => z.flush(() => done())));
      await pause(delayMs);
    }
    if (this.res.destroyed) return z?.close();
    if (events.length > limit) {
      z?.close();
      cut(this.res);
      return;
    }
    if (z === null) this.res.end();
    else {
      z.once("end", () => this.res.end());
      z.end();
    }
  }
}

/** One SSE block: `event:` (when named) and `data:` lines, ended by a blank line (`eol` twice). */
export function sse(data: unknown, event: string | null = null, eol = "\n"): string {
  const text = typeof data === "string" ? data : JSON.stringify(data);
  return `${event !== null ? `event: ${event}${eol}` : ""}data: ${text}${eol}${eol}`;
}
