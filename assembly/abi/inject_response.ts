// Higress's way to send response body bytes the filter holds itself: the foreign function
// `inject_encoded_data_to_filter_chain` (higress-group/envoy, branch envoy-1.36:
// source/extensions/common/wasm/foreign.cc registers it under HIGRESS; context.cc
// Context::injectEncodedDataToFilterChain hands the bytes to
// encoder_callbacks_->injectEncodedDataToFilterChain, which passes them on to the filters after
// this one at once — inside the trailers callback, before the trailers). Its argument is the
// protobuf InjectEncodedDataToFilterChainArguments { string body = 1; bool endstream = 2; }.
// Reached with the standard proxy_call_foreign_function; a host without the function answers
// NotFound (cpp-host exports.cc call_foreign_function). Only the Higress build imports this file.
import { Status } from "./types";

@external("env", "proxy_call_foreign_function")
declare function proxy_call_foreign_function(
  namePtr: usize, nameSize: usize,
  argsPtr: usize, argsSize: usize,
  returnResultsPtr: usize, returnResultsSizePtr: usize,
): u32;

const NAME = "inject_encoded_data_to_filter_chain";

/** Sends the n bytes at p downstream now (end of stream not set). False when the host cannot. */
export function injectResponseBody(p: usize, n: i32): bool {
  if (n <= 0) return true;
  // Field 1 (length-delimited): tag 0x0a, the length as a varint, the bytes. endstream false: omitted.
  const args = new Uint8Array(n + 6);
  let at = 0;
  args[at++] = 0x0a;
  let len = <u32>n;
  while (len >= 0x80) {
    args[at++] = <u8>((len & 0x7f) | 0x80);
    len >>= 7;
  }
  args[at++] = <u8>len;
  memory.copy(args.dataStart + <usize>at, p, <usize>n);
  const name = String.UTF8.encode(NAME);
  // No result pointers: the function returns nothing, and cpp-host then allocates nothing in the VM.
  const status = proxy_call_foreign_function(changetype<usize>(name), <usize>name.byteLength, args.dataStart, <usize>(at + n), 0, 0);
  return status == Status.Ok;
}
