// A request's life as the real hosts run it: a client that leaves while its admission is in Redis,
// decisions taken inside the callback that asked, and the end of a stream in either order
// (HTTP/1-2: on_log before on_delete; HTTP/3: on_delete first).
import { inputEstimateOf } from "../unit/response_module";
import { BASE_CONFIG, HTTP_STORE, QuotaFixture, jsonResponse, openAiJson, request } from "./fixture";

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

describe("admin calls whose body must be read first", () => {
  const form = "consumer=c1&quota=77";
  const headers = request("POST", "/v1/chat/completions/quota/refresh", "admin", [["content-type", "application/x-www-form-urlencoded"]]);

  test("the headers wait with the body on Higress; on plain Envoy they go ahead alone and the body is held", async () => {
    const vm = await fx.plugin(BASE_CONFIG);
    const s = vm.newStream();
    s.requestHeaders(headers, false);
    // Higress (ABI 0.2.100) holds the headers; stock cpp-host would turn that into "stop all", so the
    // Envoy build lets them go and holds the body instead.
    if (HTTP_STORE) expect(s.upstream.headers).not.toBeNull();
    else expect(s.upstream.headers).toBeNull();
    s.requestBody(form.slice(0, 9), false);
    s.requestBody(form.slice(9), true);
    await s.waitFor(() => s.localResponse !== null, "the admin answer");
    expect(s.upstream.body.length).toBe(0);
    expect(s.localResponse!.status).toBe(200);
    expect(await fx.balance("c1")).toBe("77");
  });

  test("an upstream that answers before the form is complete is held, and the admin answer wins", async () => {
    const vm = await fx.plugin(BASE_CONFIG);
    const s = vm.newStream();
    s.requestHeaders(headers, false);
    s.requestBody(form.slice(0, 9), false);
    if (HTTP_STORE) {
      // Only the Envoy build let the headers reach an upstream, which may answer at once (a 404).
      s.responseHeaders([[":status", "404"], ["content-type", "text/plain"]], false);
      expect(s.downstream.headers).toBeNull();
    }
    s.requestBody(form.slice(9), true);
    await s.waitFor(() => s.downstream.ended || s.finished, "the answer to reach the client");
    expect(s.downstream.headers?.find(([k]) => k === ":status")?.[1]).toBe("200");
    expect(s.downstream.body.toString()).toBe("refresh quota successful");
    expect(await fx.balance("c1")).toBe("77");
  });
});

describe("the three header semantics: stock Envoy, Envoy with allow_on_headers_stop_iteration, Higress", () => {
  // The fixture runs the Envoy build on stock Envoy rules (envoy-build project) and the Higress build
  // on Higress's (default project); this adds the Envoy option, which only the Envoy build can meet.
  const option = HTTP_STORE ? { allowOnHeadersStopIteration: true } : {};

  test("admin refresh and delta, and a max_tokens admission, work", async () => {
    const vm = await fx.plugin({ ...BASE_CONFIG, reservation: { mode: "max_tokens", tokens: 64 }, missing_usage: "none" }, option);
    const refresh = vm.newStream();
    refresh.requestHeaders(request("POST", "/v1/chat/completions/quota/refresh", "admin"), false);
    refresh.requestBody("consumer=c1&", false);
    refresh.requestBody("quota=5000", true);
    await refresh.waitFor(() => refresh.localResponse !== null, "the refresh answer");
    expect(refresh.localResponse!.status).toBe(200);
    const delta = vm.newStream();
    delta.requestHeaders(request("POST", "/v1/chat/completions/quota/delta", "admin"), false);
    delta.requestBody("consumer=c1&value=-1000", true);
    await delta.waitFor(() => delta.localResponse !== null, "the delta answer");
    expect(delta.localResponse!.status).toBe(200);
    expect(await fx.balance("c1")).toBe("4000");

    const body = JSON.stringify({ model: "m", max_tokens: 300, messages: [{ role: "user", content: "hi" }] });
    const chat = vm.newStream();
    chat.requestHeaders(request("POST", "/v1/chat/completions", "c1", [["content-type", "application/json"]]), false);
    chat.requestBody(body.slice(0, 20), false);
    chat.requestBody(body.slice(20), true);
    await chat.waitFor(() => chat.upstream.ended, "the chat to reach the upstream");
    expect(chat.upstream.body.toString()).toBe(body);
    expect(await fx.balance("c1")).toBe(String(4000 - 300 - Math.ceil(body.length / 4)));
    chat.responseHeaders([[":status", "200"], ["content-type", "application/json"]]);
    chat.responseBody(openAiJson(10, 20), true);
    await vm.idle();
    expect(await fx.balance("c1")).toBe("3970");
  });
});

describe("Responses API background mode", () => {
  const responses = (consumer: string, body: object) => ({
    headers: request("POST", "/v1/responses", consumer, [["content-type", "application/json"]]),
    body: JSON.stringify(body),
  });
  const queued = () => jsonResponse(JSON.stringify({ id: "resp_1", object: "response", status: "queued", output: [] }));

  test("refused by default: 400 OpenAI-style, nothing reaches the model, nothing charged", async () => {
    const vm = await fx.plugin(BASE_CONFIG);
    await fx.setBalance("c1", 1000);
    const r = await vm.newStream().run({ request: responses("c1", { model: "m", background: true, input: "hi" }), response: queued });
    expect(r.status).toBe(400);
    expect(r.local?.details).toBe("ai-quota.background");
    expect(JSON.parse(r.text).error.param).toBe("background");
    expect(r.upstream).toBeNull();
    await vm.idle();
    expect(await fx.balance("c1")).toBe("1000");
  });

  test("responses_background: estimate admits it and charges its input estimate plus its output limit", async () => {
    const vm = await fx.plugin({ ...BASE_CONFIG, responses_background: "estimate" });
    await fx.setBalance("c1", 10_000);
    const req = responses("c1", { model: "m", background: true, max_output_tokens: 500, input: "hi" });
    const r = await vm.newStream().run({ request: req, response: queued });
    expect(r.status).toBe(200);
    await vm.idle();
    // (its input estimate from the request's text, was ⌈bytes / 2⌉ before issue 22)
    expect(await fx.balance("c1")).toBe(String(10_000 - inputEstimateOf(req.body, 2) - 500));
  });
});

describe("a client that leaves before its request has ended", () => {
  const BODY = '{"model":"gpt-4o","messages":[{"role":"user","content":"Say hello to the benchmark, at length."}]}';

  async function leaveAfter(vm: Awaited<ReturnType<QuotaFixture["plugin"]>>, consumer: string, body: string, endOfStream: boolean): Promise<void> {
    const s = vm.newStream();
    s.requestHeaders(request("POST", "/v1/chat/completions", consumer, [["content-type", "application/json"]]), false);
    await vm.idle(); // admitted
    s.requestBody(body, endOfStream);
    // No answer yet (a non-streaming call answers only when the whole generation is done).
    s.finish("downstream_remote_disconnect");
    await vm.idle();
  }

  test("a whole JSON document without END_STREAM costs what the same request with it costs", async () => {
    const vm = await fx.plugin(BASE_CONFIG);
    await fx.setBalance("ended", 1000);
    await fx.setBalance("held", 1000);
    await leaveAfter(vm, "ended", BODY, true);
    await leaveAfter(vm, "held", BODY + "\n", false);
    const ended = 1000 - Number(await fx.balance("ended"));
    expect(ended).toBeGreaterThanOrEqual(Math.ceil(Buffer.byteLength(BODY) / 2));
    expect(1000 - Number(await fx.balance("held"))).toBeGreaterThanOrEqual(ended);
  });

  test("part of a document (no upstream can parse it) costs nothing", async () => {
    const vm = await fx.plugin(BASE_CONFIG);
    await fx.setBalance("c1", 1000);
    await leaveAfter(vm, "c1", BODY.slice(0, 40), false);
    await leaveAfter(vm, "c1", BODY + " trailing", false);
    expect(await fx.balance("c1")).toBe("1000");
  });
});
