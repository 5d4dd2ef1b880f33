// The proxy-wasm host for Node: runs a compiled plugin the way Envoy/Higress would, for tests,
// the local gateway and the benchmark.
export { PluginVm } from "./vm";
export type { PluginVmOptions, LogEntry } from "./vm";
export { Stream } from "./stream";
export type { StreamOptions, BodyInput } from "./stream";
export { Exchange } from "./exchange";
export type { StreamPart, LocalResponse } from "./exchange";
export type { ExchangeSpec, ExchangeResult, ResponseSpec, UpstreamRequest, BodyChunks } from "./stream-run";
export { HeaderMap, headerValue, serializePairs, parsePairs } from "./header-map";
export type { HeaderPairs } from "./header-map";
export { ManualClock, systemClock } from "./clock";
export type { Clock } from "./clock";
export type { MetricsSnapshot } from "./metrics";
export type { RedisResolver, RedisCallRecord, RedisClusterSettings } from "./redis-bridge";
export { parseClusterName } from "./redis-bridge";
export type { HttpOptions, HttpCallRecord, HttpCallResult } from "./http-bridge";
export { Status, HeadersAction, DataAction, TrailersAction, BufferType, MapType, StreamType, LogLevel, MetricType } from "./abi-types";
export { inspectWasm, formatSig } from "./wasm-binary";
export type { ModuleShape, ModuleImport, ModuleExport, FuncSig } from "./wasm-binary";
export { startRedis, freePort, REDIS_MISSING } from "./redis-server";
export type { RedisServer, RedisServerOptions } from "./redis-server";
export { RedisClient, redisCommand } from "./redis-client";
export { encodeCommand, decodeValue, decodeCommand, RespFramer, RespError } from "./resp";
export type { RespValue } from "./resp";
export { startRedisRestBridge, type RedisRestBridge, type RedisRestBridgeOptions } from "./redis-rest-bridge";
