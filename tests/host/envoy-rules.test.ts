// The host's Envoy and Higress rules, each checked end to end with the probe plugin's "/script"
// path (answers and actions from the query string; see assembly/testing/_probe.ts). The source
// each rule follows is cited in host/ (filter-direction.ts, stream.ts, vm.ts, module-link.ts).
import { HeaderPairs, PluginVm, PluginVmOptions, RedisServer, Status, Stream, StreamOptions, headerValue, startRedis } from "../../host";
import { parseBufferLimit } from "../../host/stream";
import { CLUSTER, post, probeBytes, probeVm } from "./helpers";
import { buildModule } from "./wasm-builder";

let redis: RedisServer;
const vms: PluginVm[] = [];

beforeAll(async () => {
  redis = await startRedis();
});

afterAll(async () => {
  await Promise.all(vms.map((v) => v.close()));
  await redis?.stop();
});

/** A probe VM: Higress (ABI 0_2_100 unless `abi` says 0_2_1) or plain Envoy (`flavour: "envoy"`). */
async function vmFor(options: Partial<PluginVmOptions> = {}, abi?: "0_2_1" | "0_2_100"): Promise<PluginVm> {
  const envoy = options.flavour === "envoy";
  const v = await probeVm({ redis: envoy ? undefined : redis, abi, vm: options });
  vms.push(v);
  return v;
}

const OK: HeaderPairs = [[":status", "200"]];

/** Sends a request to "/script?<query>" in chunks (the last one ends the stream); nothing else. */
function send(v: PluginVm, query: string, chunks: string[], options: StreamOptions = {}): Stream {
  const s = v.newStream({ autoFinish: false, ...options });
  s.requestHeaders(post(`/script?${query}`), chunks.length === 0);
  chunks.forEach((c, i) => s.requestBody(c, i === chunks.length - 1));
  return s;
}

/** What the plugin saw in its request (or response) body callbacks: "size[e]:bytes" each. */
function seen(s: Stream, response = false): string[] {
  return (s.filterState(response ? "wasm.probe_rseen" : "wasm.probe_seen")?.toString() ?? "").split("|").filter((x) => x !== "");
}

/** A host call made as if from a callback of the stream (an asynchronous callback, as after a Redis reply). */
function hostCall(v: PluginVm, s: Stream, name: string, ...args: number[]): number {
  return v.withContext(s.id, () => v.hostFunctions[name].impl(...args));
}

function put(v: PluginVm, text: string): [number, number] {
  const b = Buffer.from(text);
  const ptr = v.memory.alloc(Math.max(b.length, 1));
  v.memory.write(ptr, b);
  return [ptr, b.length];
}

const CONTINUE_REQUEST = ["proxy_continue_stream", 0] as const;

describe("header StopIteration (cpp-host convertVmCallResultToFilterHeadersStatus)", () => {
  test("Envoy, ABI 0.2.1: StopIteration is StopAllIterationAndWatermark; the body waits unseen until proxy_continue_stream", async () => {
    const v = await vmFor({ flavour: "envoy" });
    expect([v.flavour, v.abiVersion]).toEqual(["envoy", "0_2_1"]);
    const s = send(v, "h=1", ["abc", "de"]);
    expect(s.paused.request).toBe("all");
    expect(seen(s)).toEqual([]);
    expect(s.held.request).toBe(5);
    expect(s.upstream.headers).toBeNull();
    hostCall(v, s, ...CONTINUE_REQUEST);
    // The resume hands the held data to the plugin as one chunk.
    expect(seen(s)).toEqual(["5e:abcde"]);
    expect(s.upstream.body.toString()).toBe("abcde");
    expect(s.upstream.ended).toBe(true);
    expect(v.violations).toEqual([]);
  });

  test.each([
    { host: "Envoy with allow_on_headers_stop_iteration", options: { flavour: "envoy", allowOnHeadersStopIteration: true } as Partial<PluginVmOptions>, abi: undefined },
    { host: "Higress, ABI 0_2_100", options: {}, abi: "0_2_100" as const },
  ])("$host: StopIteration holds only the headers; body callbacks come, and a body Continue lets everything through", async ({ options, abi }) => {
    const v = await vmFor(options, abi);
    const s = send(v, "h=1&b=2,0", ["abc", "de"]);
    expect(seen(s)).toEqual(["3:abc", "2e:de"]);
    expect(s.upstream.body.toString()).toBe("abcde");
    expect(s.upstream.ended).toBe(true);
  });

  test("Higress, ABI 0_2_1: StopIteration is translated there too", async () => {
    const v = await vmFor({}, "0_2_1");
    const s = send(v, "h=1", ["abc"]);
    expect(s.paused.request).toBe("all");
    expect(seen(s)).toEqual([]);
  });

  test("the response headers follow the same rule (Higress decides on the module's request-header ABI)", async () => {
    for (const [abi, expected] of [["0_2_100", "headers"], ["0_2_1", "all"]] as const) {
      const v = await vmFor({}, abi);
      const s = send(v, "rh=1", []);
      s.responseHeaders(OK);
      expect(s.paused.response).toBe(expected);
      s.responseBody("xy");
      expect(seen(s, true)).toEqual(expected === "headers" ? ["2:xy"] : []);
      expect(s.downstream.body.toString()).toBe(expected === "headers" ? "xy" : "");
    }
  });

  test("Higress translates only when the module has a 0.1/0.2 request-header callback (on_request_headers_abi_01_/_02_)", async () => {
    const run = async (callbacks: Record<string, number>) => {
      const v = await PluginVm.load({ wasmBytes: buildModule([], { abiVersions: ["0_2_1"], callbacks }) });
      vms.push(v);
      await v.start();
      const s = v.newStream({ autoFinish: false });
      s.requestHeaders(post("/"), true);
      s.responseHeaders(OK);
      return s.paused.response;
    };
    expect(await run({ proxy_on_response_headers: 1 })).toBe("headers");
    expect(await run({ proxy_on_request_headers: 0, proxy_on_response_headers: 1 })).toBe("all");
  });

  test("numbers past StopAllIterationAndWatermark stop everything; ContinueAndEndStream is plain Continue", async () => {
    const v = await vmFor();
    expect(send(v, "h=9", ["x"]).paused.request).toBe("all");
    const s = send(v, "h=2", ["x"]);
    expect(seen(s)).toEqual(["1e:x"]);
    expect(s.upstream.body.toString()).toBe("x");
  });
});

describe("loading (cpp-host bytecode_util.cc getAbiVersion, wasm.cc registerCallbacks)", () => {
  test("the first known ABI marker wins; plain Envoy does not know 0_2_100 and skips it", async () => {
    const first = async (markers: string[], options: Partial<PluginVmOptions>) => {
      const v = await PluginVm.load({ wasmBytes: buildModule([], { abiVersions: markers }), ...options });
      return v.abiVersion;
    };
    expect(await first(["0_2_100", "0_2_1"], {})).toBe("0_2_100");
    expect(await first(["0_2_1", "0_2_100"], {})).toBe("0_2_1");
    expect(await first(["0_2_100", "0_2_1"], { flavour: "envoy" })).toBe("0_2_1");
    expect(await first(["0_3_0", "0_2_0"], {})).toBe("0_2_0");
  });

  test("a module declaring only 0_2_100 does not load in plain Envoy", async () => {
    await expect(PluginVm.load({ wasmBytes: buildModule([], { abiVersions: ["0_2_100"] }), flavour: "envoy" })).rejects.toThrow(
      /Missing or unknown Proxy-Wasm ABI version/,
    );
    await expect(PluginVm.load({ wasmBytes: probeBytes("0_2_100", true), flavour: "envoy" })).rejects.toThrow(/ABI version/);
  });

  test("proxy_get_log_level exists from ABI 0.2.1 on", async () => {
    const logLevel = [{ module: "env", name: "proxy_get_log_level", params: ["i32" as const], results: ["i32" as const] }];
    await expect(PluginVm.load({ wasmBytes: buildModule(logLevel, { abiVersions: ["0_2_0"] }) })).rejects.toThrow(
      "missing import: env.proxy_get_log_level",
    );
    await expect(PluginVm.load({ wasmBytes: buildModule(logLevel, { abiVersions: ["0_2_100"] }) })).resolves.toBeInstanceOf(PluginVm);
  });

  test("options that no real host has are refused", async () => {
    const bytes = buildModule([]);
    await expect(PluginVm.load({ wasmBytes: bytes, flavour: "envoy", withRedisImports: true })).rejects.toThrow(/no Redis host calls/);
    await expect(PluginVm.load({ wasmBytes: bytes, withRedisImports: false, allowOnHeadersStopIteration: false })).resolves.toBeInstanceOf(PluginVm);
    await expect(PluginVm.load({ wasmBytes: bytes, allowOnHeadersStopIteration: true })).rejects.toThrow(/Higress/);
  });

  test("defaults: Higress with the Redis calls (32 KiB buffers), plain Envoy without (1 MiB)", async () => {
    const higress = await PluginVm.load({ wasmBytes: buildModule([]) });
    const envoy = await PluginVm.load({ wasmBytes: buildModule([]), withRedisImports: false });
    expect([higress.flavour, higress.bufferLimitBytes]).toEqual(["higress", 32 * 1024]);
    expect([envoy.flavour, envoy.bufferLimitBytes]).toEqual(["envoy", 1024 * 1024]);
  });
});

describe("body callbacks (Envoy context.cc decodeData/getBuffer, filter_manager.cc commonHandleAfterDataCallback)", () => {
  const chunks = ["abc", "defg", "hi"];
  test.each([
    { answer: "Continue", b: "0", higress: ["3:abc", "4:defg", "2e:hi"], envoy: ["3:abc", "4:defg", "2e:hi"], upstream: "abcdefghi" },
    // The held body as the callback's view: without its own chunk in Higress's Envoy 1.27, with it in
    // Envoy >= 1.32 and in Higress 2.2's envoy-1.36 (the Higress default, checked against `envoy`).
    { answer: "StopIterationAndBuffer", b: "1,1,0", higress: ["3:abc", "3:abc", "7e:abcdefg"], envoy: ["3:abc", "7:abcdefg", "9e:abcdefghi"], upstream: "abcdefghi" },
    // Held too, but every callback sees only its own chunk.
    { answer: "StopIterationAndWatermark", b: "2,2,0", higress: ["3:abc", "4:defg", "2e:hi"], envoy: ["3:abc", "4:defg", "2e:hi"], upstream: "abcdefghi" },
    // Dropped: only the last chunk, answered Continue, goes on.
    { answer: "StopIterationNoBuffer", b: "3,3,0", higress: ["3:abc", "4:defg", "2e:hi"], envoy: ["3:abc", "4:defg", "2e:hi"], upstream: "hi" },
  ])("$answer", async ({ b, higress, envoy, upstream }) => {
    for (const [options, expected] of [[{ higressEnvoy: "1.27" }, higress], [{}, envoy], [{ flavour: "envoy" }, envoy]] as const) {
      const v = await vmFor(options as Partial<PluginVmOptions>);
      const s = send(v, `b=${b}`, chunks);
      expect(seen(s)).toEqual(expected);
      expect(s.upstream.body.toString()).toBe(upstream);
      expect(s.upstream.ended).toBe(true);
    }
  });

  test("proxy_set_buffer_bytes on the chunk: drain-and-prepend from 0, append at the end, BadArgument in between", async () => {
    const v = await vmFor();
    const edit = (spec: string) => {
      const s = send(v, `edit=1.${spec}`, chunks);
      return [s.filterState("wasm.probe_edit")?.toString(), s.upstream.body.toString()];
    };
    expect(edit("0.2.XY")).toEqual([String(Status.Ok), "abcXYfghi"]);
    expect(edit("0.0.>")).toEqual([String(Status.Ok), "abc>defghi"]);
    expect(edit("4.0.<")).toEqual([String(Status.Ok), "abcdefg<hi"]);
    expect(edit("1.1.Z")).toEqual([String(Status.BadArgument), "abcdefghi"]);
  });

  test("proxy_set_buffer_bytes on the held body: where an append lands depends on the chunk not yet held", async () => {
    for (const [options, body] of [[{ higressEnvoy: "1.27" }, "ABCdefgZhi"], [{ heldBodyIncludesChunk: true }, "ABCdefghiZ"], [{}, "ABCdefghiZ"]] as const) {
      const v = await vmFor(options);
      // Third callback: replace the first three bytes, then (another stream) append.
      const front = send(v, "b=1,1,0&edit=2.0.3.ABC", chunks);
      const back = send(v, "b=1,1,0&edit=2.100.0.Z", chunks);
      expect(front.upstream.body.toString()).toBe(body.replace("Z", ""));
      expect(back.upstream.body.toString()).toBe(body.replace("ABC", "abc"));
    }
  });

  test("outside a body callback: the held body after StopIterationAndBuffer; a moved-on chunk takes edits and loses them; after Continue nothing", async () => {
    const v = await vmFor();
    const read = (s: Stream) => {
      const [p, n] = [v.memory.alloc(4), v.memory.alloc(4)];
      expect(hostCall(v, s, "proxy_get_buffer_bytes", 0, 0, 100, p, n)).toBe(Status.Ok);
      return v.memory.read(v.memory.readU32(p)!, v.memory.readU32(n)!)!.toString();
    };
    const buffered = send(v, "h=1&b=1", ["abc"]);
    expect(buffered.upstream.ended).toBe(false);
    expect(read(buffered)).toBe("abc");
    expect(hostCall(v, buffered, "proxy_set_buffer_bytes", 0, 0, 0, ...put(v, ">"))).toBe(Status.Ok);
    const watermark = send(v, "h=1&b=2", ["abc"]);
    expect(read(watermark)).toBe("");
    expect(hostCall(v, watermark, "proxy_set_buffer_bytes", 0, 0, 0, ...put(v, ">"))).toBe(Status.Ok);
    const passed = send(v, "b=0", ["abc"]);
    expect(hostCall(v, passed, "proxy_set_buffer_bytes", 0, 0, 0, ...put(v, ">"))).toBe(Status.BadArgument);
    for (const s of [buffered, watermark]) hostCall(v, s, ...CONTINUE_REQUEST);
    expect(buffered.upstream.body.toString()).toBe(">abc");
    expect(watermark.upstream.body.toString()).toBe("abc");
  });
});

describe("buffer limits (filter_manager.cc requestDataTooLarge / responseDataTooLarge, watermark buffers)", () => {
  const k20 = "x".repeat(20 * 1024);

  test("StopIterationAndBuffer over the limit: 413 through the plugin's response callbacks; nothing reaches upstream", async () => {
    const v = await vmFor();
    const s = send(v, "h=1&b=1", [k20, k20]);
    expect(s.localResponse).toMatchObject({ status: 413, details: "request_payload_too_large" });
    expect(s.downstream.body.toString()).toBe("Payload Too Large");
    expect(s.filterState("wasm.probe_response_status")?.toString()).toBe("413");
    expect(s.upstream.headers).toBeNull();
  });

  test("StopAllIterationAndBuffer over the limit: 413 too", async () => {
    const v = await vmFor();
    const s = send(v, "h=3", [k20, k20]);
    expect(s.localResponse?.status).toBe(413);
    expect(seen(s)).toEqual([]);
  });

  test("Envoy >= 1.32 moves the chunk into the held body first: over the limit, the plugin is not called", async () => {
    const v = await vmFor({ flavour: "envoy", bufferLimitBytes: 32 * 1024 });
    const s = send(v, "b=1", [k20, k20]);
    expect(s.localResponse?.status).toBe(413);
    expect(seen(s)).toHaveLength(1);
  });

  test("Higress: set_decoder_buffer_limit raises the stream's limit; plain Envoy only stores the property", async () => {
    const higress = await vmFor();
    const raised = send(higress, "h=1&b=1,0&limit=65536", [k20, k20, "!"]);
    expect(raised.bufferLimit).toBe(65536);
    expect(raised.localResponse).toBeNull();
    expect(raised.upstream.body.length).toBe(40 * 1024 + 1);
    const envoy = await vmFor({ flavour: "envoy", bufferLimitBytes: 32 * 1024 });
    const stored = send(envoy, "b=1&limit=65536", [k20, k20]);
    expect(stored.bufferLimit).toBe(32 * 1024);
    expect(stored.filterState("wasm.set_decoder_buffer_limit")?.toString()).toBe("65536");
    expect(stored.localResponse?.status).toBe(413);
  });

  test("the limit property parses like std::stoul into 32 bits", () => {
    expect(parseBufferLimit("65536")).toBe(65536);
    expect(parseBufferLimit(" 12kb")).toBe(12);
    expect(parseBufferLimit("+7")).toBe(7);
    expect(parseBufferLimit("4294967295")).toBe(4294967295);
    expect(parseBufferLimit("4294967296")).toBeNull();
    expect(parseBufferLimit("-1")).toBeNull();
    expect(parseBufferLimit("-0")).toBe(0);
    expect(parseBufferLimit("kb")).toBeNull();
  });

  test.each([
    { answer: "StopIterationAndWatermark", query: "b=2,2,0" },
    { answer: "StopAllIterationAndWatermark (a translated StopIteration)", query: "h=1" },
  ])("$answer over the limit: the source stops sending (flow control) until the held data drains", async ({ query }) => {
    const v = await vmFor({}, "0_2_1");
    const s = send(v, query, [k20, k20, "tail"]);
    expect(s.stalled.request).toBe(true);
    expect(s.upstream.ended).toBe(false);
    const before = seen(s);
    expect(before.some((x) => x.startsWith("4e:"))).toBe(false); // the last chunk waits at the source
    hostCall(v, s, ...CONTINUE_REQUEST);
    await s.waitFor(() => s.upstream.ended, "the request to drain");
    expect(s.stalled.request).toBe(false);
    expect(s.upstream.body.length).toBe(40 * 1024 + 4);
    expect(s.localResponse).toBeNull();
  });

  test("response StopIterationAndBuffer over the limit: 500, sent past the plugin while it holds the headers, else a reset", async () => {
    const v = await vmFor();
    const held = send(v, "rh=1&rb=1", []);
    held.responseHeaders(OK);
    held.responseBody(k20);
    held.responseBody(k20);
    expect(held.localResponse).toMatchObject({ status: 500, details: "response_payload_too_large" });
    expect(headerValue(held.downstream.headers, ":status")).toBe("500");
    // Sent directly to the client: the plugin's response callbacks never saw the 500.
    expect(held.filterState("wasm.probe_response_status")?.toString()).toBe("200");
    const streaming = send(v, "rb=1", []);
    streaming.responseHeaders(OK);
    streaming.responseBody(k20);
    streaming.responseBody(k20);
    expect(headerValue(streaming.downstream.headers, ":status")).toBe("200");
    expect(streaming.resetReason).toBe("local_reply_after_response_started");
  });
});

describe("actions deferred to after the callback (cpp-host DeferAfterCallActions, filter_manager.cc commonContinue)", () => {
  test("proxy_continue_stream inside on_request_headers, then StopIteration: the headers go, the body stays held, and it is recorded", async () => {
    const v = await vmFor();
    const s = send(v, "h=1&ch=1&b=1", ["abc"]);
    expect(s.upstream.headers).not.toBeNull();
    expect(s.upstream.ended).toBe(false);
    expect(s.held.request).toBe(3);
    expect(v.violations).toHaveLength(1);
    expect(v.violations[0]).toMatch(/proxy_continue_stream inside proxy_on_request_headers.*StopIteration/);
  });

  test("the same on plain Envoy (StopIteration translated): the body is never shown to the plugin", async () => {
    const v = await vmFor({ flavour: "envoy" });
    const s = send(v, "h=1&ch=1", ["abc"]);
    expect(s.upstream.headers).not.toBeNull();
    expect(seen(s)).toEqual([]);
    expect(s.paused.request).toBe("all");
    expect(v.violations).toHaveLength(1);
  });

  test("inside on_request_body, then StopIterationAndBuffer: the chunk is held and nothing resumes it", async () => {
    const v = await vmFor();
    const s = send(v, "h=1&b=1&cb=0", ["abc", "de"]);
    expect(s.upstream.headers).not.toBeNull();
    expect(s.upstream.body.length).toBe(0);
    expect(s.upstream.ended).toBe(false);
    expect(v.violations).toEqual([expect.stringMatching(/inside proxy_on_request_body.*StopIterationAndBuffer/)]);
  });

  test("inside on_request_body of a stopped request, answering Continue: nothing wrong", async () => {
    const v = await vmFor();
    const s = send(v, "h=1&b=0&cb=0", ["abc", "de"]);
    expect(s.upstream.body.toString()).toBe("abcde");
    expect(s.upstream.ended).toBe(true);
    expect(v.violations).toEqual([]);
  });

  test("a continue for a direction that is not stopped is recorded and does nothing", async () => {
    const v = await vmFor();
    const s = send(v, "", ["abc"]);
    hostCall(v, s, ...CONTINUE_REQUEST);
    hostCall(v, s, "proxy_continue_stream", 1); // the response has not even started
    expect(v.violations).toEqual([
      expect.stringMatching(/proxy_continue_stream\(HttpRequest\) while the request was not stopped/),
      expect.stringMatching(/proxy_continue_stream\(HttpResponse\) while the response was not stopped/),
    ]);
    expect(s.upstream.body.toString()).toBe("abc");
  });

  test("proxy_continue_stream clears the request's maps whichever direction it names (context.cc continueStream)", async () => {
    const v = await vmFor();
    const s = send(v, "rh=1", []);
    s.responseHeaders(OK);
    const [k, kl] = put(v, ":path");
    const [p, n] = [v.memory.alloc(4), v.memory.alloc(4)];
    expect(hostCall(v, s, "proxy_get_header_map_value", 2, ...put(v, ":status"), p, n)).toBe(Status.Ok);
    hostCall(v, s, "proxy_continue_stream", 1);
    expect(hostCall(v, s, "proxy_get_header_map_value", 0, k, kl, p, n)).toBe(Status.BadArgument);
    expect(hostCall(v, s, "proxy_get_header_map_value", 2, ...put(v, ":status"), p, n)).toBe(Status.Ok);
  });

  test("a local reply while the response headers are in the filter chain goes straight to the client", async () => {
    const v = await vmFor();
    const s = send(v, "lrh=1", []);
    s.responseHeaders([[":status", "503"]]);
    expect(headerValue(s.downstream.headers, ":status")).toBe("502");
    expect(s.downstream.body.toString()).toBe("rejected upstream 503");
    // The plugin's response callback ran for the upstream's headers only.
    expect(s.filterState("wasm.probe_response_status")?.toString()).toBe("503");
  });

  test("a local reply after the response headers went downstream resets the stream", async () => {
    const v = await vmFor();
    const s = send(v, "", []);
    s.responseHeaders(OK);
    const [d, dl] = put(v, "late");
    hostCall(v, s, "proxy_send_local_response", 500, d, dl, 0, 0, 0, 0, -1);
    expect(s.resetReason).toBe("local_reply_after_response_started");
    expect(s.finished).toBe(true);
  });
});

describe("the end of a stream (conn_manager_impl.cc doDeferredStreamDestroy)", () => {
  const lifecycle = (s: Stream) => s.trace.filter((t) => t.startsWith("proxy_on_"));

  test("HTTP/1.1 and HTTP/2: proxy_on_log, then proxy_on_done and proxy_on_delete", async () => {
    const v = await vmFor();
    for (const protocol of ["HTTP/1.1", "HTTP/2"]) {
      const s = v.newStream({ protocol });
      await s.run({ request: { headers: post("/pass") } });
      expect(lifecycle(s)).toEqual(["proxy_on_log", "proxy_on_done", "proxy_on_delete"]);
      const ours = v.logs.filter((l) => l.contextId === s.id).map((l) => l.message);
      expect(ours).toEqual(["probe: log /pass", `probe: done ${s.id}`, `probe: delete ${s.id}`]);
    }
  });

  test("HTTP/3: proxy_on_done and proxy_on_delete first, proxy_on_log when the stream is acknowledged", async () => {
    const v = await vmFor();
    const s = v.newStream({ protocol: "HTTP/3", releaseContext: "manual" });
    await s.run({ request: { headers: post("/pass") } });
    expect(lifecycle(s)).toEqual(["proxy_on_done", "proxy_on_delete"]);
    s.releaseContext();
    expect(lifecycle(s)).toEqual(["proxy_on_done", "proxy_on_delete", "proxy_on_log (HTTP/3: after the stream was acknowledged)"]);
    // The plugin had already deleted its context: its own on_log never ran.
    expect(v.logs.filter((l) => l.contextId === s.id).map((l) => l.message)).toEqual([`probe: done ${s.id}`, `probe: delete ${s.id}`]);
  });

  test("HTTP/3 after a reset logs at once", async () => {
    const v = await vmFor();
    const s = send(v, "", ["abc"], { protocol: "HTTP/3" });
    s.finish("client_disconnect");
    expect(lifecycle(s)).toEqual(["proxy_on_log", "proxy_on_done", "proxy_on_delete"]);
  });
});

describe("effective context of an ended stream (cpp-host exports.cc set_effective_context, WasmBase::getContext)", () => {
  test("until the deferred delete, proxy_set_effective_context accepts a stream that has ended", async () => {
    const v = await vmFor();
    const s = v.newStream({ releaseContext: "manual" });
    // "/late" sends a Redis PING and does not wait for it: the stream ends first.
    s.requestHeaders(post("/late"), true);
    s.responseHeaders(OK, true);
    expect(s.finished).toBe(true);
    expect(v.knowsContext(s.id)).toBe(true);
    await s.settled();
    expect(v.logText()).toContain(`probe: effective ${s.id} status ${Status.Ok} context gone`);
    s.releaseContext();
    expect(v.knowsContext(s.id)).toBe(false);
  });

  test("after it, BadArgument", async () => {
    const v = await vmFor();
    const s = v.newStream({ releaseContext: "manual" });
    s.requestHeaders(post("/late"), true);
    s.responseHeaders(OK, true);
    s.releaseContext();
    await s.settled();
    expect(v.logText()).toContain(`probe: effective ${s.id} status ${Status.BadArgument} context gone`);
  });

  test("by default the context is released at the end of the event-loop turn in which the stream ended", async () => {
    const v = await vmFor();
    const s = await (async () => {
      const st = v.newStream();
      await st.run({ request: { headers: post("/pass") } });
      return st;
    })();
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(v.knowsContext(s.id)).toBe(false);
    expect(v.redisCluster(CLUSTER)).toBeDefined();
  });
});
