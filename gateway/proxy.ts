// One client request through the gateway, as Envoy runs it through the filter chain:
//   key-auth stage → the plugin's request callbacks (headers, then each body chunk as it arrives,
//   end of stream on the last) → if the plugin lets it through, the upstream, with the headers and
//   body the plugin left → the upstream's response through the plugin's response callbacks, each
//   chunk written to the client as soon as the plugin has passed it (SSE is never buffered here).
// A local response from the plugin goes to the client as it is. A client that goes away aborts the
// upstream request and ends the stream ("client disconnected"); an upstream that fails answers 502
// (or cuts the response if it had started) and ends the stream ("upstream reset").
import type * as http from "node:http";
import type { HeaderPairs, Stream } from "../host";
import { CONSUMER_HEADER, KeyAuth, addConsumer } from "./auth";
import { flatHeaders, pseudo, requestHasBody, requestHeaderPairs, responseHeaderPairs, responseIsHeadersOnly } from "./headers";
import type { Plugin } from "./plugin";
import type { UpstreamTarget } from "./upstream";

export interface ProxyContext {
  plugin: Plugin;
  /** null when the config says `auth: false`. */
  auth: KeyAuth | null;
  upstream: UpstreamTarget;
  /** One line per request. */
  log: (line: string) => void;
  /** Internal errors (bugs), never expected. */
  warn: (line: string) => void;
}

const EMPTY = Buffer.alloc(0);
/** How long one wait for the plugin lasts before it is simply renewed (the stream may be long). */
const WATCH_MS = 60_000;

function address(host: string | undefined, port: number | undefined): string {
  const h = host ?? "127.0.0.1";
  return `${h.includes(":") ? `[${h}]` : h}:${port ?? 0}`;
}

export function accessLine(method: string, path: string, status: number | string, consumer: string, note: string | null): string {
  return `${method} ${path} ${status} ${consumer}${note ? ` (${note})` : ""}`;
}

export function handleRequest(ctx: ProxyContext, req: http.IncomingMessage, res: http.ServerResponse): void {
  new ProxiedRequest(ctx, req, res).start();
}

class ProxiedRequest {
  private stream: Stream | null = null;
  private consumer = "-";
  private note: string | null = null;
  private upstreamReq: http.ClientRequest | null = null;
  private upstreamRes: http.IncomingMessage | null = null;
  private upstreamRequestEnded = false;
  /** The upstream response arrived in full (or the upstream exchange was abandoned on purpose). */
  private upstreamDone = false;
  /** Nothing more goes to the client: the response ended, was cut, or the client left. */
  private clientDone = false;
  /** The stream had finished when pump() last ran. */
  private finalized = false;
  private readonly method: string;
  private readonly path: string;

  constructor(private readonly ctx: ProxyContext, private readonly req: http.IncomingMessage, private readonly res: http.ServerResponse) {
    this.method = req.method ?? "GET";
    this.path = req.url ?? "/";
  }

  start(): void {
    this.res.on("close", () => this.guard(() => this.onClientClose()));
    let headers = requestHeaderPairs(this.req);
    if (this.ctx.auth !== null) {
      const outcome = this.ctx.auth.check(headers);
      if (!outcome.ok) {
        this.req.resume();
        this.replyDirect(outcome.status, outcome.headers, outcome.body);
        return;
      }
      this.consumer = outcome.consumer;
      headers = addConsumer(headers, outcome.consumer);
    } else {
      this.consumer = pseudo(headers, CONSUMER_HEADER) ?? "-";
    }
    this.guard(() => this.open(headers));
  }

  private open(headers: HeaderPairs): void {
    const socket = this.req.socket;
    const stream = this.ctx.plugin.vm.newStream({
      sourceAddress: address(socket.remoteAddress, socket.remotePort),
      destinationAddress: address(socket.localAddress, socket.localPort),
      protocol: `HTTP/${this.req.httpVersion}`,
    });
    this.stream = stream;
    const hasBody = requestHasBody(this.req);
    stream.requestHeaders(headers, !hasBody);
    this.pump();
    if (hasBody) {
      this.req.on("data", (chunk: Buffer) => this.guard(() => {
        if (stream.finished) return;
        stream.requestBody(chunk, false);
        this.pump();
      }));
      this.req.on("end", () => this.guard(() => {
        if (stream.finished) return;
        stream.requestBody(EMPTY, true);
        this.pump();
      }));
    } else {
      this.req.resume();
    }
    void this.watch(stream);
  }

  /** Wakes up whenever the plugin moved on its own (a Redis reply resumed the request, …). */
  private async watch(stream: Stream): Promise<void> {
    while (!this.finalized) {
      try {
        await stream.waitFor(() => stream.finished || this.hasWork(stream), "the plugin", WATCH_MS);
      } catch {
        continue; // a long stream: renew the wait
      }
      this.guard(() => this.pump());
    }
  }

  /** Exactly the cases in which pump() makes progress (anything else would spin the watch loop). */
  private hasWork(s: Stream): boolean {
    const up = this.upstreamReq === null
      ? s.upstream.headers !== null && !s.finished && !this.clientDone
      : !this.upstreamRequestEnded && (s.upstream.body.length > 0 || s.upstream.ended);
    const down = !this.clientDone && (this.res.headersSent
      ? s.downstream.body.length > 0 || s.downstream.ended
      : s.downstream.headers !== null);
    return up || down;
  }

  /** Moves whatever the plugin let through to where it goes. Idempotent. */
  private pump(): void {
    const s = this.stream;
    if (s === null) return;
    // Towards the upstream.
    if (this.upstreamReq === null && s.upstream.headers !== null && !s.finished && !this.clientDone) this.openUpstream(s);
    const ureq = this.upstreamReq;
    if (ureq !== null && !this.upstreamRequestEnded) {
      if (s.upstream.body.length > 0) {
        ureq.write(s.upstream.body);
        s.upstream.body = EMPTY;
      }
      if (s.upstream.ended) {
        this.upstreamRequestEnded = true;
        ureq.end();
      }
    } else if (ureq === null) {
      s.upstream.body = EMPTY; // held by the host until the headers pass; nothing else reads it
    }
    // Towards the client.
    if (!this.clientDone) {
      if (!this.res.headersSent && s.downstream.headers !== null) this.writeHead(s.downstream.headers);
      if (this.res.headersSent && !this.clientDone) {
        if (s.downstream.body.length > 0) this.writeClient(s.downstream.body);
        s.downstream.body = EMPTY;
        if (s.downstream.ended) {
          this.clientDone = true;
          this.res.end();
        }
      }
    } else {
      s.downstream.body = EMPTY;
    }
    if (s.finished && !this.finalized) {
      this.finalized = true;
      this.afterFinish(s);
    }
  }

  private afterFinish(s: Stream): void {
    if (!this.upstreamDone) this.abortUpstream();
    if (!this.clientDone) {
      // Reset without a complete response (the plugin closed the stream, a reply came too late…).
      this.clientDone = true;
      this.note ??= s.resetReason ?? "reset";
      this.res.destroy();
    }
    this.ctx.plugin.forgetHistory();
  }

  private openUpstream(s: Stream): void {
    const knownLength = s.upstream.ended ? s.upstream.body.length : null;
    const ureq = this.ctx.upstream.open(s.upstream.headers ?? [], knownLength);
    this.upstreamReq = ureq;
    ureq.on("response", (ures) => this.guard(() => this.onUpstreamResponse(s, ures)));
    ureq.on("error", (err) => this.guard(() => this.onUpstreamFailure(s, err)));
  }

  private onUpstreamResponse(s: Stream, ures: http.IncomingMessage): void {
    if (this.upstreamDone || s.finished) {
      ures.destroy();
      return;
    }
    this.upstreamRes = ures;
    const headersOnly = responseIsHeadersOnly(this.method, ures);
    s.responseHeaders(responseHeaderPairs(ures), headersOnly);
    this.pump();
    ures.on("data", (chunk: Buffer) => this.guard(() => {
      if (s.finished || headersOnly) return;
      s.responseBody(chunk, false);
      this.pump();
    }));
    ures.on("end", () => this.guard(() => {
      if (this.upstreamDone) return;
      this.upstreamDone = true;
      if (!s.finished && !headersOnly) s.responseBody(EMPTY, true);
      this.pump();
    }));
    ures.on("close", () => this.guard(() => {
      if (!ures.complete && !this.upstreamDone) this.onUpstreamFailure(s, new Error("the upstream closed the connection mid-response"));
    }));
  }

  private onUpstreamFailure(s: Stream, err: Error): void {
    if (this.upstreamDone) return; // we abandoned it ourselves, or it had completed
    this.upstreamDone = true;
    const code = (err as NodeJS.ErrnoException).code;
    this.note = `upstream reset: ${code ?? err.message}`;
    if (!this.clientDone && !this.res.headersSent) {
      this.replyDirect(502, [["content-type", "text/plain"]], `upstream connect error or disconnect/reset before headers. reset reason: ${code ?? err.message}`);
    } else if (!this.clientDone) {
      this.clientDone = true;
      this.res.destroy();
    }
    s.finish("upstream reset");
    this.pump();
  }

  private onClientClose(): void {
    if (!this.res.writableFinished) {
      // The client went away before the response was complete.
      this.clientDone = true;
      this.note ??= "client disconnected";
      this.abortUpstream();
      const s = this.stream;
      if (s !== null && !s.finished) {
        s.finish("client disconnected");
        this.pump();
      }
    }
    const status = this.res.headersSent ? this.res.statusCode : "-";
    this.ctx.log(accessLine(this.method, this.path, status, this.consumer, this.note));
  }

  private abortUpstream(): void {
    this.upstreamDone = true;
    this.upstreamRes?.destroy();
    this.upstreamReq?.destroy();
  }

  private writeHead(pairs: HeaderPairs): void {
    const status = Number(pseudo(pairs, ":status"));
    try {
      this.res.writeHead(status, flatHeaders(pairs));
      this.res.flushHeaders();
    } catch (err) {
      this.note = `bad response headers: ${(err as Error).message}`;
      this.replyDirect(502, [["content-type", "text/plain"]], "the response headers could not be sent");
      this.abortUpstream();
      this.stream?.finish("bad response headers");
    }
  }

  private writeClient(data: Buffer): void {
    // Backpressure: a slow client slows the upstream down instead of filling memory.
    if (!this.res.write(data) && this.upstreamRes !== null && !this.upstreamRes.isPaused()) {
      const ures = this.upstreamRes;
      ures.pause();
      this.res.once("drain", () => ures.resume());
    }
  }

  /** A response the gateway itself gives (auth denial, upstream failure), not through the plugin. */
  private replyDirect(status: number, headers: HeaderPairs, body: string): void {
    this.clientDone = true;
    const buf = Buffer.from(body, "utf8");
    this.res.writeHead(status, [...flatHeaders(headers, ["content-length"]), "content-length", String(buf.length)]);
    this.res.end(buf);
  }

  /** An exception here is a gateway bug: say so, end this request, and keep serving the others. */
  private guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.ctx.warn(`internal error on ${this.method} ${this.path}: ${(err as Error).stack ?? String(err)}`);
      this.note = "internal error";
      try {
        if (!this.res.headersSent && !this.clientDone) this.replyDirect(500, [["content-type", "text/plain"]], "internal gateway error");
        else this.res.destroy();
        this.clientDone = true;
        this.abortUpstream();
        this.stream?.finish("internal error");
      } catch {
        this.res.destroy();
      }
    }
  }
}
