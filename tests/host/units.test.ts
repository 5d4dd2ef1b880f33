// The host's pieces on their own: header-map serialization, the RESP framer, cluster names,
// Envoy's buffer-edit and metric rules, and the filter-direction state machine with scripted
// plugin answers (for the answers the probe plugin never gives).
import fc from "fast-check";
import { HeaderPairs, RespFramer, decodeCommand, encodeCommand, parseClusterName, parsePairs, serializePairs } from "../../host";
import { Metrics } from "../../host/metrics";
import { DirectionHooks, FilterDirection, editBuffer } from "../../host/filter-direction";
import { DataAction, HeadersAction, MetricType, Status, TrailersAction } from "../../host/abi-types";
import { higressRedisTiming } from "../../host/redis-connection";
import { parseInjectArguments } from "../../host/foreign-functions";
import { higressProfile } from "../../host/higress-profile";

describe("header map serialization", () => {
  test("the layout is count, sizes, then NUL-terminated names and values", () => {
    expect([...serializePairs([["a", "bc"]])]).toEqual([1, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0x61, 0, 0x62, 0x63, 0]);
  });

  test("any list of pairs survives a round trip", () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.string({ unit: "grapheme" }), fc.string({ unit: "grapheme" }))), (pairs) => {
      expect(parsePairs(serializePairs(pairs as HeaderPairs))).toEqual(pairs);
    }));
  });

  test("an empty buffer is an empty map; truncated or inconsistent data is refused", () => {
    expect(parsePairs(Buffer.alloc(0))).toEqual([]);
    const full = serializePairs([["name", "value"]]);
    for (let cut = 1; cut < full.length; cut++) expect(parsePairs(full.subarray(0, cut))).toBeNull();
    const noNul = Buffer.from(full);
    noNul[full.length - 1] = 0x41;
    expect(parsePairs(noNul)).toBeNull();
  });
});

describe("RESP framing", () => {
  const replies = [
    "+OK\r\n", "-ERR wrong\r\n", ":42\r\n", "$5\r\nhello\r\n", "$-1\r\n", "*-1\r\n", "$0\r\n\r\n",
    "*2\r\n$1\r\na\r\n*2\r\n:1\r\n*1\r\n+deep\r\n", "*0\r\n", "$4\r\na\r\nb\r\n",
  ];

  test("replies split anywhere across chunks come out whole and in order", () => {
    const stream = Buffer.from(replies.join(""));
    fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: stream.length }), { maxLength: 20 }), (cuts) => {
      const framer = new RespFramer();
      const points = [...new Set(cuts)].sort((a, b) => a - b);
      const out: string[] = [];
      let prev = 0;
      for (const p of [...points, stream.length]) {
        out.push(...framer.push(stream.subarray(prev, p)).map((b) => b.toString()));
        prev = p;
      }
      expect(out).toEqual(replies);
    }));
  });

  test("bytes that are not RESP are an error, not a hang", () => {
    expect(() => new RespFramer().push(Buffer.from("hello\r\n"))).toThrow(/RESP/);
    expect(() => new RespFramer().push(Buffer.from("$x\r\n"))).toThrow(/RESP/);
  });

  test("commands encode as arrays of bulk strings and decode back; anything else is not one command", () => {
    const q = encodeCommand(["SET", "k", 12, Buffer.from("v")]);
    expect(q.toString()).toBe("*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\n12\r\n$1\r\nv\r\n");
    expect(decodeCommand(q)).toEqual(["SET", "k", "12", "v"]);
    expect(decodeCommand(Buffer.concat([q, q]))).toBeNull();
    expect(decodeCommand(q.subarray(0, q.length - 1))).toBeNull();
    expect(decodeCommand(Buffer.from("PING\r\n"))).toBeNull();
    expect(decodeCommand(Buffer.from("*1\r\n:1\r\n"))).toBeNull();
  });
});

test("Higress cluster names: the part before '?' is the cluster, the rest are options", () => {
  expect(parseClusterName("outbound|6379||redis.static?db=1&buffer_flush_timeout=3&max_buffer_size_before_flush=1024")).toEqual({
    cluster: "outbound|6379||redis.static",
    options: { db: "1", buffer_flush_timeout: "3", max_buffer_size_before_flush: "1024" },
  });
  expect(parseClusterName("outbound|80||redis.dns")).toEqual({ cluster: "outbound|80||redis.dns", options: {} });
});

test("Redis write buffering: envoy-1.36 reads the cluster name's options as std::stoul does (default 1024 / 3), envoy-1.27 fixes them", () => {
  const t = (options: Record<string, string> | null) => {
    const { maxBufferSizeBeforeFlush, bufferFlushTimeoutMs } = higressRedisTiming(1000, options);
    return [maxBufferSizeBeforeFlush, bufferFlushTimeoutMs];
  };
  expect(t({ buffer_flush_timeout: "0", max_buffer_size_before_flush: "0" })).toEqual([0, 0]);
  expect(t({ buffer_flush_timeout: " 7ms", max_buffer_size_before_flush: "+4096" })).toEqual([4096, 7]);
  expect(t({ buffer_flush_timeout: "x", max_buffer_size_before_flush: "4294967296" })).toEqual([1024, 3]);
  expect(t({ db: "2" })).toEqual([1024, 3]);
  expect(t(null)).toEqual([1024, 3]);
  expect(higressProfile("1.36").readsRedisBufferOptions).toBe(true);
  expect(higressProfile("1.27").readsRedisBufferOptions).toBe(false);
});

test("inject_encoded_data_to_filter_chain arguments: body = 1, endstream = 2; unknown fields skipped, a broken message refused", () => {
  expect(parseInjectArguments(Buffer.from([0x0a, 3, 0x61, 0x62, 0x63]))).toEqual({ body: Buffer.from("abc"), endStream: false });
  expect(parseInjectArguments(Buffer.from([0x10, 1, 0x0a, 1, 0x7a, 0x18, 5]))).toEqual({ body: Buffer.from("z"), endStream: true });
  expect(parseInjectArguments(Buffer.alloc(0))).toEqual({ body: Buffer.alloc(0), endStream: false });
  expect(parseInjectArguments(Buffer.from([0x0a, 4, 0x61]))).toBeNull();
  expect(parseInjectArguments(Buffer.from([0x0a]))).toBeNull();
  expect(parseInjectArguments(Buffer.from([0x0b, 0]))).toBeNull(); // wire type 3 (groups): not accepted here
});

test("proxy_set_buffer_bytes is Envoy's Buffer::copyFrom: start 0 drains then prepends, start >= size appends, else refused", () => {
  const b = Buffer.from("body");
  const e = (start: number, len: number, data: string) => editBuffer(b, start, len, Buffer.from(data))?.toString() ?? null;
  expect(e(0, 0, ">")).toBe(">body");
  expect(e(0, 4, "new")).toBe("new");
  expect(e(0, 0xffffffff, "new")).toBe("new");
  expect(e(0, 2, "x")).toBe("xdy");
  expect(e(0, 1, "")).toBe("ody");
  expect(e(4, 0, "<")).toBe("body<");
  expect(e(4, 3, "<")).toBe("body<"); // appending ignores the length
  expect(e(0xffffffff, 0, "<")).toBe("body<");
  expect(e(1, 1, "x")).toBeNull();
  expect(e(3, 0, "x")).toBeNull();
  expect(editBuffer(Buffer.alloc(0), 0, 5, Buffer.from("a"))?.toString()).toBe("a");
});

test("metric ids carry the type in their low bits; counters only grow; histograms only record", () => {
  const m = new Metrics();
  const c = m.define(MetricType.Counter, "c").id;
  const g = m.define(MetricType.Gauge, "g").id;
  const h = m.define(MetricType.Histogram, "h").id;
  expect([c, g, h]).toEqual([0, 1, 2]);
  expect(m.define(MetricType.Counter, "c2").id).toBe(4);
  expect(m.increment(c, 3n)).toBe(Status.Ok);
  expect(m.increment(c, -1n)).toBe(Status.BadArgument);
  expect(m.increment(g, -5n)).toBe(Status.Ok);
  expect(m.record(h, 7n)).toBe(Status.Ok);
  expect(m.increment(h, 1n)).toBe(Status.BadArgument);
  expect(m.get(h).status).toBe(Status.BadArgument);
  expect(m.snapshot()).toEqual({ c: 3, g: -5, h: [7], c2: 0 });
});

describe("filter direction (Envoy's filter-manager rules)", () => {
  /** A direction whose plugin answers from a script, recording what it was told and what passed. */
  function scripted(answers: { headers?: number[]; body?: number[]; trailers?: number[] }) {
    const seen: string[] = [];
    const passed: string[] = [];
    const queue = { headers: [...(answers.headers ?? [])], body: [...(answers.body ?? [])], trailers: [...(answers.trailers ?? [])] };
    let dir!: FilterDirection;
    const hooks: DirectionHooks = {
      onHeaders: (n, eos) => (seen.push(`headers${eos ? " end" : ""}`), queue.headers.shift() ?? 0),
      onBody: (size, eos) => (seen.push(`body ${size}${eos ? " end" : ""} [${dir.body()?.toString()}]`), queue.body.shift() ?? 0),
      onTrailers: () => (seen.push("trailers"), queue.trailers.shift() ?? 0),
      passHeaders: (_p, eos) => passed.push(`headers${eos ? " end" : ""}`),
      passData: (d, eos) => passed.push(`data ${d.toString()}${eos ? " end" : ""}`),
      passTrailers: () => passed.push("trailers"),
      trace: () => undefined,
    };
    dir = new FilterDirection("request", hooks);
    return { dir, seen, passed };
  }
  const H: HeaderPairs = [[":path", "/"]];

  test("StopIterationAndWatermark holds data but shows only the new chunk", () => {
    const { dir, seen, passed } = scripted({ body: [DataAction.StopIterationAndWatermark, DataAction.Continue] });
    dir.receiveHeaders(H, false);
    dir.receiveData(Buffer.from("ab"), false);
    dir.receiveData(Buffer.from("cde"), true);
    expect(seen).toEqual(["headers", "body 2 [ab]", "body 3 end [cde]"]);
    expect(passed).toEqual(["headers", "data abcde end"]);
  });

  test("StopIterationAndBuffer shows everything held, and a resume passes it on", () => {
    const { dir, seen, passed } = scripted({ body: [DataAction.StopIterationAndBuffer, DataAction.StopIterationAndBuffer] });
    dir.receiveHeaders(H, false);
    dir.receiveData(Buffer.from("ab"), false);
    dir.receiveData(Buffer.from("cde"), true);
    expect(seen).toEqual(["headers", "body 2 [ab]", "body 5 end [abcde]"]);
    expect(dir.pauseState).toBe("body");
    dir.resume();
    expect(passed).toEqual(["headers", "data abcde end"]);
  });

  test("injected data (injectEncodedDataToFilterChain) passes at once: after held headers, before the trailers of the callback that injected it", () => {
    const { dir, passed } = scripted({ headers: [HeadersAction.StopIteration], trailers: [TrailersAction.Continue] });
    dir.inject(Buffer.from("early"), false); // no headers yet: nothing to continue, dropped
    dir.receiveHeaders(H, false);
    dir.inject(Buffer.from("x"), false); // held headers go first
    expect(passed).toEqual(["headers", "data x"]);
    const injecting = scripted({ trailers: [TrailersAction.Continue] });
    injecting.dir.receiveHeaders(H, false);
    injecting.dir.receiveData(Buffer.from("ab"), false);
    // The plugin injects inside its trailers callback: the data goes out, then the trailers.
    const hooks = (injecting.dir as unknown as { hooks: DirectionHooks }).hooks;
    const onTrailers = hooks.onTrailers;
    hooks.onTrailers = (n) => (injecting.dir.inject(Buffer.from("tail"), false), onTrailers(n));
    injecting.dir.receiveTrailers([["t", "1"]]);
    expect(injecting.passed).toEqual(["headers", "data ab", "data tail", "trailers"]);
    injecting.dir.inject(Buffer.from("late"), false); // the direction is over: dropped
    expect(injecting.passed).toEqual(["headers", "data ab", "data tail", "trailers"]);
  });

  test("StopIterationNoBuffer drops the chunk", () => {
    const { dir, passed } = scripted({ body: [DataAction.StopIterationNoBuffer, DataAction.Continue] });
    dir.receiveHeaders(H, false);
    dir.receiveData(Buffer.from("dropped"), false);
    dir.receiveData(Buffer.from("kept"), true);
    expect(passed).toEqual(["headers", "data kept end"]);
  });

  test("StopAllIteration: data and trailers wait unseen; after the resume one body callback, then the trailers", () => {
    const { dir, seen, passed } = scripted({ headers: [HeadersAction.StopAllIterationAndBuffer] });
    dir.receiveHeaders(H, false);
    dir.receiveData(Buffer.from("ab"), false);
    dir.receiveData(Buffer.from("c"), false);
    dir.receiveTrailers([["t", "1"]]);
    expect(seen).toEqual(["headers"]);
    expect(passed).toEqual([]);
    dir.resume();
    expect(seen).toEqual(["headers", "body 3 [abc]", "trailers"]);
    expect(passed).toEqual(["headers", "data abc", "trailers"]);
  });

  test("headers StopIteration: a body Continue lets the held headers and body through", () => {
    const { dir, passed } = scripted({ headers: [HeadersAction.StopIteration], body: [DataAction.StopIterationAndBuffer, DataAction.Continue] });
    dir.receiveHeaders(H, false);
    dir.receiveData(Buffer.from("a"), false);
    expect(passed).toEqual([]);
    dir.receiveData(Buffer.from("b"), true);
    expect(passed).toEqual(["headers", "data ab end"]);
  });

  test("trailers StopIteration holds everything until resumed", () => {
    const { dir, passed } = scripted({ trailers: [TrailersAction.StopIteration] });
    dir.receiveHeaders(H, false);
    dir.receiveTrailers([["t", "1"]]);
    expect(passed).toEqual(["headers"]);
    dir.resume();
    expect(passed).toEqual(["headers", "trailers"]);
  });

  test("ContinueAndEndStream is plain Continue (Envoy's convertFilterHeadersStatus has no case for it)", () => {
    const { dir, seen, passed } = scripted({ headers: [HeadersAction.ContinueAndEndStream] });
    dir.receiveHeaders(H, false);
    dir.receiveData(Buffer.from("x"), true);
    expect(seen).toEqual(["headers", "body 1 end [x]"]);
    expect(passed).toEqual(["headers", "data x end"]);
  });

  test("numbers past the last status stop: StopAll for headers, no buffering for bodies, StopIteration for trailers", () => {
    const { dir, seen, passed } = scripted({ headers: [7] });
    dir.receiveHeaders(H, false);
    dir.receiveData(Buffer.from("x"), true);
    expect(seen).toEqual(["headers"]);
    expect(dir.pauseState).toBe("all");
    const body = scripted({ body: [9, 0] });
    body.dir.receiveHeaders(H, false);
    body.dir.receiveData(Buffer.from("dropped"), false);
    body.dir.receiveData(Buffer.from("kept"), true);
    expect(body.passed).toEqual(["headers", "data kept end"]);
    const trailers = scripted({ trailers: [5] });
    trailers.dir.receiveHeaders(H, false);
    trailers.dir.receiveTrailers([["t", "1"]]);
    expect(trailers.dir.pauseState).toBe("trailers");
    expect(passed).toEqual([]);
  });

  test("headers-only StopAll resumes with end of stream on the headers", () => {
    const { dir, passed } = scripted({ headers: [HeadersAction.StopAllIterationAndWatermark] });
    dir.receiveHeaders(H, true);
    dir.resume();
    expect(passed).toEqual(["headers end"]);
  });
});
