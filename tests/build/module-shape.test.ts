// The exact import and export lists of both builds. A new import is a new demand on every
// gateway that loads the module (Envoy refuses a module whose imports it does not provide), so a
// change here must be deliberate: update the list in the same commit that needs it.
import * as fs from "node:fs";
import * as path from "node:path";
import { inspectWasm } from "../../host";

const ROOT = path.resolve(__dirname, "../..");

function shape(file: string): { imports: string[]; exports: string[] } {
  const m = inspectWasm(fs.readFileSync(path.join(ROOT, file)));
  return {
    imports: m.imports.map((i) => `${i.module}.${i.name}`).sort(),
    exports: m.exports.map((e) => e.name).sort(),
  };
}

const STANDARD_IMPORTS = [
  "env.proxy_continue_stream", "env.proxy_define_metric", "env.proxy_get_buffer_bytes",
  "env.proxy_get_current_time_nanoseconds", "env.proxy_get_header_map_pairs", "env.proxy_get_header_map_value",
  "env.proxy_get_log_level", "env.proxy_get_property", "env.proxy_http_call", "env.proxy_increment_metric",
  "env.proxy_log", "env.proxy_record_metric", "env.proxy_remove_header_map_value", "env.proxy_replace_header_map_value",
  "env.proxy_send_local_response", "env.proxy_set_buffer_bytes", "env.proxy_set_effective_context", "env.proxy_set_property",
  "env.proxy_set_tick_period_milliseconds",
];

const CALLBACKS = [
  "_initialize", "memory", "proxy_on_configure", "proxy_on_context_create",
  "proxy_on_delete", "proxy_on_done", "proxy_on_http_call_response", "proxy_on_log", "proxy_on_memory_allocate",
  "proxy_on_request_body", "proxy_on_request_headers", "proxy_on_request_trailers", "proxy_on_response_body",
  "proxy_on_response_headers", "proxy_on_response_trailers", "proxy_on_tick", "proxy_on_vm_start",
];

// Exactly one ABI marker each: cpp-host takes the first it finds (src/bytecode_util.cc). Higress's
// 0.2.100 keeps body callbacks after a header StopIteration; stock Envoy only knows 0.2.1.
// proxy_call_foreign_function: Higress 2.2's inject_encoded_data_to_filter_chain sends held response
// bytes at trailers time (abi/inject_response.ts); every cpp-host provides the call itself.
test("Higress build: ABI 0.2.100, the standard host calls plus Higress's Redis calls and the foreign-function call; no abort, seed or trace", () => {
  expect(shape("build/ai-quota.wasm")).toEqual({
    imports: [...STANDARD_IMPORTS, "env.proxy_call_foreign_function", "env.proxy_redis_call", "env.proxy_redis_init"].sort(),
    exports: [...CALLBACKS, "proxy_abi_version_0_2_100", "proxy_on_redis_call_response"].sort(),
  });
});

// proxy_set_property only raises Higress's buffer limit (set_decoder_buffer_limit): not needed on Envoy.
test("plain-Envoy build: ABI 0.2.1, the standard host calls only", () => {
  expect(shape("build/ai-quota-envoy.wasm")).toEqual({
    imports: STANDARD_IMPORTS.filter((i) => i !== "env.proxy_set_property"),
    exports: [...CALLBACKS, "proxy_abi_version_0_2_1"].sort(),
  });
});
