// Host-function signatures of proxy-wasm ABI v0.2.1 (proxy-wasm/spec, abi-versions/v0.2.1) and
// Higress's Redis calls (higress-group/proxy-wasm-go-sdk), for the tests that check what a
// built module imports.
import { FuncSig } from "../host";

export const i = (n: number) => Array<"i32">(n).fill("i32");
export const sig = (params: Array<"i32" | "i64">, results: Array<"i32">): FuncSig => ({ params, results });

/** Every host function of proxy-wasm ABI v0.2.1 (proxy-wasm/spec, abi-versions/v0.2.1), with its signature. */
export const PROXY_WASM_0_2_1: Record<string, FuncSig> = {
  proxy_log: sig(i(3), i(1)),
  proxy_get_log_level: sig(i(1), i(1)),
  proxy_get_current_time_nanoseconds: sig(i(1), i(1)),
  proxy_set_tick_period_milliseconds: sig(i(1), i(1)),
  proxy_get_buffer_bytes: sig(i(5), i(1)),
  proxy_set_buffer_bytes: sig(i(5), i(1)),
  proxy_get_buffer_status: sig(i(3), i(1)),
  proxy_get_header_map_size: sig(i(2), i(1)),
  proxy_get_header_map_pairs: sig(i(3), i(1)),
  proxy_set_header_map_pairs: sig(i(3), i(1)),
  proxy_get_header_map_value: sig(i(5), i(1)),
  proxy_add_header_map_value: sig(i(5), i(1)),
  proxy_replace_header_map_value: sig(i(5), i(1)),
  proxy_remove_header_map_value: sig(i(3), i(1)),
  proxy_continue_stream: sig(i(1), i(1)),
  proxy_close_stream: sig(i(1), i(1)),
  proxy_get_status: sig(i(3), i(1)),
  proxy_send_local_response: sig(i(8), i(1)),
  proxy_http_call: sig(i(10), i(1)),
  proxy_grpc_call: sig(i(12), i(1)),
  proxy_grpc_stream: sig(i(9), i(1)),
  proxy_grpc_send: sig(i(4), i(1)),
  proxy_grpc_cancel: sig(i(1), i(1)),
  proxy_grpc_close: sig(i(1), i(1)),
  proxy_set_shared_data: sig(i(5), i(1)),
  proxy_get_shared_data: sig(i(5), i(1)),
  proxy_register_shared_queue: sig(i(3), i(1)),
  proxy_resolve_shared_queue: sig(i(5), i(1)),
  proxy_enqueue_shared_queue: sig(i(3), i(1)),
  proxy_dequeue_shared_queue: sig(i(3), i(1)),
  proxy_define_metric: sig(i(4), i(1)),
  proxy_record_metric: sig(["i32", "i64"], i(1)),
  proxy_increment_metric: sig(["i32", "i64"], i(1)),
  proxy_get_metric: sig(i(2), i(1)),
  proxy_get_property: sig(i(4), i(1)),
  proxy_set_property: sig(i(4), i(1)),
  proxy_set_effective_context: sig(i(1), i(1)),
  proxy_done: sig([], i(1)),
  proxy_call_foreign_function: sig(i(6), i(1)),
};

/** Higress's additions: only the Higress build may import these. */
export const HIGRESS_REDIS: Record<string, FuncSig> = {
  proxy_redis_init: sig(i(7), i(1)),
  proxy_redis_call: sig(i(5), i(1)),
};
