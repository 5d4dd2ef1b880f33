// One client request through the gateway, as Envoy runs it through the filter chain:
//   key-auth stage → the plugin's request callbacks (headers, then each body chunk as it arrives,
//   end of stream on the last) → if the plugin lets it through, the upstream, with the headers and
//   body the plugin left → the upstream's response through the plugin's response callbacks, each
//   part written to the client as soon as the plugin has passed it (SSE is never buffered here).
// The host hands over what passes the filter through the stream's onUpstream/onDownstream
// listeners (with `record: false`, so it keeps no copy). A local response from the plugin arrives
// the same way. A client that goes away aborts the upstream request and ends the stream ("client
// disconnected"); an upstream that fails answers 502 (or cuts a response that had started) and
// ends the stream ("upstream reset").
import type * as http from "node:http";
import type { HeaderPairs, Stream, StreamPart } from "../host";
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
  /** Request parts the plugin passed before the upstream request was opened. */
  private pending: Buffer[] | null = null;
  private pendingEnded = false;
  private upstreamReq: http.ClientRequest | null = null;
  private upstreamRes: http.IncomingMessage | null = null;
  private upstreamRequestEnded = false;
  /** The upstream exchange is over: its response arrived in full, it failed, or we abandoned it. */
  private upstreamDone = false;
  /** Nothing more goes to the client: the response ended, was cut, or the client left. */
  private clientDone = false;
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
      record: false,
      onUpstream: (part) => this.guard(() => this.toUpstream(part)),
      onDownstream: (part) => this.guard(() => this.toClient(part)),
    });
    this.stream = stream;
    const hasBody = requestHasBody(this.req);
    stream.requestHeaders(headers, !hasBody);
    if (!hasBody) {
      this.req.resume();
      return;
    }
    this.req.on("data", (chunk: Buffer) => this.guard(() => {
      if (!stream.finished) stream.requestBody(chunk, false);
    }));
    this.req.on("end", () => this.guard(() => {
      if (!stream.finished) stream.requestBody(EMPTY, true);
    }));
  }

  // ---- what the plugin let through, towards the upstream ----

  private toUpstream(part: StreamPart): void {
    if (this.upstreamDone) return;
    switch (part.kind) {
      case "headers":
        // Open on the next microtask: when the plugin resumes a held request, the body it held
        // passes right after the headers, and a known length goes upstream as Content-Length.
        this.pending = [];
        this.pendingEnded = part.endOfStream;
        queueMicrotask(() => this.guard(() => this.openUpstream(part.headers)));
        return;
      case "data":
        if (this.upstreamReq === null) {
          this.pending?.push(part.data);
          this.pendingEnded ||= part.endOfStream;
          return;
        }
        if (part.data.length > 0) this.upstreamReq.write(part.data);
        if (part.endOfStream) this.endUpstreamRequest();
        return;
      case "trailers":
        if (this.upstreamReq === null) this.pendingEnded = true;
        else this.endUpstreamRequest();
        return;
      case "reset":
        this.abortUpstream();
        return;
    }
  }

  private openUpstream(headers: HeaderPairs): void {
    const stream = this.stream;
    if (this.upstreamDone || this.clientDone || stream === null || stream.finished) return;
    const body = this.pending ?? [];
    this.pending = null;
    const knownLength = this.pendingEnded ? body.reduce((n, b) => n + b.length, 0) : null;
    const ureq = this.ctx.upstream.open(headers, knownLength);
    this.upstreamReq = ureq;
    ureq.on("response", (ures) => this.guard(() => this.onUpstreamResponse(stream, ures)));
    ureq.on("error", (err) => this.guard(() => this.onUpstreamFailure(stream, err)));
    for (const chunk of body) if (chunk.length > 0) ureq.write(chunk);
    if (this.pendingEnded) this.endUpstreamRequest();
  }

  private endUpstreamRequest(): void {
    if (this.upstreamRequestEnded || this.upstreamReq === null) return;
    this.upstreamRequestEnded = true;
    this.upstreamReq.end();
  }

  // ---- the upstream's answer, into the plugin ----

  private onUpstreamResponse(s: Stream, ures: http.IncomingMessage): void {
    if (this.upstreamDone || s.finished) {
      ures.destroy();
      return;
    }
    this.upstreamRes = ures;
    const headersOnly = responseIsHeadersOnly(this.method, ures);
    if (headersOnly) {
      this.upstreamDone = true;
      ures.resume();
    }
    ures.on("data", (chunk: Buffer) => this.guard(() => {
      if (!s.finished && !headersOnly) s.responseBody(chunk, false);
    }));
    ures.on("end", () => this.guard(() => {
      if (this.upstreamDone) return;
      this.upstreamDone = true;
      if (!s.finished && !headersOnly) s.responseBody(EMPTY, true);
    }));
    ures.on("close", () => this.guard(() => {
      if (!ures.complete && !this.upstreamDone) this.onUpstreamFailure(s, new Error("the upstream closed the connection mid-response"));
    }));
    s.responseHeaders(responseHeaderPairs(ures), headersOnly);
  }

  private onUpstreamFailure(s: Stream, err: Error): void {
    if (this.upstreamDone) return; // it had completed, or we abandoned it ourselves
    this.upstreamDone = true;
    const reason = (err as NodeJS.ErrnoException).code ?? err.message;
    this.note = `upstream reset: ${reason}`;
    const text = `upstream connect error or disconnect/reset before headers. reset reason: ${reason}`;
    if (!this.clientDone && this.upstreamRes === null && !s.finished && s.downstream.headers === null && s.localResponse === null) {
      // Envoy's router answers a failure before the upstream's headers with a local reply that runs
      // through the filters' response callbacks (filter_manager.cc sendLocalReplyViaFilterChain),
      // so the plugin sees the 502; the stream ends once the client has it.
      s.responseHeaders([[":status", "502"], ["content-type", "text/plain"]], false);
      if (!s.finished) s.responseBody(text, true);
      return;
    }
    if (!this.clientDone && !this.res.headersSent) {
      this.replyDirect(502, [["content-type", "text/plain"]], text);
    } else if (!this.clientDone) {
      this.clientDone = true;
      this.res.destroy();
    }
    s.finish("upstream reset");
  }

  // ---- what the plugin let through, towards the client ----

  private toClient(part: StreamPart): void {
    if (this.clientDone) return;
    switch (part.kind) {
      case "headers":
        this.writeHead(part.headers);
        if (part.endOfStream) this.endClient();
        return;
      case "data":
        if (part.data.length > 0) this.writeClient(part.data);
        if (part.endOfStream) this.endClient();
        return;
      case "trailers":
        this.endClient();
        return;
      case "reset":
        // The stream ended before its response did (the plugin closed it, the VM failed, …).
        this.note ??= part.reason;
        this.clientDone = true;
        this.res.destroy();
        this.abortUpstream();
        return;
    }
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
      const s = this.stream;
      if (s !== null) setImmediate(() => s.finish("bad response headers"));
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

  private endClient(): void {
    this.clientDone = true;
    this.res.end();
    // A local reply that replaced an upstream answer still arriving: that answer is not wanted.
    this.abortUpstream();
  }

  // ---- the client ----

  private onClientClose(): void {
    const s = this.stream;
    if (!this.res.writableFinished) {
      // The client went away before the response was complete.
      this.clientDone = true;
      this.note ??= "client disconnected";
      this.abortUpstream();
      if (s !== null && !s.finished) s.finish("client disconnected");
    } else if (s !== null && !s.finished) {
      s.finish(); // the response went out in full: Envoy completes the stream
    }
    this.ctx.plugin.noticeFailure(this.ctx.warn);
    const status = this.res.headersSent ? this.res.statusCode : "-";
    const line = accessLine(this.method, this.path, status, this.consumer, this.note);
    // The access line is written once the stream's callouts (its charge among them, which may take
    // more than one Redis round trip) are answered or timed out: a line read means the request is
    // accounted for.
    if (s === null) this.ctx.log(line);
    else void s.settled().then(() => this.ctx.log(line), () => this.ctx.log(line));
  }

  private abortUpstream(): void {
    if (this.upstreamDone) return;
    this.upstreamDone = true;
    this.upstreamRes?.destroy();
    this.upstreamReq?.destroy();
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
        const s = this.stream;
        if (s !== null && !s.finished) setImmediate(() => s.finish("internal error"));
      } catch {
        this.res.destroy();
      }
    }
  }
}
