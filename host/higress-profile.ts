// The Higress releases the host can play, each from its sources. Higress v2.2.0+ runs
// higress-group/envoy branch envoy-1.36 (alibaba/higress `.gitmodules` at v2.2.0: envoy/envoy
// branch envoy-1.36, pinned b46236685e; v2.2.4 pins 9e54c67a6c); v2.0–v2.1 run branch envoy-1.27.
// The envoy-1.36 rules below follow the Higress Envoy fork as stored at johnlanni/envoy
// 16275c9ba156 (`source/extensions/common/wasm/context.cc`: Envoy >= 1.35 code —
// allow_on_headers_stop_iteration — with Higress's `#if defined(HIGRESS)` parts) and 6a067cced4
// (`foreign.cc`); the envoy-1.27 rules follow higress-group/envoy envoy-1.27 at e9302f5574
// (2024-10-16), the snapshot the rest of host/ was first modelled on.

/** Which Envoy branch of Higress's fork: "1.36" (Higress 2.2, the default) or "1.27" (Higress 2.0–2.1). */
export type HigressEnvoy = "1.36" | "1.27";

export const DEFAULT_HIGRESS_ENVOY: HigressEnvoy = "1.36";

export interface HigressProfile {
  envoy: HigressEnvoy;
  /**
   * Context::encodeData/decodeData: after StopIterationAndBuffer, the new chunk joins the held body
   * before the callback (`addEncodedData(data, false)` first: envoy PR 36411, in 1.36). The 1.27
   * snapshot calls the plugin first, and the chunk joins after.
   */
  heldBodyIncludesChunk: boolean;
  /**
   * Context::redisInit passes the cluster name's query to Redis::AsyncClientConfig, which in 1.36
   * reads `max_buffer_size_before_flush` and `buffer_flush_timeout` from it (parseUint32FromParams:
   * std::stoul, defaults 1024 and 3 when absent, unparsable or above 32 bits: envoy/redis/async_client.h
   * at johnlanni/envoy 3fe314c698, the commit Higress v2.1.9 pins; alibaba/higress PR 3126, release
   * notes 2.1.9). The 1.27 snapshot fixes them at 1024 bytes and 3 ms.
   */
  readsRedisBufferOptions: boolean;
  /**
   * foreign.cc `inject_encoded_data_to_filter_chain` (under HIGRESS): body bytes from the plugin
   * go on to the next filters at once (Context::injectEncodedDataToFilterChain →
   * encoder_callbacks_->injectEncodedDataToFilterChain). Not in the 1.27 snapshot's foreign.cc.
   */
  injectsEncodedData: boolean;
}

export function higressProfile(envoy: HigressEnvoy): HigressProfile {
  if (envoy === "1.36") return { envoy, heldBodyIncludesChunk: true, readsRedisBufferOptions: true, injectsEncodedData: true };
  if (envoy === "1.27") return { envoy, heldBodyIncludesChunk: false, readsRedisBufferOptions: false, injectsEncodedData: false };
  throw new Error(`unknown Higress Envoy branch ${String(envoy)} (known: 1.36, 1.27)`);
}
