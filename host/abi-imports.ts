// Every `env.proxy_*` host function, with the signature Envoy links it under. This layer only
// moves bytes across the boundary and checks them: pointers are validated (a bad one is
// InvalidMemoryAccess), enum arguments are range-checked (BadArgument), and the meaning of each
// call is left to the host behind AbiHost. Status codes and the order of checks follow
// proxy-wasm-cpp-host's exports.cc, which Envoy runs.
import { LogLevel, MapType, Status, StreamType } from "./abi-types";
import { GuestMemory } from "./memory";
import { HeaderMap, HeaderPairs, parsePairs, serializePairs } from "./header-map";
import { Metrics } from "./metrics";
import { SharedData } from "./shared-data";
import { LocalResponse } from "./exchange";
import { FuncSig, ValType } from "./wasm-binary";

/** What the host functions act on; implemented by the VM. */
export interface AbiHost {
  readonly memory: GuestMemory;
  readonly metricsRegistry: Metrics;
  readonly sharedData: SharedData;
  /** The highest buffer type the host knows: 9 with Higress's Redis calls, 8 in plain Envoy. */
  readonly maxBufferType: number;
  logLevel(): number;
  log(level: LogLevel, message: string): void;
  nowNanos(): bigint;
  setTickPeriod(ms: number): void;
  setEffectiveContext(id: number): Status;
  done(): Status;
  headerMap(type: MapType, write: boolean): HeaderMap | Status;
  /** The buffer's bytes (possibly none), or the status to answer (NotFound when absent). */
  readBuffer(type: number): Buffer | Status;
  writeBuffer(type: number, start: number, length: number, data: Buffer): Status;
  getProperty(path: Buffer): Buffer | null;
  setProperty(path: Buffer, value: Buffer): Status;
  sendLocalResponse(response: LocalResponse): Status;
  continueStream(type: StreamType): Status;
  closeStream(type: StreamType): Status;
  httpCall(cluster: string, headers: HeaderPairs, body: Buffer, trailers: HeaderPairs, timeoutMs: number): { status: Status; calloutId: number };
  redisInit(cluster: string, username: string, password: string, timeoutMs: number): Status;
  redisCall(cluster: string, query: Buffer): { status: Status; calloutId: number };
  callForeignFunction(name: string, args: Buffer): Status;
}

export interface HostFunction {
  sig: FuncSig;
  impl: (...args: Array<number | bigint>) => number;
}

const MAX_MAP_TYPE = MapType.HttpCallResponseTrailers;
const MAX_STREAM_TYPE = StreamType.Upstream;

/**
 * Declares a host function. `params` is one letter per parameter (i = i32, I = i64); i32 values
 * reach `impl` as unsigned numbers, since every i32 of this ABI is a pointer, size, id or enum.
 */
function def<A extends Array<number | bigint>>(params: string, results: string, impl: (...args: A) => number): HostFunction {
  const types = (s: string): ValType[] => [...s].map((c) => (c === "I" ? "i64" : "i32"));
  const wrapped = (...args: Array<number | bigint>) =>
    impl(...(args.map((a) => (typeof a === "number" ? a >>> 0 : a)) as A));
  return { sig: { params: types(params), results: types(results) }, impl: wrapped };
}

export function buildImports(host: AbiHost, options: { redis: boolean }): Record<string, HostFunction> {
  const mem = host.memory;
  const read = (ptr: number, size: number) => mem.read(ptr, size);
  const text = (b: Buffer) => b.toString("utf8");
  const out = (data: Uint8Array, ptrPtr: number, sizePtr: number) =>
    mem.copyOut(data, ptrPtr, sizePtr) ? Status.Ok : Status.InvalidMemoryAccess;

  const table: Record<string, HostFunction> = {
    // ---- logging, time, timers, contexts ----
    proxy_log: def("iii", "i", (level: number, ptr: number, size: number) => {
      if (level > LogLevel.Critical) return Status.BadArgument;
      const msg = read(ptr, size);
      if (msg === null) return Status.InvalidMemoryAccess;
      host.log(level, text(msg));
      return Status.Ok;
    }),
    proxy_get_log_level: def("i", "i", (ptr: number) =>
      mem.writeU32(ptr, host.logLevel()) ? Status.Ok : Status.InvalidMemoryAccess),
    proxy_get_current_time_nanoseconds: def("i", "i", (ptr: number) =>
      mem.writeU64(ptr, host.nowNanos()) ? Status.Ok : Status.InvalidMemoryAccess),
    proxy_set_tick_period_milliseconds: def("i", "i", (ms: number) => {
      host.setTickPeriod(ms);
      return Status.Ok;
    }),
    proxy_set_effective_context: def("i", "i", (id: number) => host.setEffectiveContext(id)),
    proxy_done: def("", "i", () => host.done()),

    // ---- buffers ----
    proxy_get_buffer_bytes: def("iiiii", "i", (type: number, start: number, max: number, ptrPtr: number, sizePtr: number) => {
      if (type > host.maxBufferType) return Status.BadArgument;
      const buf = host.readBuffer(type);
      if (typeof buf === "number") return buf;
      // cpp-host exports.cc get_buffer_bytes: a start past the end reads nothing, and reading
      // nothing writes (0, 0) to the out-pointers without allocating.
      const length = start > buf.length ? 0 : Math.min(max, buf.length - start);
      if (length === 0) return mem.writeU32(ptrPtr, 0) && mem.writeU32(sizePtr, 0) ? Status.Ok : Status.InvalidMemoryAccess;
      return out(buf.subarray(start, start + length), ptrPtr, sizePtr);
    }),
    proxy_set_buffer_bytes: def("iiiii", "i", (type: number, start: number, length: number, ptr: number, size: number) => {
      if (type > host.maxBufferType) return Status.BadArgument;
      const existing = host.readBuffer(type);
      if (typeof existing === "number") return existing;
      const data = read(ptr, size);
      if (data === null) return Status.InvalidMemoryAccess;
      return host.writeBuffer(type, start, length, data);
    }),
    proxy_get_buffer_status: def("iii", "i", (type: number, lengthPtr: number, flagsPtr: number) => {
      if (type > host.maxBufferType) return Status.BadArgument;
      const buf = host.readBuffer(type);
      if (typeof buf === "number") return buf;
      return mem.writeU32(lengthPtr, buf.length) && mem.writeU32(flagsPtr, 0) ? Status.Ok : Status.InvalidMemoryAccess;
    }),

    // ---- header maps ----
    proxy_get_header_map_value: def("iiiii", "i", (type: number, kPtr: number, kSize: number, vPtrPtr: number, vSizePtr: number) => {
      if (type > MAX_MAP_TYPE) return Status.BadArgument;
      const key = read(kPtr, kSize);
      if (key === null) return Status.InvalidMemoryAccess;
      const map = host.headerMap(type, false);
      if (typeof map === "number") return map;
      const value = map.get(text(key));
      if (value === undefined) return Status.NotFound;
      return out(Buffer.from(value, "utf8"), vPtrPtr, vSizePtr);
    }),
    proxy_get_header_map_pairs: def("iii", "i", (type: number, ptrPtr: number, sizePtr: number) => {
      if (type > MAX_MAP_TYPE) return Status.BadArgument;
      // Envoy answers an unreachable map with an empty one here, not an error.
      const map = host.headerMap(type, false);
      const pairs = typeof map === "number" ? [] : map.pairs();
      return out(pairs.length === 0 ? Buffer.alloc(0) : serializePairs(pairs), ptrPtr, sizePtr);
    }),
    proxy_set_header_map_pairs: def("iii", "i", (type: number, ptr: number, size: number) => {
      if (type > MAX_MAP_TYPE) return Status.BadArgument;
      const data = read(ptr, size);
      if (data === null) return Status.InvalidMemoryAccess;
      const map = host.headerMap(type, true);
      if (typeof map === "number") return map;
      const pairs = parsePairs(data);
      if (pairs === null) return Status.BadArgument;
      map.setAll(pairs);
      return Status.Ok;
    }),
    proxy_add_header_map_value: def("iiiii", "i", (type: number, kPtr: number, kSize: number, vPtr: number, vSize: number) =>
      editMap(type, kPtr, kSize, vPtr, vSize, (m, k, v) => m.add(k, v))),
    proxy_replace_header_map_value: def("iiiii", "i", (type: number, kPtr: number, kSize: number, vPtr: number, vSize: number) =>
      editMap(type, kPtr, kSize, vPtr, vSize, (m, k, v) => m.replace(k, v))),
    proxy_remove_header_map_value: def("iii", "i", (type: number, kPtr: number, kSize: number) =>
      editMap(type, kPtr, kSize, 0, 0, (m, k) => m.remove(k))),
    proxy_get_header_map_size: def("ii", "i", (type: number, ptr: number) => {
      if (type > MAX_MAP_TYPE) return Status.BadArgument;
      const map = host.headerMap(type, true);
      if (typeof map === "number") return map;
      // Envoy's HeaderMap::byteSize: the bytes of all names and values.
      const size = map.pairs().reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v), 0);
      return mem.writeU32(ptr, size) ? Status.Ok : Status.InvalidMemoryAccess;
    }),

    // ---- properties ----
    proxy_get_property: def("iiii", "i", (pPtr: number, pSize: number, vPtrPtr: number, vSizePtr: number) => {
      const path = read(pPtr, pSize);
      if (path === null) return Status.InvalidMemoryAccess;
      const value = host.getProperty(path);
      if (value === null) return Status.NotFound;
      return out(value, vPtrPtr, vSizePtr);
    }),
    proxy_set_property: def("iiii", "i", (pPtr: number, pSize: number, vPtr: number, vSize: number) => {
      const path = read(pPtr, pSize);
      const value = read(vPtr, vSize);
      if (path === null || value === null) return Status.InvalidMemoryAccess;
      return host.setProperty(path, value);
    }),

    // ---- stream control ----
    proxy_send_local_response: def("iiiiiiii", "i",
      (code: number, dPtr: number, dSize: number, bPtr: number, bSize: number, hPtr: number, hSize: number, grpc: number) => {
        const details = read(dPtr, dSize);
        const body = read(bPtr, bSize);
        const headerBytes = read(hPtr, hSize);
        if (details === null || body === null || headerBytes === null) return Status.InvalidMemoryAccess;
        const headers = parsePairs(headerBytes);
        if (headers === null) return Status.BadArgument;
        return host.sendLocalResponse({
          status: code,
          body,
          headers: headers.map(([k, v]) => [k.toLowerCase(), v]),
          details: text(details).replace(/\s/g, "_"),
          grpcStatus: grpc | 0,
        });
      }),
    proxy_continue_stream: def("i", "i", (type: number) =>
      type > MAX_STREAM_TYPE ? Status.BadArgument : host.continueStream(type)),
    proxy_close_stream: def("i", "i", (type: number) =>
      type > MAX_STREAM_TYPE ? Status.BadArgument : host.closeStream(type)),

    // ---- outbound HTTP ----
    proxy_http_call: def("iiiiiiiiii", "i",
      (uPtr: number, uSize: number, hPtr: number, hSize: number, bPtr: number, bSize: number,
        tPtr: number, tSize: number, timeout: number, idPtr: number) => {
        const upstream = read(uPtr, uSize);
        const headerBytes = read(hPtr, hSize);
        const body = read(bPtr, bSize);
        const trailerBytes = read(tPtr, tSize);
        if (upstream === null || headerBytes === null || body === null || trailerBytes === null) return Status.InvalidMemoryAccess;
        const headers = parsePairs(headerBytes);
        const trailers = parsePairs(trailerBytes);
        if (headers === null || trailers === null) return Status.BadArgument;
        // Like Envoy, prove the out-pointer writable before starting anything asynchronous.
        if (!mem.writeU32(idPtr, 0)) return Status.InvalidMemoryAccess;
        const r = host.httpCall(text(upstream), headers.map(([k, v]) => [k.toLowerCase(), v]), body, trailers, timeout);
        mem.writeU32(idPtr, r.calloutId);
        return r.status;
      }),

    // ---- metrics ----
    proxy_define_metric: def("iiii", "i", (type: number, nPtr: number, nSize: number, idPtr: number) => {
      const name = read(nPtr, nSize);
      if (name === null) return Status.InvalidMemoryAccess;
      const r = host.metricsRegistry.define(type, text(name));
      if (r.status !== Status.Ok) return r.status;
      return mem.writeU32(idPtr, r.id) ? Status.Ok : Status.InvalidMemoryAccess;
    }),
    proxy_increment_metric: def("iI", "i", (id: number, delta: bigint) => host.metricsRegistry.increment(id, BigInt.asIntN(64, delta))),
    proxy_record_metric: def("iI", "i", (id: number, value: bigint) => host.metricsRegistry.record(id, BigInt.asUintN(64, value))),
    proxy_get_metric: def("ii", "i", (id: number, ptr: number) => {
      const r = host.metricsRegistry.get(id);
      if (r.status !== Status.Ok) return r.status;
      return mem.writeU64(ptr, r.value) ? Status.Ok : Status.InvalidMemoryAccess;
    }),

    // ---- shared data ----
    proxy_get_shared_data: def("iiiii", "i", (kPtr: number, kSize: number, vPtrPtr: number, vSizePtr: number, casPtr: number) => {
      const key = read(kPtr, kSize);
      if (key === null) return Status.InvalidMemoryAccess;
      const entry = host.sharedData.get(text(key));
      if (entry === undefined) return Status.NotFound;
      if (out(entry.value, vPtrPtr, vSizePtr) !== Status.Ok) return Status.InvalidMemoryAccess;
      return mem.writeU32(casPtr, entry.cas) ? Status.Ok : Status.InvalidMemoryAccess;
    }),
    proxy_set_shared_data: def("iiiii", "i", (kPtr: number, kSize: number, vPtr: number, vSize: number, cas: number) => {
      const key = read(kPtr, kSize);
      const value = read(vPtr, vSize);
      if (key === null || value === null) return Status.InvalidMemoryAccess;
      return host.sharedData.set(text(key), value, cas);
    }),

    // ---- foreign functions (cpp-host exports.cc call_foreign_function) ----
    proxy_call_foreign_function: def("iiiiii", "i", (nPtr: number, nSize: number, aPtr: number, aSize: number, rPtr: number, rSizePtr: number) => {
      const name = read(nPtr, nSize);
      if (name === null) return Status.InvalidMemoryAccess;
      const args = read(aPtr, aSize);
      if (args === null) return Status.InvalidMemoryAccess;
      const status = host.callForeignFunction(text(name), args);
      // The modelled functions return no result: cpp-host writes address 0 and size 0 where asked.
      if (status === Status.NotFound) return status;
      if (rPtr !== 0 && !mem.writeU32(rPtr, 0)) return Status.InvalidMemoryAccess;
      if (rSizePtr !== 0 && !mem.writeU32(rSizePtr, 0)) return Status.InvalidMemoryAccess;
      return status;
    }),
  };

  if (options.redis) {
    // Higress's extension (higress-group/proxy-wasm-go-sdk, abi_hostcalls.go).
    table.proxy_redis_init = def("iiiiiii", "i",
      (cPtr: number, cSize: number, uPtr: number, uSize: number, pPtr: number, pSize: number, timeout: number) => {
        const cluster = read(cPtr, cSize);
        const user = read(uPtr, uSize);
        const pass = read(pPtr, pSize);
        if (cluster === null || user === null || pass === null) return Status.InvalidMemoryAccess;
        return host.redisInit(text(cluster), text(user), text(pass), timeout);
      });
    table.proxy_redis_call = def("iiiii", "i", (cPtr: number, cSize: number, qPtr: number, qSize: number, idPtr: number) => {
      const cluster = read(cPtr, cSize);
      const query = read(qPtr, qSize);
      if (cluster === null || query === null) return Status.InvalidMemoryAccess;
      if (!mem.writeU32(idPtr, 0)) return Status.InvalidMemoryAccess;
      const r = host.redisCall(text(cluster), query);
      mem.writeU32(idPtr, r.calloutId);
      return r.status;
    });
  }
  return table;

  function editMap(type: number, kPtr: number, kSize: number, vPtr: number, vSize: number,
    edit: (map: HeaderMap, key: string, value: string) => void): number {
    if (type > MAX_MAP_TYPE) return Status.BadArgument;
    const key = read(kPtr, kSize);
    const value = read(vPtr, vSize);
    if (key === null || value === null) return Status.InvalidMemoryAccess;
    const map = host.headerMap(type, true);
    if (typeof map === "number") return map;
    edit(map, text(key), text(value));
    return Status.Ok;
  }
}
