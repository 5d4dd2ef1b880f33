// The ABI marker of Higress's fork (higress-group/proxy-wasm-cpp-host): the 0.2.1 host functions
// plus Higress's (src/wasm.cc registers the same imports for 0_2_1 and 0_2_100), and a request-header
// StopIteration that is not turned into StopAll, so body callbacks keep coming (src/context.cc).
// Stock cpp-host does not know this marker and refuses the module, which is why only the Higress
// build (it imports proxy_redis_* and cannot load elsewhere anyway) carries it.
export function proxy_abi_version_0_2_100(): void {}
