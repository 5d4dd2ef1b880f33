// What Envoy checks when it loads a module, with its wording: the ABI version marker, every
// import provided by the host with the same signature ("missing import" otherwise), and the
// proxy_on_* callbacks exported with the signatures the host will call them with.
import { HostFunction } from "./abi-imports";
import { FuncSig, ModuleShape, formatSig, sameSig } from "./wasm-binary";

/** Which host the VM plays: upstream Envoy (proxy-wasm/proxy-wasm-cpp-host) or Higress (its fork). */
export type HostFlavour = "envoy" | "higress";

/** The ABI a module declares with its proxy_abi_version_* export. */
export type AbiVersion = "0_1_0" | "0_2_0" | "0_2_1" | "0_2_100";

/**
 * The markers each host knows, from src/bytecode_util.cc BytecodeUtil::getAbiVersion: upstream
 * cpp-host knows 0_1_0, 0_2_0 and 0_2_1; higress-group/proxy-wasm-cpp-host adds 0_2_100.
 */
const KNOWN_ABI: Record<HostFlavour, readonly AbiVersion[]> = {
  envoy: ["0_1_0", "0_2_0", "0_2_1"],
  higress: ["0_1_0", "0_2_0", "0_2_1", "0_2_100"],
};

const i32 = "i32" as const;
const sig = (params: number, results: number): FuncSig => ({ params: Array(params).fill(i32), results: Array(results).fill(i32) });

/** The callbacks a host calls, and how. A module may leave any of them out. */
export const CALLBACK_SIGNATURES: Record<string, FuncSig> = {
  _initialize: sig(0, 0),
  _start: sig(0, 0),
  proxy_abi_version_0_1_0: sig(0, 0),
  proxy_abi_version_0_2_0: sig(0, 0),
  proxy_abi_version_0_2_1: sig(0, 0),
  proxy_abi_version_0_2_100: sig(0, 0),
  proxy_on_memory_allocate: sig(1, 1),
  proxy_on_context_create: sig(2, 0),
  proxy_on_vm_start: sig(2, 1),
  proxy_on_configure: sig(2, 1),
  proxy_on_tick: sig(1, 0),
  proxy_on_request_headers: sig(3, 1),
  proxy_on_request_body: sig(3, 1),
  proxy_on_request_trailers: sig(2, 1),
  proxy_on_response_headers: sig(3, 1),
  proxy_on_response_body: sig(3, 1),
  proxy_on_response_trailers: sig(2, 1),
  proxy_on_done: sig(1, 1),
  proxy_on_log: sig(1, 0),
  proxy_on_delete: sig(1, 0),
  proxy_on_http_call_response: sig(5, 0),
  proxy_on_redis_call_response: sig(4, 0),
  proxy_on_queue_ready: sig(2, 0),
};

/**
 * The module's ABI as the host reads it: BytecodeUtil::getAbiVersion walks the export section in
 * order and takes the FIRST function export whose name it knows; names it does not know are
 * skipped. None known: WasmBase::load fails ("Missing or unknown Proxy-Wasm ABI version"). So a
 * module exporting only proxy_abi_version_0_2_100 does not load in upstream Envoy.
 */
export function detectAbiVersion(shape: ModuleShape, flavour: HostFlavour): AbiVersion {
  for (const e of shape.exports) {
    if (e.kind !== "function" || !e.name.startsWith("proxy_abi_version_")) continue;
    const v = e.name.slice("proxy_abi_version_".length) as AbiVersion;
    if (!KNOWN_ABI[flavour].includes(v)) continue;
    if (v === "0_1_0") throw new Error("Proxy-Wasm ABI 0.1.0 is not modelled by this host");
    return v;
  }
  const known = KNOWN_ABI[flavour].map((v) => `proxy_abi_version_${v}`).join(", ");
  throw new Error(`Failed to load Wasm module: Missing or unknown Proxy-Wasm ABI version (the ${flavour} host knows ${known})`);
}

/**
 * The host functions a module of this ABI may import (src/wasm.cc WasmBase::registerCallbacks):
 * proxy_continue_stream and proxy_close_stream from 0.2.0 on, proxy_get_log_level from 0.2.1 on
 * (and, in Higress's fork, for 0_2_100); everything else for every ABI.
 */
export function hostFunctionsForAbi(all: Record<string, HostFunction>, abi: AbiVersion): Record<string, HostFunction> {
  if (abi !== "0_2_0") return all;
  const { proxy_get_log_level: _omitted, ...rest } = all;
  return rest;
}

export function checkCallbacks(shape: ModuleShape): void {
  if (!shape.exports.some((e) => e.name === "memory" && e.kind === "memory")) {
    throw new Error("Wasm module does not export its memory as \"memory\"");
  }
  for (const e of shape.exports) {
    const want = CALLBACK_SIGNATURES[e.name];
    if (want === undefined || e.sig === undefined || sameSig(want, e.sig)) continue;
    throw new Error(`Bad function signature for: ${e.name}, want: ${formatSig(want)}, but the module exports: ${formatSig(e.sig)}`);
  }
}

/** The `env` object for instantiation; throws like Envoy when the module needs what is not there. */
export function linkImports(
  shape: ModuleShape,
  functions: Record<string, HostFunction>,
  trace?: (name: string, args: Array<number | bigint>, result: number) => void,
): Record<string, HostFunction["impl"]> {
  const env: Record<string, HostFunction["impl"]> = {};
  for (const imp of shape.imports) {
    const fn = imp.module === "env" && imp.kind === "function" ? functions[imp.name] : undefined;
    if (fn === undefined) throw new Error(`Failed to load Wasm module due to a missing import: ${imp.module}.${imp.name}`);
    if (imp.sig !== undefined && !sameSig(imp.sig, fn.sig)) {
      throw new Error(`Failed to load Wasm module due to an import type mismatch for function ${imp.module}.${imp.name}, ` +
        `want: ${formatSig(imp.sig)}, but host exports: ${formatSig(fn.sig)}`);
    }
    const impl = fn.impl;
    env[imp.name] = trace === undefined ? impl : (...args) => {
      const result = impl(...args);
      trace(imp.name, args, result);
      return result;
    };
  }
  return env;
}
