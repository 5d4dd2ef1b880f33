// A tiny plugin for the host's own tests (tests/host): each request path exercises one part of
// the ABI end to end through assembly/abi. Not shipped. Two entry files build it:
// abi_probe.ts (Higress: with the Redis host calls) and abi_probe_envoy.ts (plain Envoy: without).
//
// Plugin configuration, one value per line (all optional): Redis cluster name (as Higress builds
// it, options after '?'), username, password, timeout in ms.
import { httpContext, setRootContextFactory } from "../abi/dispatcher";
import { HttpContext, RootContext } from "../abi/context";
import { Action, BufferType, LogLevel, MapType, MetricType, Status, StreamType } from "../abi/types";
import { HeaderPair } from "../abi/headers";
import * as host from "../abi/hostcalls";
import { CalloutResult } from "../abi/hostcalls";

type RedisInit = (cluster: string, username: string, password: string, timeoutMs: u32) => Status;
type RedisCall = (cluster: string, query: ArrayBuffer) => CalloutResult;

// The Redis host calls, handed over by the entry file that imports them; null without them.
let redisInitFn: RedisInit | null = null;
let redisCallFn: RedisCall | null = null;

export function useRedis(init: RedisInit, call: RedisCall): void {
  redisInitFn = init;
  redisCallFn = call;
}

/** The reply of the Redis callout being delivered (buffer 9, Higress). */
function redisReply(size: u32): ArrayBuffer | null {
  return host.getBufferBytes(BufferType.RedisCallResponse, 0, size);
}

// Body callbacks answer with Envoy's data numbering, which the header-oriented Action enum lacks.
const BODY_CONTINUE = <Action>0;
const BODY_STOP_AND_BUFFER = <Action>1;

/** The n-th number of a comma-separated list (the last one repeats; 0 when empty). */
function nth(list: string, n: i32): i32 {
  if (list.length == 0) return 0;
  const parts = list.split(",");
  return <i32>parseInt(parts[n < parts.length ? n : parts.length - 1]);
}

/** Appends one record to a property kept in filter state ("a|b|c"). */
function record(name: string, entry: string): void {
  const old = host.getProperty([name]);
  const prefix = old === null ? "" : String.UTF8.decode(old) + "|";
  host.setProperty([name], utf8(prefix + entry));
}

function utf8(s: string): ArrayBuffer {
  return String.UTF8.encode(s);
}

function queryParam(path: string, name: string): string {
  const q = path.indexOf("?");
  if (q < 0) return "";
  const parts = path.substring(q + 1).split("&");
  for (let i = 0; i < parts.length; i++) {
    const eq = parts[i].indexOf("=");
    const key = eq < 0 ? parts[i] : parts[i].substring(0, eq);
    if (key == name) return eq < 0 ? "" : parts[i].substring(eq + 1);
  }
  return "";
}

function respCommand(args: Array<string>): ArrayBuffer {
  let s = "*" + args.length.toString() + "\r\n";
  for (let i = 0; i < args.length; i++) {
    s += "$" + String.UTF8.byteLength(args[i]).toString() + "\r\n" + args[i] + "\r\n";
  }
  return utf8(s);
}

function concat(a: ArrayBuffer, b: ArrayBuffer): ArrayBuffer {
  const out = new Uint8Array(a.byteLength + b.byteLength);
  out.set(Uint8Array.wrap(a), 0);
  out.set(Uint8Array.wrap(b), a.byteLength);
  return out.buffer;
}

function reply(status: u32, details: string, body: ArrayBuffer): void {
  host.sendLocalResponse(status, details, body, new Array<HeaderPair>());
}

class ProbeRoot extends RootContext {
  cluster: string = "";
  /** callout id -> stream id */
  waiting: Map<u32, u32> = new Map<u32, u32>();
  requests: u32 = u32.MAX_VALUE;
  ticks: u32 = u32.MAX_VALUE;
  bodyBytes: u32 = u32.MAX_VALUE;

  onConfigure(size: u32): bool {
    this.requests = host.defineMetric(MetricType.Counter, "probe_requests_total");
    this.ticks = host.defineMetric(MetricType.Gauge, "probe_ticks");
    this.bodyBytes = host.defineMetric(MetricType.Histogram, "probe_body_bytes");
    host.setTickPeriodMs(1000);
    if (size == 0) return true;
    const raw = host.getBufferBytes(BufferType.PluginConfiguration, 0, size);
    if (raw === null) return true;
    const lines = String.UTF8.decode(raw).split("\n");
    const full = lines[0];
    const q = full.indexOf("?");
    this.cluster = q < 0 ? full : full.substring(0, q);
    const user = lines.length > 1 ? lines[1] : "";
    const pass = lines.length > 2 ? lines[2] : "";
    const timeout = lines.length > 3 ? <u32>parseInt(lines[3]) : 1000;
    const init = redisInitFn;
    if (init === null) return true;
    const st = init(full, user, pass, timeout);
    host.log(LogLevel.Info, "probe: redis init " + full + " status " + (<i32>st).toString());
    return st == Status.Ok;
  }

  onTick(): void {
    host.incrementMetric(this.ticks, 1);
  }

  newHttpContext(id: u32): HttpContext | null {
    return new ProbeStream(id, this);
  }

  /** The stream waiting for a callout, made current; null when it is gone. */
  private waiter(calloutId: u32): ProbeStream | null {
    if (!this.waiting.has(calloutId)) return null;
    const id = this.waiting.get(calloutId);
    this.waiting.delete(calloutId);
    const st = host.setEffectiveContext(id);
    const s = httpContext(id);
    // What a plugin that trusts proxy_set_effective_context alone would believe.
    host.log(LogLevel.Info, "probe: effective " + id.toString() + " status " + (<i32>st).toString() + " context " + (s === null ? "gone" : "known"));
    if (st != Status.Ok) return null;
    return s instanceof ProbeStream ? <ProbeStream>s : null;
  }

  onRedisCallResponse(calloutId: u32, status: u32, responseSize: u32): void {
    const s = this.waiter(calloutId);
    if (s !== null) s.onRedisReply(status, responseSize);
  }

  onHttpCallResponse(calloutId: u32, numHeaders: u32, bodySize: u32, numTrailers: u32): void {
    const s = this.waiter(calloutId);
    if (s !== null) s.onHttpReply(numHeaders, bodySize);
  }
}

class ProbeStream extends HttpContext {
  route: string = "";
  path: string = "";
  sizes: string = "";
  responseSizes: string = "";

  probe(): ProbeRoot {
    return <ProbeRoot>this.root;
  }

  private redis(args: Array<string>): bool {
    return this.redisRaw(respCommand(args));
  }

  private redisRaw(query: ArrayBuffer): bool {
    const call = redisCallFn;
    if (call === null) {
      reply(500, "probe.no_redis", utf8("no Redis host calls"));
      return false;
    }
    const r = call(this.probe().cluster, query);
    if (r.status != Status.Ok) {
      reply(500, "probe.redis_call_refused", utf8("redis_call status " + (<i32>r.status).toString()));
      return false;
    }
    this.probe().waiting.set(r.calloutId, this.id);
    return true;
  }

  onRequestHeaders(numHeaders: u32, endOfStream: bool): Action {
    host.incrementMetric(this.probe().requests, 1);
    const p = host.getHeader(MapType.HttpRequestHeaders, ":path");
    this.path = p === null ? "" : p;
    const q = this.path.indexOf("?");
    this.route = q < 0 ? this.path : this.path.substring(0, q);
    const r = this.route;

    if (r == "/script") return this.scriptRequestHeaders();
    if (r == "/late") {
      // A callout the stream does not wait for: its reply may come after the stream ended.
      this.redis(["PING"]);
      return Action.Continue;
    }

    if (r == "/local") {
      const headers = [new HeaderPair("X-Probe", "local"), new HeaderPair("content-type", "text/plain; charset=utf-8")];
      host.sendLocalResponse(418, "probe local reply", utf8("I'm a teapot"), headers);
      return Action.StopIteration;
    }
    if (r == "/pass") {
      host.addHeader(MapType.HttpRequestHeaders, "x-probe", "pass");
      host.replaceHeader(MapType.HttpRequestHeaders, "x-replace", "new");
      host.removeHeader(MapType.HttpRequestHeaders, "x-remove");
      return Action.Continue;
    }
    if (r == "/roundtrip") {
      const pairs = host.getHeaders(MapType.HttpRequestHeaders);
      pairs.push(new HeaderPair("x-count", pairs.length.toString()));
      host.setHeaders(MapType.HttpRequestHeaders, pairs);
      return Action.Continue;
    }
    if (r == "/redis/get") {
      if (!this.redis(["GET", queryParam(this.path, "key")])) return Action.StopIteration;
      return Action.StopAllIterationAndWatermark;
    }
    if (r == "/stopall") {
      if (!this.redis(["PING"])) return Action.StopIteration;
      return Action.StopAllIterationAndBuffer;
    }
    if (r == "/redis/raw" || r == "/buffer") return Action.StopIteration;
    if (r == "/property") {
      const v = host.getProperty(queryParam(this.path, "name").split("."));
      if (v === null) reply(404, "probe.no_property", new ArrayBuffer(0));
      else reply(200, "probe.property", v);
      return Action.StopIteration;
    }
    if (r == "/property/set") {
      host.setProperty([queryParam(this.path, "name")], utf8(queryParam(this.path, "value")));
      return Action.Continue;
    }
    if (r == "/http") {
      const headers = [
        new HeaderPair(":method", "GET"),
        new HeaderPair(":path", "/" + queryParam(this.path, "path")),
        new HeaderPair(":authority", "probe.upstream"),
      ];
      const c = host.httpCall("probe_http", headers, new ArrayBuffer(0), <u32>parseInt(queryParam(this.path, "timeout")));
      if (c.status != Status.Ok) {
        reply(500, "probe.http_call_refused", utf8("http_call status " + (<i32>c.status).toString()));
        return Action.StopIteration;
      }
      this.probe().waiting.set(c.calloutId, this.id);
      return Action.StopAllIterationAndWatermark;
    }
    if (r == "/time") {
      reply(200, "probe.time", utf8(host.currentTimeNanos().toString()));
      return Action.StopIteration;
    }
    if (r == "/log") {
      host.log(LogLevel.Debug, "probe: debug line");
      host.log(LogLevel.Warn, "probe: warn line");
      return Action.Continue;
    }
    if (r == "/trap") unreachable();
    return Action.Continue;
  }

  onRequestBody(bodySize: u32, endOfStream: bool): Action {
    host.recordMetric(this.probe().bodyBytes, bodySize);
    const r = this.route;
    if (r == "/script") return this.scriptBody(BufferType.HttpRequestBody, "probe_seen", "b", "cb", StreamType.HttpRequest, bodySize, endOfStream);
    if (r == "/stopall") {
      this.sizes += (this.sizes.length > 0 ? "," : "") + bodySize.toString() + (endOfStream ? "e" : "");
      host.setProperty(["probe_sizes"], utf8(this.sizes));
      return BODY_CONTINUE;
    }
    if (r != "/buffer" && r != "/redis/raw") return BODY_CONTINUE;
    this.sizes += (this.sizes.length > 0 ? "," : "") + bodySize.toString();
    if (!endOfStream) return BODY_STOP_AND_BUFFER;
    if (r == "/redis/raw") {
      const query = host.getBufferBytes(BufferType.HttpRequestBody, 0, bodySize);
      this.redisRaw(query === null ? new ArrayBuffer(0) : query);
      return BODY_STOP_AND_BUFFER;
    }
    // "/buffer": the whole body is held; mark it, report the sizes seen, let it all go.
    const whole = host.getBufferBytes(BufferType.HttpRequestBody, 0, bodySize);
    host.setBufferBytes(BufferType.HttpRequestBody, 0, 0, utf8("seen:"));
    host.addHeader(MapType.HttpRequestHeaders, "x-body-sizes", this.sizes);
    host.addHeader(MapType.HttpRequestHeaders, "x-body-read", whole === null ? "null" : whole.byteLength.toString());
    return BODY_CONTINUE;
  }

  onRequestTrailers(numTrailers: u32): Action {
    if (this.route != "/script") return Action.Continue;
    record("probe_seen", "trailers");
    if (queryParam(this.path, "ct") == "1") host.continueStream(StreamType.HttpRequest);
    return <Action>nth(queryParam(this.path, "t"), 0);
  }

  onResponseHeaders(numHeaders: u32, endOfStream: bool): Action {
    const status = host.getHeader(MapType.HttpResponseHeaders, ":status");
    host.setProperty(["probe_response_status"], utf8(status === null ? "none" : status));
    if (this.route == "/script") {
      if (queryParam(this.path, "lrh") == "1") {
        reply(502, "probe.rejected_response", utf8("rejected upstream " + (status === null ? "?" : status)));
        return Action.StopIteration;
      }
      if (queryParam(this.path, "crh") == "1") host.continueStream(StreamType.HttpResponse);
      return <Action>nth(queryParam(this.path, "rh"), 0);
    }
    if (this.route == "/pass") host.addHeader(MapType.HttpResponseHeaders, "x-probe-response", "seen");
    if (this.route == "/buffer") return Action.StopIteration;
    return Action.Continue;
  }

  onResponseBody(bodySize: u32, endOfStream: bool): Action {
    if (this.route == "/script") return this.scriptBody(BufferType.HttpResponseBody, "probe_rseen", "rb", "crb", StreamType.HttpResponse, bodySize, endOfStream);
    if (this.route != "/buffer") return BODY_CONTINUE;
    this.responseSizes += (this.responseSizes.length > 0 ? "," : "") + bodySize.toString();
    if (!endOfStream) return BODY_STOP_AND_BUFFER;
    host.replaceHeader(MapType.HttpResponseHeaders, "x-response-sizes", this.responseSizes);
    return BODY_CONTINUE;
  }

  onLog(): void {
    // The access-log phase can still read the request headers.
    const p = host.getHeader(MapType.HttpRequestHeaders, ":path");
    host.log(LogLevel.Info, "probe: log " + (p === null ? "(no path)" : p));
  }

  onDone(): bool {
    host.log(LogLevel.Info, "probe: done " + this.id.toString());
    return true;
  }

  onDelete(): void {
    host.log(LogLevel.Info, "probe: delete " + this.id.toString());
  }

  // ---- "/script": answers and actions taken from the query string, for the host's rule tests ----
  //   h, t, rh: the answer of the request headers / request trailers / response headers callback
  //   b, rb: the answers of the request / response body callbacks, one per callback ("1,1,0")
  //   ch / crh=1: proxy_continue_stream inside the request / response headers callback
  //   cb / crb=i: proxy_continue_stream inside the i-th request / response body callback
  //   ct=1: proxy_continue_stream inside the request trailers callback
  //   edit=i.start.length.text: proxy_set_buffer_bytes on the request body in its i-th callback
  //   limit=n: set_decoder_buffer_limit=n; ping=1: a Redis PING whose reply continues the request
  //   lrh=1: a local reply from the response headers callback
  // Each body callback appends "size[e]:bytes" to probe_seen / probe_rseen; edits append their
  // status to probe_edit.
  bodyCalls: i32 = 0;
  responseBodyCalls: i32 = 0;

  scriptRequestHeaders(): Action {
    const limit = queryParam(this.path, "limit");
    if (limit.length > 0) host.setProperty(["set_decoder_buffer_limit"], utf8(limit));
    if (queryParam(this.path, "ping") == "1") this.redis(["PING"]);
    if (queryParam(this.path, "ch") == "1") host.continueStream(StreamType.HttpRequest);
    return <Action>nth(queryParam(this.path, "h"), 0);
  }

  scriptBody(type: BufferType, seen: string, answers: string, cont: string, stream: StreamType, size: u32, end: bool): Action {
    const i = type == BufferType.HttpRequestBody ? this.bodyCalls++ : this.responseBodyCalls++;
    const bytes = host.getBufferBytes(type, 0, size);
    record(seen, size.toString() + (end ? "e" : "") + ":" + (bytes === null ? "" : String.UTF8.decode(bytes)));
    const edit = queryParam(this.path, "edit");
    if (type == BufferType.HttpRequestBody && edit.length > 0) {
      const f = edit.split(".");
      if (f.length == 4 && <i32>parseInt(f[0]) == i) {
        const st = host.setBufferBytes(type, <u32>parseInt(f[1]), <u32>parseInt(f[2]), utf8(f[3]));
        record("probe_edit", (<i32>st).toString());
      }
    }
    const c = queryParam(this.path, cont);
    if (c.length > 0 && <i32>parseInt(c) == i) host.continueStream(stream);
    return <Action>nth(queryParam(this.path, answers), i);
  }

  onRedisReply(status: u32, size: u32): void {
    if (this.route == "/late") return;
    if (this.route == "/stopall" || this.route == "/script") {
      host.continueStream(StreamType.HttpRequest);
      return;
    }
    if (status != 0) {
      reply(502, "probe.redis_failed", utf8("redis status " + status.toString()));
      return;
    }
    const bytes = redisReply(size);
    reply(200, "probe.redis", bytes === null ? new ArrayBuffer(0) : bytes);
  }

  onHttpReply(numHeaders: u32, bodySize: u32): void {
    if (numHeaders == 0) {
      reply(502, "probe.http_failed", utf8("http call failed"));
      return;
    }
    const status = host.getHeader(MapType.HttpCallResponseHeaders, ":status");
    const body = bodySize == 0 ? new ArrayBuffer(0) : host.getBufferBytes(BufferType.HttpCallResponseBody, 0, bodySize);
    const prefix = utf8((status === null ? "?" : status) + ":");
    reply(200, "probe.http", concat(prefix, body === null ? new ArrayBuffer(0) : body));
  }
}

function newRoot(id: u32): RootContext {
  return new ProbeRoot(id);
}
setRootContextFactory(newRoot);
