// Every host function the plugin uses, wrapped so that callers see strings, byte buffers and
// results, never pointers. A failed host call comes back as a Status or a null value; nothing here traps.
import * as raw from "./imports";
import { BufferType, LogLevel, MapType, MetricType, Status, StreamType } from "./types";
import { RETURN_PTR, RETURN_SIZE, takeHostBlock, takeHostBytes } from "./memory";
import { HeaderPair, deserializeHeaders, serializeHeaders } from "./headers";

function utf8(s: string): ArrayBuffer {
  return String.UTF8.encode(s);
}

function ptr(buf: ArrayBuffer): usize {
  return changetype<usize>(buf);
}

function size(buf: ArrayBuffer): usize {
  return <usize>buf.byteLength;
}

/** Reads the (pointer, size) pair a host call wrote into RETURN_PTR/RETURN_SIZE. */
function takeReturned(): ArrayBuffer {
  return takeHostBytes(<usize>load<u32>(RETURN_PTR), <usize>load<u32>(RETURN_SIZE));
}

function clearReturn(): void {
  store<u32>(RETURN_PTR, 0);
  store<u32>(RETURN_SIZE, 0);
}

// ---- logging ----

let cachedLogLevel: i32 = -1;

/** Reads the host's level again (Envoy's can change at runtime); called once per stream. */
export function refreshLogLevel(): void {
  cachedLogLevel = -1;
}

/** The host's log level, cached between refreshes: skipping formatting of debug lines is the point. */
export function logLevel(): LogLevel {
  if (cachedLogLevel < 0) {
    store<u32>(RETURN_PTR, <u32>LogLevel.Info);
    if (raw.proxy_get_log_level(RETURN_PTR) != Status.Ok) store<u32>(RETURN_PTR, <u32>LogLevel.Info);
    cachedLogLevel = <i32>load<u32>(RETURN_PTR);
  }
  return <LogLevel>cachedLogLevel;
}

export function log(level: LogLevel, message: string): void {
  if (level < logLevel()) return;
  const b = utf8(message);
  raw.proxy_log(level, ptr(b), size(b));
}

// ---- time and timers ----

export function currentTimeNanos(): u64 {
  const slot = RETURN_PTR;
  store<u64>(slot, 0);
  raw.proxy_get_current_time_nanoseconds(slot);
  return load<u64>(slot);
}

export function setTickPeriodMs(ms: u32): Status {
  return <Status>raw.proxy_set_tick_period_milliseconds(ms);
}

// ---- buffers ----

/** Bytes [start, start+maxSize) of a buffer; null when the buffer is absent or empty. */
export function getBufferBytes(type: BufferType, start: u32, maxSize: u32): ArrayBuffer | null {
  clearReturn();
  const st = raw.proxy_get_buffer_bytes(type, start, maxSize, RETURN_PTR, RETURN_SIZE);
  if (st != Status.Ok) return null;
  return takeReturned();
}

export function setBufferBytes(type: BufferType, start: u32, length: u32, data: ArrayBuffer): Status {
  return <Status>raw.proxy_set_buffer_bytes(type, start, length, ptr(data), size(data));
}

// ---- header maps ----

export function getHeader(map: MapType, name: string): string | null {
  clearReturn();
  const k = utf8(name);
  const st = raw.proxy_get_header_map_value(map, ptr(k), size(k), RETURN_PTR, RETURN_SIZE);
  if (st != Status.Ok) return null;
  return String.UTF8.decode(takeReturned());
}

export function getHeaders(map: MapType): Array<HeaderPair> {
  clearReturn();
  const st = raw.proxy_get_header_map_pairs(map, RETURN_PTR, RETURN_SIZE);
  if (st != Status.Ok) return new Array<HeaderPair>();
  return deserializeHeaders(takeReturned());
}

export function setHeaders(map: MapType, pairs: Array<HeaderPair>): Status {
  const b = serializeHeaders(pairs);
  return <Status>raw.proxy_set_header_map_pairs(map, ptr(b), size(b));
}

export function addHeader(map: MapType, name: string, value: string): Status {
  const k = utf8(name);
  const v = utf8(value);
  return <Status>raw.proxy_add_header_map_value(map, ptr(k), size(k), ptr(v), size(v));
}

export function replaceHeader(map: MapType, name: string, value: string): Status {
  const k = utf8(name);
  const v = utf8(value);
  return <Status>raw.proxy_replace_header_map_value(map, ptr(k), size(k), ptr(v), size(v));
}

export function removeHeader(map: MapType, name: string): Status {
  const k = utf8(name);
  return <Status>raw.proxy_remove_header_map_value(map, ptr(k), size(k));
}

// ---- the same, allocation-free: names encoded once by the caller, answers read in place ----

/** The whole map serialized in a host block (free it with heap.free), its size hostBlockBytes(); 0: none. */
export function headerMapBlock(map: MapType): usize {
  clearReturn();
  if (raw.proxy_get_header_map_pairs(map, RETURN_PTR, RETURN_SIZE) != Status.Ok) return 0;
  return takeHostBlock();
}

export function removeHeaderNamed(map: MapType, name: ArrayBuffer): Status {
  return <Status>raw.proxy_remove_header_map_value(map, ptr(name), size(name));
}

/** A property (path already joined and encoded) in a host block (free it with heap.free); 0: none. */
export function propertyBlock(path: ArrayBuffer): usize {
  clearReturn();
  if (raw.proxy_get_property(ptr(path), size(path), RETURN_PTR, RETURN_SIZE) != Status.Ok) return 0;
  return takeHostBlock();
}

/** A property path's bytes (segments joined by NUL), made once by the caller. */
export function propertyPathBytes(segments: Array<string>): ArrayBuffer {
  return propertyPath(segments);
}

// ---- properties ----

/** A property path as the ABI wants it: segments joined by NUL bytes. */
function propertyPath(segments: Array<string>): ArrayBuffer {
  let joined = "";
  for (let i = 0; i < segments.length; i++) {
    if (i > 0) joined += "\0";
    joined += segments[i];
  }
  return utf8(joined);
}

export function getProperty(segments: Array<string>): ArrayBuffer | null {
  clearReturn();
  const p = propertyPath(segments);
  const st = raw.proxy_get_property(ptr(p), size(p), RETURN_PTR, RETURN_SIZE);
  if (st != Status.Ok) return null;
  return takeReturned();
}

export function setProperty(segments: Array<string>, value: ArrayBuffer): Status {
  const p = propertyPath(segments);
  return <Status>raw.proxy_set_property(ptr(p), size(p), ptr(value), size(value));
}

// ---- stream control ----

export function sendLocalResponse(status: u32, details: string, body: ArrayBuffer, headers: Array<HeaderPair>): Status {
  const d = utf8(details);
  const h = serializeHeaders(headers);
  return <Status>raw.proxy_send_local_response(status, ptr(d), size(d), ptr(body), size(body), ptr(h), size(h), -1);
}

export function continueStream(stream: StreamType): Status {
  return <Status>raw.proxy_continue_stream(stream);
}

/** Makes a stream current before a callout's continuation runs; fails when the stream is gone. */
export function setEffectiveContext(contextId: u32): Status {
  return <Status>raw.proxy_set_effective_context(contextId);
}

// ---- outbound HTTP ----

export class CalloutResult {
  constructor(public status: Status, public calloutId: u32) {}
}

export function httpCall(upstream: string, headers: Array<HeaderPair>, body: ArrayBuffer, timeoutMs: u32): CalloutResult {
  const u = utf8(upstream);
  const h = serializeHeaders(headers);
  const t = serializeHeaders(new Array<HeaderPair>());
  store<u32>(RETURN_PTR, 0);
  const st = raw.proxy_http_call(ptr(u), size(u), ptr(h), size(h), ptr(body), size(body), ptr(t), size(t), timeoutMs, RETURN_PTR);
  return new CalloutResult(<Status>st, load<u32>(RETURN_PTR));
}

// ---- metrics ----

/** A metric id, or u32.MAX_VALUE when the host refused to define it (then updates are skipped). */
export function defineMetric(type: MetricType, name: string): u32 {
  const n = utf8(name);
  store<u32>(RETURN_PTR, 0);
  if (raw.proxy_define_metric(type, ptr(n), size(n), RETURN_PTR) != Status.Ok) return u32.MAX_VALUE;
  return load<u32>(RETURN_PTR);
}

export function incrementMetric(id: u32, offset: i64): void {
  if (id != u32.MAX_VALUE) raw.proxy_increment_metric(id, offset);
}

export function recordMetric(id: u32, value: u64): void {
  if (id != u32.MAX_VALUE) raw.proxy_record_metric(id, value);
}

/** The first `size` bytes of a buffer as a byte view; empty when there are none. */
export function bufferBytes(type: BufferType, size: u32): Uint8Array {
  if (size == 0) return new Uint8Array(0);
  const b = getBufferBytes(type, 0, size);
  if (b === null) return new Uint8Array(0);
  return Uint8Array.wrap(b);
}
