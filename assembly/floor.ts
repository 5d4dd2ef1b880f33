// The benchmark's floor: the least any metering plugin must do, built from the same ABI layer as
// ai-quota (exports, dispatcher, allocator, abort handler, runtime). Per request it reads two
// request header values (the consumer and `:path`), sends one Redis GET of the consumer's balance
// through Higress's host call and waits for it, reads every response chunk where the host wrote it
// and byte-searches it for `"usage"` (and the total after it), and sends one DECRBY at the end.
// It reads no configuration (the cluster, the key prefix and the metered path are the bench's) and
// builds no strings: the commands are written into one static buffer.
export * from "./abi/exports";
export * from "./abi/abi_0_2_100";
export * from "./abi/redis_exports";
import "./abi/abort";
import { HttpContext, RootContext } from "./abi/context";
import { setRootContextFactory } from "./abi/dispatcher";
import { Action, BufferType, DataAction, MapType, Status, StreamType } from "./abi/types";
import { RETURN_PTR, RETURN_SIZE } from "./abi/memory";
import * as raw from "./abi/imports";
import { proxy_redis_call, proxy_redis_init } from "./abi/redis_imports";

const CLUSTER = "outbound|6379||redis.static?buffer_flush_timeout=3&max_buffer_size_before_flush=1024";
const PREFIX = "chat_quota:";
const METERED = "/v1/chat/completions";

/** A string's UTF-8 bytes, made once at start. */
function bytes(s: string): ArrayBuffer {
  return String.UTF8.encode(s);
}

const clusterBytes = bytes(CLUSTER);
const consumerName = bytes("x-mse-consumer");
const pathName = bytes(":path");
const prefixBytes = bytes(PREFIX);
const meteredBytes = bytes(METERED);
/** Where commands are written: one at a time, the host copies it during the call. */
const COMMAND_BYTES: i32 = 512;
const command = memory.data(COMMAND_BYTES);

@inline function ptrOf(b: ArrayBuffer): usize { return changetype<usize>(b); }

/** Copies n bytes from src to p; returns the end. */
function put(p: usize, src: usize, n: usize): usize {
  memory.copy(p, src, n);
  return p + n;
}

function putDecimal(p: usize, v: u64): usize {
  let digits = 1;
  for (let t = v; t >= 10; t /= 10) digits++;
  let q = p + <usize>digits;
  let t = v;
  do { q--; store<u8>(q, <u8>(0x30 + <u32>(t % 10))); t /= 10; } while (t > 0);
  return p + <usize>digits;
}

function putCrlf(p: usize): usize {
  store<u16>(p, 0x0a0d);
  return p + 2;
}

/** `$<n>\r\n<bytes>\r\n` */
function putBulk(p: usize, src: usize, n: usize): usize {
  store<u8>(p, 0x24);
  p = putCrlf(putDecimal(p + 1, <u64>n));
  return putCrlf(put(p, src, n));
}

let pendingStream = new Map<u32, u32>();

class FloorRoot extends RootContext {
  onConfigure(size: u32): bool {
    const e = changetype<usize>(0);
    proxy_redis_init(ptrOf(clusterBytes), <usize>clusterBytes.byteLength, e, 0, e, 0, 1000);
    return true;
  }

  newHttpContext(id: u32): HttpContext | null {
    return new FloorStream(id, this);
  }

  onRedisCallResponse(calloutId: u32, status: u32, size: u32): void {
    if (!pendingStream.has(calloutId)) return;
    const id = pendingStream.get(calloutId);
    pendingStream.delete(calloutId);
    if (raw.proxy_set_effective_context(id) != Status.Ok) return;
    // The reply: an integer or a bulk string holding one; anything else leaves the balance at 0.
    let balance: i64 = 0;
    store<u32>(RETURN_PTR, 0);
    store<u32>(RETURN_SIZE, 0);
    if (status == 0 && raw.proxy_get_buffer_bytes(BufferType.RedisCallResponse, 0, size, RETURN_PTR, RETURN_SIZE) == Status.Ok) {
      const p = <usize>load<u32>(RETURN_PTR);
      const n = <usize>load<u32>(RETURN_SIZE);
      if (p != 0) {
        let q = p;
        const end = p + n;
        if (q < end && load<u8>(q) == 0x24) { // $len\r\n
          while (q < end && load<u8>(q) != 0x0a) q++;
          q++;
        } else q++;
        while (q < end) {
          const c = <i32>load<u8>(q) - 0x30;
          if (c < 0 || c > 9) break;
          balance = balance * 10 + c;
          q++;
        }
        heap.free(p);
      }
    }
    if (balance > 0) raw.proxy_continue_stream(StreamType.HttpRequest);
    else {
      const e = changetype<usize>(0);
      raw.proxy_send_local_response(429, e, 0, e, 0, e, 0, -1);
    }
  }
}

class FloorStream extends HttpContext {
  /** The consumer's balance key (prefix + consumer). */
  key: ArrayBuffer = new ArrayBuffer(0);
  metered: bool = false;
  used: i64 = 0;
  settled: bool = false;

  onRequestHeaders(numHeaders: u32, endOfStream: bool): Action {
    // Both values, as a plugin that must refuse a request without a consumer on any path reads them.
    const consumer = headerValue(consumerName);
    if (consumer == 0) return Action.Continue;
    const consumerLen = <usize>load<u32>(RETURN_SIZE);
    const path = headerValue(pathName);
    const pathLen = <usize>load<u32>(RETURN_SIZE);
    const n = <usize>meteredBytes.byteLength;
    this.metered = path != 0 && pathLen == n && memory.compare(path, ptrOf(meteredBytes), n) == 0;
    if (path != 0) heap.free(path);
    if (!this.metered) {
      heap.free(consumer);
      return Action.Continue;
    }
    const prefixLen = <usize>prefixBytes.byteLength;
    const key = new ArrayBuffer(<i32>(prefixLen + consumerLen));
    memory.copy(changetype<usize>(key), ptrOf(prefixBytes), prefixLen);
    memory.copy(changetype<usize>(key) + prefixLen, consumer, consumerLen);
    heap.free(consumer);
    this.key = key;
    let p = command;
    store<u32>(p, 0x0a0d322a); // *2\r\n
    p += 4;
    store<u32>(p, 0x0a0d3324); // $3\r\n
    p += 4;
    store<u32>(p, 0x0d544547); // GET\r
    store<u8>(p + 4, 0x0a);
    p += 5;
    p = putBulk(p, changetype<usize>(key), <usize>key.byteLength);
    store<u32>(RETURN_PTR, 0);
    if (proxy_redis_call(ptrOf(clusterBytes), <usize>clusterBytes.byteLength, command, p - command, RETURN_PTR) != Status.Ok) return Action.Continue;
    pendingStream.set(load<u32>(RETURN_PTR), this.id);
    return Action.StopIteration;
  }

  onResponseBody(size: u32, endOfStream: bool): DataAction {
    if (!this.metered) return DataAction.Continue;
    store<u32>(RETURN_PTR, 0);
    store<u32>(RETURN_SIZE, 0);
    if (size > 0 && raw.proxy_get_buffer_bytes(BufferType.HttpResponseBody, 0, size, RETURN_PTR, RETURN_SIZE) == Status.Ok) {
      const p = <usize>load<u32>(RETURN_PTR);
      const n = <usize>load<u32>(RETURN_SIZE);
      if (p != 0) {
        const total = usageTotal(p, n);
        if (total >= 0) this.used = total;
        heap.free(p);
      }
    }
    if (endOfStream) this.settle();
    return DataAction.Continue;
  }

  onLog(): void {
    this.settle();
  }

  private settle(): void {
    if (this.settled || !this.metered || this.key.byteLength == 0) return;
    this.settled = true;
    let p = command;
    store<u32>(p, 0x0a0d332a); // *3\r\n
    p += 4;
    store<u32>(p, 0x0a0d3624); // $6\r\n
    p += 4;
    p = put(p, ptrOf(DECRBY), 8); // DECRBY\r\n
    p = putBulk(p, changetype<usize>(this.key), <usize>this.key.byteLength);
    const digits = memory.data(24);
    const dEnd = putDecimal(digits, <u64>(this.used < 0 ? 0 : this.used));
    p = putBulk(p, digits, dEnd - digits);
    store<u32>(RETURN_PTR, 0);
    proxy_redis_call(ptrOf(clusterBytes), <usize>clusterBytes.byteLength, command, p - command, RETURN_PTR);
  }
}

const DECRBY = bytes("DECRBY\r\n");

/** A request header's value in a host block (the caller frees it; its length in RETURN_SIZE), or 0. */
function headerValue(name: ArrayBuffer): usize {
  store<u32>(RETURN_PTR, 0);
  store<u32>(RETURN_SIZE, 0);
  if (raw.proxy_get_header_map_value(MapType.HttpRequestHeaders, ptrOf(name), <usize>name.byteLength, RETURN_PTR, RETURN_SIZE) != Status.Ok) return 0;
  return <usize>load<u32>(RETURN_PTR);
}

/** `"usage"` in the bytes, then the digits after the next `"total_tokens":`; -1 when not there. */
function usageTotal(p: usize, n: usize): i64 {
  const at = find(p, p + n, USAGE, 7);
  if (at == 0) return -1;
  const t = find(at, p + n, TOTAL, 15);
  if (t == 0) return -1;
  let q = t + 15;
  const end = p + n;
  while (q < end && load<u8>(q) == 0x20) q++;
  let v: i64 = 0;
  let digits = 0;
  while (q < end) {
    const c = <i32>load<u8>(q) - 0x30;
    if (c < 0 || c > 9) break;
    v = v * 10 + c;
    digits++;
    q++;
  }
  return digits > 0 ? v : -1;
}

const USAGE = memory.data<u8>([0x22, 0x75, 0x73, 0x61, 0x67, 0x65, 0x22]); // "usage"
const TOTAL = memory.data<u8>([0x22, 0x74, 0x6f, 0x74, 0x61, 0x6c, 0x5f, 0x74, 0x6f, 0x6b, 0x65, 0x6e, 0x73, 0x22, 0x3a]); // "total_tokens":

/** The first occurrence of the m bytes at `needle` in [p, end), or 0: a first-byte scan, then compare. */
function find(p: usize, end: usize, needle: usize, m: usize): usize {
  if (end - p < m) return 0;
  const first = load<u8>(needle);
  const last = end - m;
  for (let q = p; q <= last; q++) {
    if (load<u8>(q) == first && memory.compare(q, needle, m) == 0) return q;
  }
  return 0;
}

function newFloorRoot(id: u32): RootContext {
  return new FloorRoot(id);
}

setRootContextFactory(newFloorRoot);
