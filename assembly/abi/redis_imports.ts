// Higress's Redis host calls (higress-group/proxy-wasm-go-sdk). Plain Envoy does not provide them,
// and refuses to load a module that imports them.

@external("env", "proxy_redis_init")
export declare function proxy_redis_init(
  clusterPtr: usize, clusterSize: usize,
  usernamePtr: usize, usernameSize: usize,
  passwordPtr: usize, passwordSize: usize,
  timeoutMs: u32,
): u32;

@external("env", "proxy_redis_call")
export declare function proxy_redis_call(
  clusterPtr: usize, clusterSize: usize,
  queryPtr: usize, querySize: usize,
  returnCalloutIdPtr: usize,
): u32;
