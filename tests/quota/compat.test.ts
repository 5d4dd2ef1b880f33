// The compatibility contract with Higress's ai-quota, row by row (shared/BRIEF.md), against the
// real plugin and a real redis-server. Ported scenarios of Higress's main_test.go are marked.
import { PluginVm } from "../../host";
import { BASE_CONFIG, QuotaFixture, adminGet, adminPost, chat, header, jsonResponse, openAiJson, openAiSse, request, sseResponse } from "./fixture";

let fx: QuotaFixture;
let vm: PluginVm;

beforeAll(async () => {
  fx = await QuotaFixture.start();
  vm = await fx.plugin();
});
afterAll(async () => fx.stop());
beforeEach(async () => fx.flush());
afterEach(() => expect(vm.trapped).toBeNull());

function expectLocal(r: { local: { status: number; details: string; body: Buffer; headers: [string, string][] } | null }, status: number, details: string, body: string, contentType = "text/plain") {
  expect(r.local).not.toBeNull();
  expect(r.local!.status).toBe(status);
  expect(r.local!.details).toBe(details);
  expect(r.local!.body.toString()).toBe(body);
  expect(header(r.local!.headers, "content-type")).toBe(contentType);
}

describe("consumer checks", () => {
  test("no x-mse-consumer → 401 ai-quota.no_key (main_test: no consumer)", async () => {
    const r = await chat(vm, null, jsonResponse(openAiJson(1, 1)));
    expectLocal(r, 401, "ai-quota.no_key", "Request denied by ai quota check. No Key Authentication information found.");
    expect(r.upstream).toBeNull();
  });

  test("empty consumer → 403 ai-quota.unauthorized", async () => {
    const r = await chat(vm, "", jsonResponse(openAiJson(1, 1)));
    expectLocal(r, 403, "ai-quota.unauthorized", "Request denied by ai quota check. Unauthorized consumer.");
  });

  test("consumer checks come first, on any path, as in Higress", async () => {
    const r = await vm.newStream().run({ request: { headers: request("GET", "/other/path", null) } });
    expect(r.local?.status).toBe(401);
  });
});

describe("metered chat", () => {
  test("missing key → 403 ai-quota.noquota", async () => {
    const r = await chat(vm, "consumer1", jsonResponse(openAiJson(1, 1)));
    expectLocal(r, 403, "ai-quota.noquota", "Request denied by ai quota check, No quota left");
    expect(r.upstream).toBeNull();
  });

  test.each([["0"], ["-5"], ["abc"], ["12abc"], ["1.5"]])("balance %s → 403 ai-quota.noquota", async (value) => {
    await fx.setBalance("consumer1", value);
    const r = await chat(vm, "consumer1", jsonResponse(openAiJson(1, 1)));
    expectLocal(r, 403, "ai-quota.noquota", "Request denied by ai quota check, No quota left");
    expect(await fx.balance("consumer1")).toBe(value);
  });

  test("wrong Redis type → 403 ai-quota.noquota", async () => {
    await fx.client.command("LPUSH", "chat_quota:consumer1", "x");
    const r = await chat(vm, "consumer1", jsonResponse(openAiJson(1, 1)));
    expect(r.local?.status).toBe(403);
    expect(r.local?.details).toBe("ai-quota.noquota");
  });

  test("positive balance → passes; the request waits on one GET (main_test: chat completion mode)", async () => {
    await fx.setBalance("consumer1", 100);
    const before = vm.redisCommands().length;
    const r = await chat(vm, "consumer1", jsonResponse(openAiJson(10, 5)));
    expect(r.local).toBeNull();
    expect(r.status).toBe(200);
    expect(r.upstream).not.toBeNull();
    await vm.idle();
    const sent = vm.redisCommands().slice(before);
    expect(sent[0]).toEqual(["GET", "chat_quota:consumer1"]);
    expect(await fx.balance("consumer1")).toBe("85");
  });

  test("with settlement_retry_seconds: 0 the charge is Higress's own DECRBY", async () => {
    const plain = await fx.plugin({ ...BASE_CONFIG, settlement_retry_seconds: 0 });
    await fx.setBalance("consumer1", 100);
    await chat(plain, "consumer1", jsonResponse(openAiJson(10, 5)));
    await plain.idle();
    expect(plain.redisCommands()).toEqual([["GET", "chat_quota:consumer1"], ["DECRBY", "chat_quota:consumer1", "15"]]);
    expect(await fx.balance("consumer1")).toBe("85");
  });

  test("the default settlement is a script with a marker key outside redis_key_prefix, living 6 minutes", async () => {
    await fx.setBalance("consumer1", 100);
    await chat(vm, "consumer1", jsonResponse(openAiJson(10, 5)));
    await vm.idle();
    const keys = (await fx.client.command("KEYS", "*")) as string[];
    const markers = keys.filter((k) => k.startsWith("ai_quota_settled:{chat_quota:consumer1}:"));
    expect(markers.length).toBe(1);
    expect(keys.filter((k) => k.startsWith("chat_quota:"))).toEqual(["chat_quota:consumer1"]);
    const ttl = Number(await fx.client.command("TTL", markers[0]));
    expect(ttl).toBeGreaterThan(350);
    expect(ttl).toBeLessThanOrEqual(360);
  });

  test("the balance check holds the request with StopAllIterationAndWatermark", async () => {
    await fx.setBalance("consumer1", 100);
    const s = vm.newStream();
    s.requestHeaders(request("POST", "/v1/chat/completions", "consumer1"), false);
    expect(s.paused.request).toBe("all");
    s.requestBody("{}", true);
    await s.waitFor(() => s.upstream.ended, "the request to go upstream");
    s.finish();
    // The cut request is settled (an estimate): let it land before the next test resets Redis.
    await vm.idle();
  });

  test("the query string is ignored and the match is a suffix", async () => {
    await fx.setBalance("consumer1", 100);
    const r = await chat(vm, "consumer1", jsonResponse(openAiJson(1, 2)), { path: "/openai/v1/chat/completions?x=1" });
    expect(r.upstream).not.toBeNull();
    await vm.idle();
    expect(await fx.balance("consumer1")).toBe("97");
  });

  test("with other_paths: pass, other paths pass untouched, with no Redis call (main_test: non-chat completion mode)", async () => {
    // Higress passes every path it does not meter; ours refuses them unless told (README, "What changed").
    const vm = await fx.plugin({ ...BASE_CONFIG, other_paths: { action: "pass" } });
    const before = vm.redisCommands().length;
    const r = await vm.newStream().run({
      request: { headers: request("POST", "/other/path", "consumer1"), body: "x" },
      response: () => jsonResponse(openAiJson(5, 5)),
    });
    expect(r.local).toBeNull();
    expect(r.text).toBe(openAiJson(5, 5));
    await vm.idle();
    expect(vm.redisCommands().length).toBe(before);
  });
});

describe("charging", () => {
  beforeEach(async () => fx.setBalance("consumer1", 1000));

  test("from a JSON body", async () => {
    await chat(vm, "consumer1", jsonResponse(openAiJson(12, 30)));
    await vm.idle();
    expect(await fx.balance("consumer1")).toBe("958");
  });

  test("from a JSON body in many chunks", async () => {
    const body = openAiJson(7, 8);
    const parts = body.match(/.{1,5}/gs)!;
    await chat(vm, "consumer1", jsonResponse(parts));
    await vm.idle();
    expect(await fx.balance("consumer1")).toBe("985");
  });

  // Changed by design (issue 22 item 4): ai_log used to win over the body even when lower (993);
  // now each side is the larger of the two, so a lower ai_log cannot lower the answer's own count.
  test("from the ai_log filter state of ai-statistics, where it says more than the body (per side)", async () => {
    await chat(vm, "consumer1", jsonResponse(openAiJson(100, 100)), {
      filterState: { "wasm.ai_log": JSON.stringify({ model: "gpt-4o", input_token: 3, output_token: 400 }) },
    });
    await vm.idle();
    expect(await fx.balance("consumer1")).toBe(String(1000 - 100 - 400));
  });

  test("from SSE, the usage event split at every byte offset", async () => {
    const body = openAiSse(20, 22);
    const usageAt = body.indexOf("data: {", body.indexOf('"usage":{'));
    const usageStart = body.lastIndexOf("data: ", body.indexOf('"usage":{"prompt'));
    const from = Math.max(usageAt, usageStart);
    await fx.setBalance("consumer1", 1_000_000);
    let expected = 1_000_000;
    for (let cut = from; cut <= body.length; cut++) {
      await chat(vm, "consumer1", sseResponse([body.slice(0, cut), body.slice(cut)]));
      expected -= 42;
    }
    await vm.idle();
    expect(await fx.balance("consumer1")).toBe(String(expected));
  });

  test("no usage in the answer → an estimate is charged (ours: Higress charges nothing), and a debug line says so", async () => {
    await chat(vm, "consumer1", jsonResponse('{"id":"x","choices":[]}'));
    await vm.idle();
    const left = Number(await fx.balance("consumer1"));
    expect(left).toBeLessThan(1000);
    expect(left).toBeGreaterThan(900);
    expect(vm.logText()).toMatch(/no complete usage for consumer1, charging the estimate/);
  });

  test("missing_usage: none → Higress's behaviour: nothing charged, and a debug line says so", async () => {
    const higress = await fx.plugin({ ...BASE_CONFIG, missing_usage: "none" });
    await chat(higress, "consumer1", jsonResponse('{"id":"x","choices":[]}'));
    await higress.idle();
    expect(await fx.balance("consumer1")).toBe("1000");
    expect(higress.logText()).toMatch(/no token usage found for consumer1/);
  });

  test("a denied request is never charged", async () => {
    await fx.setBalance("consumer2", 0);
    await chat(vm, "consumer2", jsonResponse(openAiJson(5, 5)));
    await vm.idle();
    expect(await fx.balance("consumer2")).toBe("0");
  });
});

describe("admin API", () => {
  test("query → 200 JSON (main_test: admin query mode)", async () => {
    await fx.setBalance("consumer1", 500);
    const r = await adminGet(vm, "admin", "?consumer=consumer1");
    expectLocal(r, 200, "ai-quota.queryquota", '{"consumer":"consumer1","quota":500}', "application/json");
  });

  test("query of a missing key → quota 0", async () => {
    const r = await adminGet(vm, "admin", "?consumer=nobody");
    expectLocal(r, 200, "ai-quota.queryquota", '{"consumer":"nobody","quota":0}', "application/json");
  });

  test("query escapes the consumer as Go's encoding/json does", async () => {
    const r = await adminGet(vm, "admin", "?consumer=%3Cb%3E%22x%22%26");
    expect(r.local?.body.toString()).toBe('{"consumer":"\\u003cb\\u003e\\"x\\"\\u0026","quota":0}');
  });

  test("query without consumer → 403", async () => {
    for (const q of ["", "?consumer=", "?other=1"]) {
      const r = await adminGet(vm, "admin", q);
      expectLocal(r, 403, "ai-quota.unauthorized", "Request denied by ai quota check. consumer can't be empty.");
    }
  });

  test("non-admin consumer → 403 on every admin path", async () => {
    const q = await adminGet(vm, "consumer1", "?consumer=consumer1");
    expectLocal(q, 403, "ai-quota.unauthorized", "Request denied by ai quota check. Unauthorized admin consumer.");
    for (const op of ["refresh", "delta"] as const) {
      const r = await adminPost(vm, "consumer1", op, "consumer=consumer1&quota=5&value=5");
      expectLocal(r, 403, "ai-quota.unauthorized", "Request denied by ai quota check. Unauthorized admin consumer.");
    }
    expect(await fx.balance("consumer1")).toBeNull();
  });

  test("refresh → SET (main_test: admin refresh mode)", async () => {
    const r = await adminPost(vm, "admin", "refresh", "consumer=consumer1&quota=1000");
    expectLocal(r, 200, "ai-quota.refreshquota", "refresh quota successful");
    expect(await fx.balance("consumer1")).toBe("1000");
  });

  test("refresh with a body in several chunks, percent-encoded", async () => {
    const r = await adminPost(vm, "admin", "refresh", ["consumer=team%2F", "a+b&quo", "ta=%2B42"]);
    expectLocal(r, 200, "ai-quota.refreshquota", "refresh quota successful");
    expect(await fx.balance("team/a b")).toBe("42");
  });

  test.each([
    ["quota=5"], ["consumer=&quota=5"], ["consumer=c1"], ["consumer=c1&quota=abc"], ["consumer=c1&quota=1.5"],
    ["consumer=c1&quota=9223372036854775808"], ["consumer=c1&quota= 5"], [""],
  ])("refresh with %j → 403 must be integer", async (body) => {
    const r = await adminPost(vm, "admin", "refresh", body);
    expectLocal(r, 403, "ai-quota.unauthorized", "Request denied by ai quota check. consumer can't be empty and quota must be integer.");
  });

  test("refresh with no body at all → 403 must be integer", async () => {
    const r = await vm.newStream().run({ request: { headers: request("POST", "/v1/chat/completions/quota/refresh", "admin") } });
    expectLocal(r, 403, "ai-quota.unauthorized", "Request denied by ai quota check. consumer can't be empty and quota must be integer.");
  });

  test("delta up and down → INCRBY / DECRBY by |value|", async () => {
    await fx.setBalance("consumer1", 100);
    const up = await adminPost(vm, "admin", "delta", "consumer=consumer1&value=50");
    expectLocal(up, 200, "ai-quota.deltaquota", "delta quota successful");
    expect(await fx.balance("consumer1")).toBe("150");
    const down = await adminPost(vm, "admin", "delta", "consumer=consumer1&value=-70");
    expectLocal(down, 200, "ai-quota.deltaquota", "delta quota successful");
    expect(await fx.balance("consumer1")).toBe("80");
    const cmds = vm.redisCommands().filter((c) => c[0] === "INCRBY" || c[0] === "DECRBY");
    expect(cmds.slice(-2)).toEqual([["INCRBY", "chat_quota:consumer1", "50"], ["DECRBY", "chat_quota:consumer1", "70"]]);
  });

  test.each([["value=5"], ["consumer=c1&value="], ["consumer=c1&value=x"], ["consumer=c1&value=-9223372036854775809"]])(
    "delta with %j → 403 must be integer", async (body) => {
      const r = await adminPost(vm, "admin", "delta", body);
      expectLocal(r, 403, "ai-quota.unauthorized", "Request denied by ai quota check. consumer can't be empty and value must be integer.");
    });

  test("delta on a non-integer value → 503 with Redis's reason", async () => {
    await fx.setBalance("consumer1", "abc");
    const r = await adminPost(vm, "admin", "delta", "consumer=consumer1&value=5");
    expectLocal(r, 503, "ai-quota.error", "redis error:ERR value is not an integer or out of range");
  });

  test("query of a non-integer value → 503, not a made-up 0", async () => {
    await fx.setBalance("consumer1", "abc");
    const r = await adminGet(vm, "admin", "?consumer=consumer1");
    expect(r.local?.status).toBe(503);
    expect(r.local?.details).toBe("ai-quota.error");
  });

  test("admin_path and redis_key_prefix are honoured", async () => {
    const custom = await fx.plugin({ admin_consumer: "root", admin_path: "/q", redis_key_prefix: "tq:", redis: { service_name: "redis.static" } });
    const r = await custom.newStream().run({
      request: { headers: request("POST", "/v1/chat/completions/q/refresh", "root"), body: "consumer=c9&quota=77" },
    });
    expect(r.local?.status).toBe(200);
    expect(await fx.balance("c9", "tq:")).toBe("77");
    const q = await custom.newStream().run({ request: { headers: request("GET", "/v1/chat/completions/q?consumer=c9", "root") } });
    expect(q.local?.body.toString()).toBe('{"consumer":"c9","quota":77}');
  });
});
