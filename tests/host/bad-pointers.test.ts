// Host functions called directly with bad arguments, as a buggy plugin might: each answers
// with Envoy's status (InvalidMemoryAccess, BadArgument, NotFound…) and the host never throws.
import { PluginVm, Status, encodeCommand, serializePairs } from "../../host";
import { get, post, probeBytes } from "./helpers";

let vm: PluginVm;
const OOB = 0xfffffff0;

beforeAll(async () => {
  // 0_2_100, so that Higress keeps the probe's header StopIteration (the map stays reachable).
  vm = await PluginVm.load({ wasmBytes: probeBytes("0_2_100"), redis: { resolve: () => ({ host: "127.0.0.1", port: 1 }) } });
  expect(await vm.start("vm-config", "")).toBe(true);
});

afterAll(() => vm.close());

afterEach(() => expect(vm.trapped).toBeNull());

function call(context: number, name: string, ...args: Array<number | bigint>): number {
  return vm.withContext(context, () => vm.hostFunctions[name].impl(...args));
}

/** Places bytes in the plugin's memory (through its own allocator). */
function put(data: string | Buffer): [number, number] {
  const b = typeof data === "string" ? Buffer.from(data) : data;
  const ptr = vm.memory.alloc(Math.max(b.length, 1));
  vm.memory.write(ptr, b);
  return [ptr, b.length];
}

function slot(): number {
  return vm.memory.alloc(8);
}

/** The bytes a host call returned through its (pointer, size) out-parameters. */
function returned(ptrSlot: number, sizeSlot: number): string {
  return vm.memory.read(vm.memory.readU32(ptrSlot)!, vm.memory.readU32(sizeSlot)!)!.toString();
}

const root = () => vm.rootContextId;

test("logging and time: out-of-bounds pointers and unknown levels", () => {
  expect(call(root(), "proxy_log", 2, OOB, 10)).toBe(Status.InvalidMemoryAccess);
  expect(call(root(), "proxy_log", 2, 0, 0x7fffffff)).toBe(Status.InvalidMemoryAccess);
  expect(call(root(), "proxy_log", 9, ...put("x"))).toBe(Status.BadArgument);
  expect(call(root(), "proxy_get_log_level", OOB)).toBe(Status.InvalidMemoryAccess);
  expect(call(root(), "proxy_get_current_time_nanoseconds", vm.memoryBytes() - 4)).toBe(Status.InvalidMemoryAccess);
});

test("buffers: unknown types, bad ranges, absent and read-only buffers", () => {
  const [p, s] = [slot(), slot()];
  expect(call(root(), "proxy_get_buffer_bytes", 42, 0, 10, p, s)).toBe(Status.BadArgument);
  expect(call(root(), "proxy_get_buffer_bytes", 6, 0, 100, OOB, s)).toBe(Status.InvalidMemoryAccess);
  expect(call(root(), "proxy_get_buffer_bytes", 6, 3, 100, p, s)).toBe(Status.Ok);
  expect(returned(p, s)).toBe("config");
  // cpp-host get_buffer_bytes: a start past the end reads nothing and answers (0, 0).
  vm.memory.writeU32(p, 77);
  expect(call(root(), "proxy_get_buffer_bytes", 6, 50, 10, p, s)).toBe(Status.Ok);
  expect([vm.memory.readU32(p), vm.memory.readU32(s)]).toEqual([0, 0]);
  expect(call(root(), "proxy_get_buffer_bytes", 6, 50, 10, OOB, s)).toBe(Status.InvalidMemoryAccess);
  // The plugin configuration is only there during proxy_on_configure; a Redis reply only in its callback.
  expect(call(root(), "proxy_get_buffer_bytes", 7, 0, 10, p, s)).toBe(Status.NotFound);
  expect(call(root(), "proxy_get_buffer_bytes", 9, 0, 10, p, s)).toBe(Status.NotFound);
  expect(call(root(), "proxy_set_buffer_bytes", 6, 0, 0, ...put("x"))).toBe(Status.BadArgument);
  // No body at hand: Envoy's Buffer wraps a null pointer and BufferBase::copyFrom says BadArgument.
  expect(call(root(), "proxy_set_buffer_bytes", 0, 0, 0, ...put("x"))).toBe(Status.BadArgument);
  expect(call(root(), "proxy_get_buffer_status", 6, OOB, s)).toBe(Status.InvalidMemoryAccess);
});

test("header maps: wrong map types, unreachable maps, bad pointers, malformed serializations", () => {
  const [p, s] = [slot(), slot()];
  const [k, kl] = put(":path");
  expect(call(root(), "proxy_get_header_map_value", 99, k, kl, p, s)).toBe(Status.BadArgument);
  expect(call(root(), "proxy_get_header_map_value", 0, k, kl, p, s)).toBe(Status.BadArgument);
  expect(call(root(), "proxy_get_header_map_value", 0, OOB, 4, p, s)).toBe(Status.InvalidMemoryAccess);
  expect(call(root(), "proxy_get_header_map_pairs", 0, p, s)).toBe(Status.Ok); // Envoy: an empty map

  // A stream held at its request headers: the map is reachable.
  const stream = vm.newStream({ autoFinish: false });
  stream.requestHeaders(post("/buffer"));
  const id = stream.id;
  expect(call(id, "proxy_get_header_map_value", 0, k, kl, p, s)).toBe(Status.Ok);
  expect(returned(p, s)).toBe("/buffer");
  expect(call(id, "proxy_get_header_map_value", 0, k, kl, OOB, s)).toBe(Status.InvalidMemoryAccess);
  expect(call(id, "proxy_get_header_map_value", 0, ...put("x-absent"), p, s)).toBe(Status.NotFound);
  expect(call(id, "proxy_get_header_map_value", 2, k, kl, p, s)).toBe(Status.BadArgument); // no response yet
  expect(call(id, "proxy_add_header_map_value", 0, ...put("x-a"), OOB, 3)).toBe(Status.InvalidMemoryAccess);
  expect(call(id, "proxy_add_header_map_value", 6, ...put("x-a"), ...put("v"))).toBe(Status.BadArgument);
  expect(call(id, "proxy_set_header_map_pairs", 0, OOB, 16)).toBe(Status.InvalidMemoryAccess);
  const truncated = serializePairs([["x-a", "b"]]).subarray(0, 15);
  expect(call(id, "proxy_set_header_map_pairs", 0, ...put(truncated))).toBe(Status.BadArgument);
  const bogusCount = Buffer.alloc(8);
  bogusCount.writeUInt32LE(1000, 0);
  expect(call(id, "proxy_set_header_map_pairs", 0, ...put(bogusCount))).toBe(Status.BadArgument);
  expect(call(id, "proxy_get_header_map_size", 0, OOB)).toBe(Status.InvalidMemoryAccess);
  // Nothing above changed the map.
  stream.requestBody("xy", true);
  expect(stream.upstream.headers).toEqual([...post("/buffer"), ["x-body-sizes", "2"], ["x-body-read", "2"]]);
  stream.finish();
});

test("stream control and contexts", () => {
  expect(call(root(), "proxy_set_effective_context", 999)).toBe(Status.BadArgument);
  expect(call(root(), "proxy_continue_stream", 9)).toBe(Status.BadArgument);
  expect(call(root(), "proxy_close_stream", 9)).toBe(Status.BadArgument);
  expect(call(root(), "proxy_continue_stream", 3)).toBe(Status.Unimplemented);
  expect(call(root(), "proxy_done")).toBe(Status.NotFound);
  const [d, dl] = put("details");
  const [h, hl] = put(serializePairs([]));
  expect(call(root(), "proxy_send_local_response", 403, d, dl, OOB, 5, h, hl, -1)).toBe(Status.InvalidMemoryAccess);
  expect(call(root(), "proxy_send_local_response", 403, d, dl, ...put("b"), ...put(Buffer.from([1, 0])), -1)).toBe(Status.BadArgument);
});

test("metrics: unknown types, bad pointers, Envoy's rules per type", () => {
  const id = slot();
  expect(call(root(), "proxy_define_metric", 5, ...put("m"), id)).toBe(Status.BadArgument);
  expect(call(root(), "proxy_define_metric", 0, OOB, 3, id)).toBe(Status.InvalidMemoryAccess);
  expect(call(root(), "proxy_define_metric", 0, ...put("m"), OOB)).toBe(Status.InvalidMemoryAccess);
  expect(call(root(), "proxy_define_metric", 0, ...put("bad_pointer_counter"), id)).toBe(Status.Ok);
  const counter = vm.memory.readU32(id)!;
  expect(counter & 3).toBe(0);
  expect(call(root(), "proxy_increment_metric", counter, 0n)).toBe(Status.BadArgument);
  expect(call(root(), "proxy_increment_metric", counter, -1n)).toBe(Status.BadArgument);
  expect(call(root(), "proxy_increment_metric", 4000, 1n)).toBe(Status.NotFound);
  expect(call(root(), "proxy_record_metric", 4001, 1n)).toBe(Status.NotFound);
  expect(call(root(), "proxy_get_metric", 2, slot())).toBe(Status.BadArgument); // histograms cannot be read
  expect(call(root(), "proxy_get_metric", counter, OOB)).toBe(Status.InvalidMemoryAccess);
});

test("properties: bad pointers, unknown names, no filter state outside a stream", () => {
  const [p, s] = [slot(), slot()];
  expect(call(root(), "proxy_get_property", OOB, 4, p, s)).toBe(Status.InvalidMemoryAccess);
  expect(call(root(), "proxy_get_property", ...put("no_such"), p, s)).toBe(Status.NotFound);
  expect(call(root(), "proxy_get_property", ...put("plugin_name"), OOB, s)).toBe(Status.InvalidMemoryAccess);
  expect(call(root(), "proxy_get_property", ...put("plugin_name"), p, s)).toBe(Status.Ok);
  expect(returned(p, s)).toBe("ai-quota");
  expect(call(root(), "proxy_set_property", ...put("x"), ...put("y"))).toBe(Status.NotFound);
  expect(call(root(), "proxy_set_property", ...put("x"), OOB, 1)).toBe(Status.InvalidMemoryAccess);
});

test("callouts: bad pointers and malformed requests are refused before anything is sent", () => {
  const [c, cl] = put("outbound|6379||redis.static");
  expect(call(root(), "proxy_redis_call", c, cl, ...put(encodeCommand(["PING"])), OOB)).toBe(Status.InvalidMemoryAccess);
  expect(call(root(), "proxy_redis_call", c, cl, ...put("PING\r\n"), slot())).toBe(Status.BadArgument);
  expect(call(root(), "proxy_redis_call", OOB, 4, ...put(encodeCommand(["PING"])), slot())).toBe(Status.InvalidMemoryAccess);
  expect(call(root(), "proxy_redis_init", OOB, 4, 0, 0, 0, 0, 100)).toBe(Status.InvalidMemoryAccess);
  const [u, ul] = put("probe_http");
  const [hd, hdl] = put(serializePairs([[":method", "GET"], [":path", "/"], [":authority", "x"]]));
  const [e, el] = put(serializePairs([]));
  expect(call(root(), "proxy_http_call", u, ul, hd, hdl, 0, 0, e, el, 100, OOB)).toBe(Status.InvalidMemoryAccess);
  expect(call(root(), "proxy_http_call", u, ul, ...put(Buffer.from([9, 0, 0])), 0, 0, e, el, 100, slot())).toBe(Status.BadArgument);
  expect(vm.redisCalls).toHaveLength(0);
  expect(vm.httpCalls).toHaveLength(0);
});

test("shared data: absent keys, compare-and-swap", () => {
  const [p, s, cas] = [slot(), slot(), slot()];
  expect(call(root(), "proxy_get_shared_data", ...put("k"), p, s, cas)).toBe(Status.NotFound);
  expect(call(root(), "proxy_set_shared_data", ...put("k"), ...put("v1"), 0)).toBe(Status.Ok);
  expect(call(root(), "proxy_get_shared_data", ...put("k"), p, s, cas)).toBe(Status.Ok);
  expect(returned(p, s)).toBe("v1");
  const token = vm.memory.readU32(cas)!;
  expect(call(root(), "proxy_set_shared_data", ...put("k"), ...put("v2"), token + 100)).toBe(Status.CasMismatch);
  expect(call(root(), "proxy_set_shared_data", ...put("k"), ...put("v2"), token)).toBe(Status.Ok);
});

test("foreign functions: bad pointers, unknown names, a broken argument message", () => {
  const [a, al] = put(Buffer.from([0x0a, 1, 0x78]));
  expect(call(root(), "proxy_call_foreign_function", OOB, 8, a, al, 0, 0)).toBe(Status.InvalidMemoryAccess);
  expect(call(root(), "proxy_call_foreign_function", ...put("inject_encoded_data_to_filter_chain"), OOB, 8, 0, 0)).toBe(Status.InvalidMemoryAccess);
  expect(call(root(), "proxy_call_foreign_function", ...put("compress"), a, al, 0, 0)).toBe(Status.NotFound);
  expect(call(root(), "proxy_call_foreign_function", ...put("inject_encoded_data_to_filter_chain"), ...put(Buffer.from([0x0a, 9])), 0, 0)).toBe(Status.BadArgument);
  // Without a stream (the root context): Ok, nothing sent (Context::injectEncodedDataToFilterChain).
  expect(call(root(), "proxy_call_foreign_function", ...put("inject_encoded_data_to_filter_chain"), a, al, slot(), OOB)).toBe(Status.InvalidMemoryAccess);
  expect(call(root(), "proxy_call_foreign_function", ...put("inject_encoded_data_to_filter_chain"), a, al, 0, 0)).toBe(Status.Ok);
});

test("after all of that the plugin still serves requests", async () => {
  const r = await vm.newStream().run({ request: { headers: get("/pass") } });
  expect(r.status).toBe(200);
});
