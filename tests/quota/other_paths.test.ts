// `other_paths`: a request on a metered route to a path the plugin cannot meter (images, audio,
// batches, an operator's own endpoints) is refused by default, passes with `action: pass`
// (Higress's behaviour), or is charged `request_cost` with `action: charge`; listings and health
// checks in `allow` pass whatever the action. Against the real plugin and a real Redis, tried as a
// client would that wants something for nothing.
import { PluginVm } from "../../host";
import { BASE_CONFIG, QuotaFixture, chat, jsonResponse, openAiJson, request } from "./fixture";

let fx: QuotaFixture;
let vm: PluginVm;
beforeAll(async () => {
  fx = await QuotaFixture.start();
  vm = await fx.plugin();
});
afterAll(async () => fx.stop());
beforeEach(async () => fx.flush());
afterEach(() => expect(vm.trapped).toBeNull());

type Method = "GET" | "HEAD" | "POST" | "DELETE" | "get" | "PUT";

async function call(v: PluginVm, method: Method, path: string, consumer: string | null = "c1", status = "200") {
  const body = method === "GET" || method === "HEAD" || method === "get" ? undefined : '{"model":"dall-e-3","prompt":"a cat"}';
  return v.newStream().run({
    request: { headers: request(method, path, consumer, body === undefined ? [] : [["content-type", "application/json"]]), ...(body === undefined ? {} : { body }) },
    response: () => ({ headers: [[":status", status], ["content-type", "application/json"]], body: '{"data":[]}' }),
  });
}

const UNMETERED: Array<[Method, string]> = [
  ["POST", "/v1/images/generations"],
  ["POST", "/v1/audio/speech"],
  ["POST", "/v1/audio/transcriptions"],
  ["POST", "/v1/batches"],
  ["POST", "/v1/threads/thread_1/runs"],
  ["POST", "/v1/videos"],
  ["POST", "/v1/rerank"],
  ["POST", "/score"],
  ["POST", "/pooling"],
  ["GET", "/v1/realtime?model=gpt-4o-realtime-preview"],
  ["POST", "/v1/chat/completions/quota/other"],
];

describe("by default (no other_paths) a path that is neither metered nor admin is refused", () => {
  test.each(UNMETERED)("%s %s → 403 ai-quota.path_not_metered, nothing sent upstream, no Redis call", async (method, path) => {
    await fx.setBalance("c1", 1000);
    const before = vm.redisCommands().length;
    const r = await call(vm, method, path);
    expect(r.local?.status).toBe(403);
    expect(r.local?.details).toBe("ai-quota.path_not_metered");
    expect(JSON.parse(r.local!.body.toString()).error.code).toBe("path_not_metered");
    expect(r.upstream).toBeNull();
    await vm.idle();
    expect(vm.redisCommands().length).toBe(before);
    expect(await fx.balance("c1")).toBe("1000");
  });

  test("the refusals are counted", async () => {
    const v = await fx.plugin();
    await call(v, "POST", "/v1/images/generations");
    await call(v, "POST", "/v1/audio/speech");
    expect(v.metrics()["ai_quota.other_paths.refused"]).toBe(2);
  });

  test("consumer checks still come first (no key: 401, as in Higress)", async () => {
    const r = await call(vm, "POST", "/v1/images/generations", null);
    expect(r.local?.status).toBe(401);
    expect(r.local?.details).toBe("ai-quota.no_key");
  });

  test("a metered path is metered whatever its method (GET /v1/chat/completions at balance 0 is refused for quota)", async () => {
    const r = await call(vm, "GET", "/v1/chat/completions", "broke");
    expect(r.local?.details).toBe("ai-quota.noquota");
  });
});

describe("the default allow list: listings, health checks and free token counters pass, even at balance 0", () => {
  test.each<[Method, string]>([
    ["GET", "/v1/models"],
    ["HEAD", "/v1/models"],
    ["GET", "/v1/models/"],
    ["GET", "/openai/v1/models?limit=5"],
    ["GET", "/v1/models/gpt-4o"],
    ["GET", "/v1beta/models"],
    ["GET", "/v1beta/models/gemini-2.0-flash"],
    ["GET", "/api/tags"],
    ["GET", "/api/version"],
    ["GET", "/api/ps"],
    ["GET", "/health"],
    ["GET", "/healthz"],
    ["GET", "/HEALTH"],
    ["GET", "/readyz"],
    ["GET", "/info"],
    ["POST", "/v1/messages/count_tokens"],
    ["POST", "/v1beta/models/gemini-2.0-flash:countTokens"],
  ])("%s %s", async (method, path) => {
    const before = vm.redisCommands().length;
    const r = await call(vm, method, path, "broke");
    expect(r.local).toBeNull();
    expect(r.upstream).not.toBeNull();
    expect(r.status).toBe(200);
    await vm.idle();
    expect(vm.redisCommands().length).toBe(before);
  });

  test.each<[string, Method, string]>([
    ["a listing path, POSTed", "POST", "/v1/models"],
    ["a listing path, DELETEd (OpenAI deletes a fine-tuned model so)", "DELETE", "/v1/models/ft:gpt-4o:acme"],
    ["a lower-case method (upstreams route methods case-sensitively)", "get", "/v1/models"],
    ["two segments after /models", "GET", "/v1/models/a/b"],
    ["a dot segment", "GET", "/v1/images/../models"],
    ["an escaped slash and dot segments", "GET", "/v1/images%2F..%2Fmodels"],
    ["an escaped letter", "GET", "/v1/mod%65ls"],
    ["an empty segment", "GET", "/v1//models"],
    ["a backslash", "GET", "/v1\\models"],
    ["a DEL byte", "GET", "/health\u007f"],
    ["a space", "GET", "/v1/models /x"],
    ["a matrix parameter", "GET", "/v1/models;x"],
    ["a path that only ends like a listing", "GET", "/v1/mymodels"],
    ["count_tokens, read", "GET", "/v1/messages/count_tokens"],
    ["a bare :countTokens segment", "POST", "/v1beta/models/:countTokens"],
  ])("not allowed: %s (%s %s) → refused", async (_what, method, path) => {
    const r = await call(vm, method, path);
    expect(r.local?.details).toBe("ai-quota.path_not_metered");
    expect(r.upstream).toBeNull();
  });

  test("what allow lets through is counted", async () => {
    const v = await fx.plugin();
    await call(v, "GET", "/v1/models");
    await call(v, "GET", "/health");
    expect(v.metrics()["ai_quota.other_paths.allowed"]).toBe(2);
    expect(v.metrics()["ai_quota.other_paths.refused"] ?? 0).toBe(0);
  });
});

describe("other_paths.allow replaces the default list", () => {
  test("entries: a path (GET and HEAD), METHOD path, several methods, * for any method, * for a segment", async () => {
    const v = await fx.plugin({ ...BASE_CONFIG, other_paths: { allow: ["/status", "POST /v1/tokenize", "GET,DELETE /v1/files/*", "* /ping", "GET /v2/*/meta"] } });
    const passes: Array<[Method, string]> = [["GET", "/status"], ["HEAD", "/status"], ["POST", "/v1/tokenize"], ["GET", "/v1/files/f1"], ["DELETE", "/v1/files/f1"], ["PUT", "/ping"], ["GET", "/v2/x/meta"]];
    for (const [method, path] of passes) {
      const r = await call(v, method, path, "broke");
      expect([method, path, r.local?.details ?? "passed"]).toEqual([method, path, "passed"]);
    }
    const refused: Array<[Method, string]> = [["POST", "/status"], ["GET", "/v1/tokenize"], ["POST", "/v1/files/f1"], ["GET", "/v1/models"], ["GET", "/v1/files"], ["GET", "/v2/meta"]];
    for (const [method, path] of refused) {
      const r = await call(v, method, path);
      expect([method, path, r.local?.details]).toEqual([method, path, "ai-quota.path_not_metered"]);
    }
  });

  test("an empty list allows nothing", async () => {
    const v = await fx.plugin({ ...BASE_CONFIG, other_paths: { allow: [] } });
    const r = await call(v, "GET", "/v1/models");
    expect(r.local?.details).toBe("ai-quota.path_not_metered");
  });

  test("allow never takes a metered path out of metering", async () => {
    const v = await fx.plugin({ ...BASE_CONFIG, other_paths: { allow: ["* /chat/completions", "* /v1/messages"] } });
    const r = await chat(v, "broke", jsonResponse(openAiJson(5, 5)));
    expect(r.local?.details).toBe("ai-quota.noquota");
  });
});

describe("action: pass (Higress's behaviour)", () => {
  test("every such path passes untouched with no Redis call, counted", async () => {
    const v = await fx.plugin({ ...BASE_CONFIG, other_paths: { action: "pass" } });
    const before = v.redisCommands().length;
    for (const [method, path] of UNMETERED) {
      const r = await call(v, method, path, "broke");
      expect([path, r.local]).toEqual([path, null]);
    }
    await v.idle();
    expect(v.redisCommands().length).toBe(before);
    expect(v.metrics()["ai_quota.other_paths.passed"]).toBe(UNMETERED.length);
  });
});

describe("action: charge", () => {
  const CHARGE = { ...BASE_CONFIG, other_paths: { action: "charge", request_cost: 7 } };

  test("refused without balance; with balance, request_cost is charged once per request, whatever the answer says", async () => {
    const v = await fx.plugin(CHARGE);
    const broke = await call(v, "POST", "/v1/images/generations", "broke");
    expect(broke.local?.details).toBe("ai-quota.noquota");
    expect(broke.upstream).toBeNull();
    await fx.setBalance("c1", 100);
    const r = await v.newStream().run({
      request: { headers: request("POST", "/v1/images/generations", "c1"), body: '{"prompt":"a cat"}' },
      // A usage the upstream reports is not read: the cost is flat.
      response: () => jsonResponse(openAiJson(1000, 1000)),
    });
    expect(r.status).toBe(200);
    await v.idle();
    expect(await fx.balance("c1")).toBe("93");
    expect(v.metrics()["ai_quota.other_paths.charged"]).toBe(1);
  });

  test("the upstream's error costs nothing; an answer cut after the request was sent costs request_cost", async () => {
    const v = await fx.plugin(CHARGE);
    await fx.setBalance("c1", 100);
    await call(v, "POST", "/v1/images/generations", "c1", "500");
    await v.idle();
    expect(await fx.balance("c1")).toBe("100");
    const s = v.newStream();
    s.requestHeaders(request("POST", "/v1/images/generations", "c1"), false);
    s.requestBody('{"prompt":"a cat"}', true);
    await s.waitFor(() => s.upstream.ended, "admission");
    s.finish("upstream_reset_before_response_started");
    await v.idle();
    expect(await fx.balance("c1")).toBe("93");
  });

  test("a client that leaves before its request is whole, with no answer, gets the reservation back", async () => {
    const v = await fx.plugin(CHARGE);
    await fx.setBalance("c1", 100);
    const s = v.newStream();
    s.requestHeaders(request("POST", "/v1/images/generations", "c1"), false);
    s.requestBody('{"prompt":', false);
    await s.waitFor(() => v.redisCommands().length > 0, "admission sent");
    await v.idle();
    s.finish("downstream_remote_disconnect");
    await v.idle();
    expect(await fx.balance("c1")).toBe("100");
  });

  test("GET listings in allow stay free; the rest of GETs are charged", async () => {
    const v = await fx.plugin(CHARGE);
    await fx.setBalance("c1", 100);
    await call(v, "GET", "/v1/models");
    await call(v, "GET", "/v1/files/f1");
    await v.idle();
    expect(await fx.balance("c1")).toBe("93");
  });

  async function concurrent(v: PluginVm, n: number): Promise<number> {
    const streams = [];
    for (let i = 0; i < n; i++) {
      const s = v.newStream();
      s.requestHeaders(request("POST", "/v1/images/generations", "c1"), true);
      streams.push(s);
    }
    await Promise.all(streams.map((s) => s.waitFor(() => s.upstream.ended || s.localResponse !== null, "admission")));
    const admitted = streams.filter((s) => s.upstream.ended);
    for (const s of admitted) {
      s.responseHeaders([[":status", "200"], ["content-type", "application/json"]]);
      s.responseBody('{"data":[]}', true);
    }
    await v.idle();
    return admitted.length;
  }

  test("under concurrency the cost is reserved: 20 requests on a balance of 20 overspend by less than one request", async () => {
    const v = await fx.plugin(CHARGE);
    await fx.setBalance("c1", 20);
    expect(await concurrent(v, 20)).toBe(3);
    expect(await fx.balance("c1")).toBe("-1");
  });

  test("with reservation.require_full, never below 0", async () => {
    const v = await fx.plugin({ ...CHARGE, reservation: { mode: "none", require_full: true } });
    await fx.setBalance("c1", 20);
    expect(await concurrent(v, 20)).toBe(2);
    expect(await fx.balance("c1")).toBe("6");
  });

  test("an anonymous client (keyed by address) is held to the anonymous limits, and a consumer header it sends is not believed", async () => {
    const v = await fx.plugin({ ...CHARGE, anonymous: { limits: [{ unit: "requests", limit: 2, window: "minute" }] } });
    const results = [];
    for (let i = 0; i < 3; i++) results.push((await call(v, "POST", "/v1/images/generations", i === 2 ? "c1" : null)).local?.details ?? "passed");
    expect(results).toEqual(["passed", "passed", "ai-quota.window_exceeded"]);
    await v.idle();
    expect(await fx.balance("c1")).toBeNull();
  });

  test("windows count a charged request: a limit of 2 requests per minute admits two", async () => {
    const v = await fx.plugin({ ...CHARGE, limits: [{ unit: "requests", limit: 2, window: "minute" }] });
    await fx.setBalance("c1", 100);
    const results = [];
    for (let i = 0; i < 3; i++) results.push((await call(v, "POST", "/v1/images/generations")).local?.details ?? "passed");
    expect(results).toEqual(["passed", "passed", "ai-quota.window_exceeded"]);
    await v.idle();
    expect(await fx.balance("c1")).toBe("86");
  });
});

describe("configuration", () => {
  test.each<[string, object, RegExp]>([
    ["an unknown action", { action: "deny" }, /other_paths\.action must be one of refuse, pass, charge/],
    ["a cost of 0", { action: "charge", request_cost: 0 }, /other_paths\.request_cost must be between 1 and/],
    ["a fractional cost", { action: "charge", request_cost: 1.5 }, /other_paths\.request_cost must be an integer/],
    ["allow not a list", { allow: "/health" }, /other_paths\.allow must be a list/],
    ["a lower-case method", { allow: ["get /health"] }, /other_paths\.allow\[0\] must be/],
    ["a dot segment", { allow: ["/v1/../health"] }, /other_paths\.allow\[0\] must be/],
    ["an escape", { allow: ["/v1/%68ealth"] }, /other_paths\.allow\[0\] must be/],
    ["no leading slash", { allow: ["health"] }, /other_paths\.allow\[0\] must be/],
    ["a bare slash", { allow: ["/"] }, /other_paths\.allow\[0\] must be/],
    ["a wildcard inside a segment", { allow: ["/a*b"] }, /other_paths\.allow\[0\] must be/],
  ])("%s is refused at start, naming the field", async (_what, otherPaths, message) => {
    const { configured, vm: v } = await fx.vm({ ...BASE_CONFIG, other_paths: otherPaths });
    expect(configured).toBe(false);
    expect(v.logText()).toMatch(message);
  });

  test("request_cost without action: charge is ignored, with a warning; unknown keys are warned about", async () => {
    const { configured, vm: v } = await fx.vm({ ...BASE_CONFIG, other_paths: { request_cost: 5, alow: [] } });
    expect(configured).toBe(true);
    expect(v.logText()).toMatch(/other_paths\.request_cost is ignored unless other_paths\.action is charge/);
    expect(v.logText()).toMatch(/unknown config key other_paths\.alow is ignored/);
  });
});

describe("metrics per format", () => {
  test("admitted requests and charged units are counted per API format", async () => {
    const v = await fx.plugin();
    await fx.setBalance("c1", 1000);
    await chat(v, "c1", jsonResponse(openAiJson(10, 5)));
    await chat(v, "c1", jsonResponse(openAiJson(1, 2)));
    await chat(v, "c1", jsonResponse(JSON.stringify({ type: "message", usage: { input_tokens: 3, output_tokens: 4 } })), { path: "/v1/messages" });
    await v.idle();
    const m = v.metrics();
    expect(m["ai_quota.api.openai_chat.requests"]).toBe(2);
    expect(m["ai_quota.api.openai_chat.units"]).toBe(18);
    expect(m["ai_quota.api.anthropic_messages.requests"]).toBe(1);
    expect(m["ai_quota.api.anthropic_messages.units"]).toBe(7);
    expect(m["ai_quota.tokens.charged"]).toBe(25);
  });
});
