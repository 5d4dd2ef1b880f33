// Loading refuses what Envoy refuses: imports the host does not provide (Envoy's "missing
// import"), imports declared with another signature, and modules without the ABI marker.
import { PluginVm, inspectWasm } from "../../host";
import { PROBE_WASM } from "./helpers";
import { buildModule } from "./wasm-builder";

test("plain Envoy (no Redis host calls) refuses a module that imports them", async () => {
  await expect(PluginVm.load({ wasmPath: PROBE_WASM, withRedisImports: false })).rejects.toThrow(
    /Failed to load Wasm module due to a missing import: env\.proxy_redis_(init|call)/,
  );
});

test("an import the host does not have fails the load with Envoy's wording", async () => {
  const bytes = buildModule([{ module: "env", name: "abort", params: ["i32", "i32", "i32", "i32"], results: [] }]);
  await expect(PluginVm.load({ wasmBytes: bytes })).rejects.toThrow("missing import: env.abort");
  const wasi = buildModule([{ module: "wasi_snapshot_preview1", name: "fd_write", params: ["i32", "i32", "i32", "i32"], results: ["i32"] }]);
  await expect(PluginVm.load({ wasmBytes: wasi })).rejects.toThrow("missing import: wasi_snapshot_preview1.fd_write");
});

test("an import declared with another signature fails the load", async () => {
  const bytes = buildModule([{ module: "env", name: "proxy_log", params: ["i32", "i64"], results: ["i32"] }]);
  await expect(PluginVm.load({ wasmBytes: bytes })).rejects.toThrow(
    "import type mismatch for function env.proxy_log, want: (i32, i64) -> i32, but host exports: (i32, i32, i32) -> i32",
  );
});

test("a module without the proxy-wasm ABI marker is refused", async () => {
  await expect(PluginVm.load({ wasmBytes: buildModule([], { abiVersion: false }) })).rejects.toThrow(/ABI version/);
});

test("a minimal well-formed module loads, and its shape is read with signatures", async () => {
  const bytes = buildModule([{ module: "env", name: "proxy_log", params: ["i32", "i32", "i32"], results: ["i32"] }]);
  const shape = inspectWasm(bytes);
  expect(shape.imports).toEqual([{ module: "env", name: "proxy_log", kind: "function", sig: { params: ["i32", "i32", "i32"], results: ["i32"] } }]);
  expect(shape.exports.map((e) => e.name)).toEqual(["memory", "proxy_abi_version_0_2_1"]);
  const vm = await PluginVm.load({ wasmBytes: bytes });
  // No callbacks at all: Envoy's defaults apply (vm_start and configure succeed).
  expect(await vm.start()).toBe(true);
  await vm.close();
});
