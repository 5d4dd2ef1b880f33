// A request's life as the real hosts run it: a client that leaves while its admission is in Redis,
// decisions taken inside the callback that asked, and the end of a stream in either order
// (HTTP/1-2: on_log before on_delete; HTTP/3: on_delete first).
import { BASE_CONFIG, QuotaFixture, jsonResponse, openAiJson, request } from "./fixture";

let fx: QuotaFixture;
beforeAll(async () => { fx = await QuotaFixture.start(); });
afterAll(async () => fx.stop());
beforeEach(async () => fx.flush());

const RESERVING = { ...BASE_CONFIG, reservation: { mode: "fixed", tokens: 1000 } };
const WINDOWED = { ...BASE_CONFIG, limits: [{ unit: "requests", limit: 5, window: "day" }] };

describe("a client that leaves while its admission is in Redis", () => {
  test("gets its reservation back, every time (three such requests take nothing)", async () => {
    const vm = await fx.plugin(RESERVING);
    await fx.setBalance("c1", 5000);
    for (let i = 0; i < 3; i++) {
      const s = vm.newStream();
      s.requestHeaders(request("POST", "/v1/chat/completions", "c1", [["content-type", "application/json"]]), false);
      // The admission is on its way; the client hangs up before Redis answers.
      s.finish("downstream_remote_disconnect");
      await vm.idle();
      expect(s.upstream.headers).toBeNull();
    }
    expect(await fx.balance("c1")).toBe("5000");
    expect(vm.trapped).toBeNull();
  });

  test("a request window counts nothing for it", async () => {
    const vm = await fx.plugin(WINDOWED);
    await fx.setBalance("c1", 100);
    await fx.setBalance("c2", 100);
    // Another consumer's request first, so that the admission script is cached and c1's applies.
    const warm = await vm.newStream().run({ request: { headers: request("POST", "/v1/chat/completions", "c2"), body: "{}" }, response: () => jsonResponse(openAiJson(1, 1)) });
    expect(warm.status).toBe(200);
    const s = vm.newStream();
    s.requestHeaders(request("POST", "/v1/chat/completions", "c1"), false);
    s.finish("downstream_remote_disconnect");
    await vm.idle();
    const keys = ((await fx.client.command("KEYS", "*requests*")) as string[]).filter((k) => k.includes("c1"));
    expect(keys.length).toBe(1);
    for (const k of keys) expect(await fx.client.command("GET", k)).toBe("0");
    expect(await fx.balance("c1")).toBe("100");
  });
});

describe("the end of a stream", () => {
  test.each(["HTTP/1.1", "HTTP/2", "HTTP/3"])("%s: an admitted request cut before its answer is settled once", async (protocol) => {
    const vm = await fx.plugin({ ...RESERVING, missing_usage: "none" });
    await fx.setBalance("c1", 5000);
    const s = vm.newStream({ protocol });
    s.requestHeaders(request("POST", "/v1/chat/completions", "c1"), true);
    await s.waitFor(() => s.upstream.ended, "admission");
    expect(await fx.balance("c1")).toBe("4000");
    s.finish("upstream_reset_before_response_started");
    await vm.idle();
    // missing_usage none + on_incomplete release: the whole reservation comes back, once.
    expect(await fx.balance("c1")).toBe("5000");
    const settlements = vm.redisCommands().filter((c) => c[0].startsWith("EVAL")).length;
    expect(settlements).toBeGreaterThanOrEqual(2);
    expect(vm.trapped).toBeNull();
  });

  test("an answer that ends normally is settled at its end, not again at log time", async () => {
    const vm = await fx.plugin(RESERVING);
    await fx.setBalance("c1", 5000);
    const r = await vm.newStream().run({
      request: { headers: request("POST", "/v1/chat/completions", "c1"), body: "{}" },
      response: () => jsonResponse(openAiJson(10, 5)),
    });
    expect(r.status).toBe(200);
    await vm.idle();
    expect(await fx.balance("c1")).toBe("4985");
  });
});
