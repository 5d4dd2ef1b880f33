// The ABI marker of proxy-wasm 0.2.1: what stock proxy-wasm-cpp-host (Envoy, Istio) loads.
// A module exports exactly one marker: cpp-host takes the first it finds (src/bytecode_util.cc).
export function proxy_abi_version_0_2_1(): void {}
