// A projection of what a request costs inside Envoy: the module's own wasm time, measured here
// (V8 with TurboFan only, as Envoy runs it: proxy-wasm-cpp-host src/v8/v8.cc passes --no-liftoff),
// plus each host call and each proxy_on_memory_allocate call at what Envoy's own wasm benchmark
// measured for them, instead of what this Node host costs.
//
// Source: Envoy's test/extensions/bootstrap/wasm/wasm_speed_test.cc, which calls a C++ wasm module's
// proxy_on_tick in a loop under V8. Published runs (envoyproxy/envoy-wasm PR 549, 2020-06, and
// issue 602, 2020-08, V8 8.1–8.4, one core of a server CPU):
//   V8SpeedTest_empty             85–90 ns   a callback from Envoy into wasm that does nothing
//   V8SpeedTest_get_current_time  263–285 ns the same callback making one host call
// So one host call, there and back, costs ~190 ns (get_current_time − empty; it includes Envoy's
// clock read, which NullSpeedTest puts at ~75 ns: the figure is a high estimate for a call that
// only reads a value). A host call that returns data (header values, buffers, properties, Redis
// replies) also calls back into the module's allocator: counted as one more callback (~88 ns).
// Bytes copied are not counted (memcpy of a few KiB: tens of ns).
//
// Assumptions, stated: (1) the own wasm time measured here under Node 20's V8 11.3 is what Envoy's
// V8 would take (same compiler tier; Envoy ships newer V8s, which are not slower); (2) each callback
// Envoy makes costs what the empty benchmark measured, already inside the own time measured here
// (our host's JS→wasm entry is the same V8 path), so callbacks are not added again; (3) host calls
// cost the same whatever they do (a header lookup in Envoy's map and a Redis command queued on a
// connection are both a few hundred ns at most; Envoy's Redis client encodes and queues the command,
// and sends it later from its event loop, outside the callback).

export const ENVOY_COSTS = {
  /** Per host call (wasm → Envoy → wasm), ns. */
  hostCallNs: 190,
  /** Per proxy_on_memory_allocate callback (a host call returning data), ns. */
  allocateCallbackNs: 88,
  source: "Envoy wasm_speed_test (test/extensions/bootstrap/wasm), V8: empty 85–90 ns, get_current_time 263–285 ns (envoyproxy/envoy-wasm PR 549, issue 602)",
};

/** µs per request inside Envoy, from the own wasm time and the host-call census. */
export function projectedEnvoyUs(ownWasmUs: number, hostCalls: number, allocateCallbacks: number): number {
  return ownWasmUs + (hostCalls * ENVOY_COSTS.hostCallNs + allocateCallbacks * ENVOY_COSTS.allocateCallbackNs) / 1000;
}
