// The ABI end to end: the probe plugin (assembly/testing/abi_probe.ts) compiled to wasm, run by
// the host, each request path exercising one part of it.
import { LogLevel, ManualClock, PluginVm, RedisServer, StreamPart, headerValue, startRedis } from "../../host";
import { get, post, probeVm } from "./helpers";

let redis: RedisServer;
let vm: PluginVm;

beforeAll(async () => {
  redis = await startRedis();
  vm = await probeVm({ redis });
});

afterAll(async () => {
  await vm?.close();
  await redis?.stop();
});

afterEach(() => {
  expect(vm.trapped).toBeNull();
});

test("a request passes upstream with the plugin's header changes, and the response comes back", async () => {
  const stream = vm.newStream();
  const result = await stream.run({
    request: { headers: get("/pass", [["X-Replace", "old"], ["x-remove", "gone"], ["X-Keep", "Mixed Value"]]) },
    response: (up) => ({ headers: [[":status", "200"], ["content-type", "text/plain"]], body: `echo ${up.headers.length}` }),
  });
  expect(result.status).toBe(200);
  expect(result.local).toBeNull();
  const up = result.upstream!;
  expect(headerValue(up.headers, "x-probe")).toBe("pass");
  expect(headerValue(up.headers, "x-replace")).toBe("new");
  expect(headerValue(up.headers, "x-remove")).toBeUndefined();
  // Names arrive lower-cased, values untouched, as from Envoy's codecs.
  expect(up.headers).toContainEqual(["x-keep", "Mixed Value"]);
  expect(headerValue(result.headers, "x-probe-response")).toBe("seen");
  expect(result.text).toBe(`echo ${up.headers.length}`);
  // Finished like Envoy: proxy_on_log ran and could still read the request headers.
  expect(stream.finished).toBe(true);
  expect(vm.logText()).toContain("probe: log /pass");
});

test("a local response has its status, body, headers and details, and runs through the response callbacks", async () => {
  const stream = vm.newStream();
  const result = await stream.run({ request: { headers: get("/local") } });
  expect(result.upstream).toBeNull();
  expect(result.status).toBe(418);
  expect(result.text).toBe("I'm a teapot");
  expect(result.local).toMatchObject({ status: 418, details: "probe_local_reply" });
  expect(result.local!.headers).toContainEqual(["x-probe", "local"]);
  // The plugin's content-type wins over Envoy's text/plain default; content-length is Envoy's.
  expect(headerValue(result.headers, "content-type")).toBe("text/plain; charset=utf-8");
  expect(headerValue(result.headers, "content-length")).toBe("12");
  expect(stream.filterState("wasm.probe_response_status")?.toString()).toBe("418");
  expect(stream.upstream.headers).toBeNull();
});

test("nothing goes upstream after a local response, even data the client still sends", async () => {
  const stream = vm.newStream();
  stream.requestHeaders(post("/local"));
  stream.requestBody("late data", true);
  await stream.settled();
  expect(stream.upstream.headers).toBeNull();
  expect(stream.upstream.body.length).toBe(0);
  expect(stream.downstream.ended).toBe(true);
});

test("header maps survive a round trip through the plugin's serializer and the host's", async () => {
  const sent: Array<[string, string]> = [
    ["x-unicode", "héllo ✓ 日本"],
    ["x-empty", ""],
    ["x-twice", "1"],
    ["x-twice", "2"],
    ["x-long", "v".repeat(5000)],
  ];
  const result = await vm.newStream().run({ request: { headers: get("/roundtrip", sent) } });
  const expected = [...get("/roundtrip", sent), ["x-count", String(get("/roundtrip", sent).length)]];
  expect(result.upstream!.headers).toEqual(expected);
});

test.each([
  // Higress's Envoy (envoy-1.27): after StopIterationAndBuffer a callback sees what was held before
  // its own chunk, which joins the held body only after the answer.
  { held: "before the chunk", options: { higressEnvoy: "1.27" as const }, sizes: "3,3,7", read: "7", responseSizes: "2,2" },
  // Envoy >= 1.32: the chunk joins the held body first.
  { held: "with the chunk", options: { heldBodyIncludesChunk: true }, sizes: "3,7,9", read: "9", responseSizes: "2,5" },
  // Higress 2.2 (envoy-1.36, the Higress default): as Envoy >= 1.32.
  { held: "with the chunk (Higress 2.2)", options: {}, sizes: "3,7,9", read: "9", responseSizes: "2,5" },
])("a buffered body: each callback is told the size of the data held $held, and the plugin can rewrite it", async ({ options, sizes, read, responseSizes }) => {
  const own = await probeVm({ redis, vm: options });
  try {
    const result = await own.newStream().run({
      request: { headers: post("/buffer"), body: ["abc", "defg", "hi"] },
      response: () => ({ headers: [[":status", "200"]], body: ["12", "345"] }),
    });
    const up = result.upstream!;
    expect(headerValue(up.headers, "x-body-sizes")).toBe(sizes);
    expect(headerValue(up.headers, "x-body-read")).toBe(read);
    // The prefix lands at the front whichever chunks were held when the plugin wrote it.
    expect(up.body.toString()).toBe("seen:abcdefghi");
    expect(headerValue(result.headers, "x-response-sizes")).toBe(responseSizes);
    expect(result.text).toBe("12345");
  } finally {
    await own.close();
  }
});

test.each([
  { envoy: "1.27" as const, sizes: "3,3" },
  { envoy: "1.36" as const, sizes: "3,5" },
])("headers held by StopIteration stay back while the body is buffered (Higress on envoy-$envoy, ABI 0_2_100)", async ({ envoy, sizes }) => {
  const own = await probeVm({ redis, vm: { higressEnvoy: envoy } });
  const stream = own.newStream({ autoFinish: false });
  stream.requestHeaders(post("/buffer"));
  stream.requestBody("abc");
  expect(stream.upstream.headers).toBeNull();
  expect(stream.paused.request).toBe("headers");
  stream.requestBody("de", true);
  expect(headerValue(stream.upstream.headers, "x-body-sizes")).toBe(sizes);
  expect(stream.upstream.body.toString()).toBe("seen:abcde");
  expect(stream.upstream.ended).toBe(true);
  stream.finish();
  await own.close();
});

test("StopAllIteration holds everything until proxy_continue_stream, then shows the held data in one callback", async () => {
  const stream = vm.newStream();
  stream.requestHeaders(post("/stopall"));
  stream.requestBody("aa");
  stream.requestBody("bbb", true);
  // The Redis PING is in flight: nothing passed, the plugin heard of no body yet.
  expect(stream.paused.request).toBe("all");
  expect(stream.upstream.headers).toBeNull();
  expect(stream.filterState("wasm.probe_sizes")).toBeUndefined();
  await stream.settled();
  expect(stream.upstream.headers).not.toBeNull();
  expect(stream.upstream.body.toString()).toBe("aabbb");
  expect(stream.filterState("wasm.probe_sizes")?.toString()).toBe("5e");
});

test("finish() mid-stream models a client disconnect: log, done and delete run, and the reset is told", () => {
  const parts: StreamPart[] = [];
  const stream = vm.newStream({ onDownstream: (p) => parts.push(p) });
  stream.requestHeaders(post("/buffer"));
  stream.requestBody("half");
  stream.finish("client_disconnect");
  expect(stream.finished).toBe(true);
  expect(stream.resetReason).toBe("client_disconnect");
  expect(stream.upstream.headers).toBeNull();
  expect(parts).toEqual([{ kind: "reset", reason: "client_disconnect" }]);
  expect(vm.logs.slice(-3).map((l) => l.message)).toEqual(["probe: log /buffer", `probe: done ${stream.id}`, `probe: delete ${stream.id}`]);
  stream.requestBody("rest", true); // the client's late data goes nowhere
  expect(stream.upstream.body.length).toBe(0);
});

test("a gateway can take each part as it passes, without the host keeping bodies", async () => {
  const up: StreamPart[] = [];
  const down: StreamPart[] = [];
  const stream = vm.newStream({ record: false, onUpstream: (p) => up.push(p), onDownstream: (p) => down.push(p) });
  await stream.run({
    request: { headers: post("/pass"), body: ["a", "b"] },
    response: () => ({ headers: [[":status", "200"]], body: ["x", "y"], trailers: [["grpc-status", "0"]] }),
  });
  expect(up.map((p) => p.kind)).toEqual(["headers", "data", "data"]);
  expect(up.filter((p) => p.kind === "data").map((p) => (p.kind === "data" ? `${p.data}${p.endOfStream ? "!" : ""}` : ""))).toEqual(["a", "b!"]);
  expect(down.map((p) => p.kind)).toEqual(["headers", "data", "data", "trailers"]);
  expect(stream.downstream.body.length).toBe(0);
  expect(stream.downstream.trailers).toEqual([["grpc-status", "0"]]);
});

test("properties: built-in attributes, and filter state set by the test or by the plugin", async () => {
  const ask = async (name: string, opts = {}, setup?: (s: ReturnType<PluginVm["newStream"]>) => void) => {
    const s = vm.newStream(opts);
    setup?.(s);
    const r = await s.run({ request: { headers: get(`/property?name=${name}`) } });
    return { status: r.status, text: r.text };
  };
  expect(await ask("request.path")).toEqual({ status: 200, text: "/property?name=request.path" });
  expect(await ask("request.method")).toEqual({ status: 200, text: "GET" });
  expect(await ask("request.host")).toEqual({ status: 200, text: "gateway.test" });
  expect(await ask("source.address")).toEqual({ status: 200, text: "127.0.0.1:50000" });
  expect(await ask("source.address", { sourceAddress: "10.1.2.3:4567" })).toEqual({ status: 200, text: "10.1.2.3:4567" });
  expect(await ask("plugin_name")).toEqual({ status: 200, text: "ai-quota" });
  const log = JSON.stringify({ input_token: 12, output_token: 30, model: "m" });
  expect(await ask("ai_log", {}, (s) => s.setFilterState("wasm.ai_log", log))).toEqual({ status: 200, text: log });
  expect(await ask("ai_log", { filterState: { "wasm.ai_log": "{}" } })).toEqual({ status: 200, text: "{}" });
  expect((await ask("no_such_thing")).status).toBe(404);

  const s = vm.newStream();
  await s.run({ request: { headers: get("/property/set?name=quota_note&value=kept") } });
  expect(s.filterState("wasm.quota_note")?.toString()).toBe("kept");
});

test("source.port is an 8-byte little-endian integer, as Envoy encodes integers", async () => {
  const r = await vm.newStream({ sourceAddress: "10.0.0.1:8443" }).run({ request: { headers: get("/property?name=source.port") } });
  expect(r.body.length).toBe(8);
  expect(r.body.readBigInt64LE()).toBe(8443n);
});

test("metrics: counters, gauges and histograms by name; ticks driven by the test", async () => {
  const before = vm.metrics().probe_requests_total as number;
  await vm.newStream().run({ request: { headers: post("/other"), body: "12345" } });
  expect(vm.metrics().probe_requests_total).toBe(before + 1);
  expect(vm.metrics().probe_body_bytes).toContain(5);
  expect(vm.tickPeriodMs).toBe(1000);
  const ticks = vm.metrics().probe_ticks as number;
  vm.tick();
  vm.tick();
  expect(vm.metrics().probe_ticks).toBe(ticks + 2);
});

test("log lines are recorded with their level", async () => {
  await vm.newStream().run({ request: { headers: get("/log") } });
  expect(vm.logs).toContainEqual(expect.objectContaining({ level: LogLevel.Warn, message: "probe: warn line" }));
  expect(vm.logs).toContainEqual(expect.objectContaining({ level: LogLevel.Debug, message: "probe: debug line" }));
});

test("the clock is controllable", async () => {
  const clock = new ManualClock(Date.UTC(2030, 0, 1));
  const timed = await probeVm({ vm: { clock } });
  try {
    const at = async () => (await timed.newStream().run({ request: { headers: get("/time") } })).text;
    expect(await at()).toBe(String(BigInt(Date.UTC(2030, 0, 1)) * 1_000_000n));
    clock.advance(1500);
    expect(await at()).toBe(String(BigInt(Date.UTC(2030, 0, 1) + 1500) * 1_000_000n));
  } finally {
    await timed.close();
  }
});

test("memoryBytes reports the size of linear memory", () => {
  expect(vm.memoryBytes()).toBeGreaterThan(0);
  expect(vm.memoryBytes() % 65536).toBe(0);
});

test("a trap fails the VM and every stream on it, as in Envoy", async () => {
  const failing = await probeVm();
  try {
    const waiting = failing.newStream({ autoFinish: false });
    waiting.requestHeaders(post("/buffer"));
    waiting.requestBody("partial");
    expect(waiting.paused.request).toBe("headers");

    const trapping = await failing.newStream().run({ request: { headers: get("/trap") } });
    expect(failing.trapped?.message).toMatch(/wasm trap in proxy_on_request_headers/);
    expect(trapping.status).toBe(503);
    expect(trapping.local?.details).toBe("wasm_fail_stream");
    // The stream that was waiting is failed too, and so is every new one.
    expect(waiting.localResponse?.status).toBe(503);
    expect(waiting.finished).toBe(true);
    const later = await failing.newStream().run({ request: { headers: get("/pass") } });
    expect(later.status).toBe(503);
    expect(later.upstream).toBeNull();
  } finally {
    await failing.close();
  }
});

test("fail_open lets streams through untouched once the VM has failed", async () => {
  const open = await probeVm({ vm: { failOpen: true } });
  try {
    await open.newStream().run({ request: { headers: get("/trap") } });
    expect(open.trapped).not.toBeNull();
    const r = await open.newStream().run({ request: { headers: get("/pass") } });
    expect(r.status).toBe(200);
    expect(headerValue(r.upstream!.headers, "x-probe")).toBeUndefined();
  } finally {
    await open.close();
  }
});
