// Exact accounting (opt-in): reservations taken atomically at admission, settled once at the end,
// released or kept for cut streams, and the failure policy for Redis on the request path.
import { createHash } from "node:crypto";
import { PluginVm } from "../../host";
import { BASE_CONFIG, QuotaFixture, chat, header, jsonResponse, openAiJson, openAiSse, openChat, request } from "./fixture";

let fx: QuotaFixture;
beforeAll(async () => { fx = await QuotaFixture.start(); });
afterAll(async () => fx.stop());
beforeEach(async () => fx.flush());

function withPolicy(policy: object): object {
  return { ...BASE_CONFIG, ...policy };
}

describe("reservation: fixed", () => {
  const config = withPolicy({ reservation: { mode: "fixed", tokens: 100 } });

  test("admission reserves with one script; settlement gives back reserved − used in one INCRBY", async () => {
    const vm = await fx.plugin(config);
    await fx.setBalance("c1", 1000);
    const s = await openChat(vm, "c1");
    expect(s.upstream.ended).toBe(true);
    expect(await fx.balance("c1")).toBe("900");
    s.responseHeaders([[":status", "200"], ["content-type", "application/json"]]);
    s.responseBody(openAiJson(10, 20), true);
    await vm.idle();
    expect(await fx.balance("c1")).toBe("970");
    const cmds = vm.redisCommands();
    expect(cmds.map((c) => c[0])).toEqual(["EVALSHA", "EVAL", "EVALSHA", "EVAL"]);
    // The settlement: +70 to the balance (100 reserved, 30 used), applied only by removing the
    // marker the admission left ("d"), so it can never apply twice.
    expect(cmds[3].slice(2, 4)).toEqual(["2", "chat_quota:c1"]);
    expect(cmds[3][4]).toBe(cmds[1][4]);
    expect(cmds[3].slice(5)).toEqual(["70", "d"]);
    expect((await fx.client.command("KEYS", "ai_quota_settled:*")) as string[]).toEqual([]);
  });

  test("the script's SHA-1 is the one the plugin sends with EVALSHA, and it is cached after the first EVAL", async () => {
    const vm = await fx.plugin(config);
    await fx.setBalance("c1", 1000);
    await chat(vm, "c1", jsonResponse(openAiJson(1, 1)));
    await chat(vm, "c1", jsonResponse(openAiJson(1, 1)));
    await vm.idle();
    const cmds = vm.redisCommands();
    // Two scripts (admission, settlement): each sent in full once, then by SHA-1 only.
    const scripts = cmds.filter((c) => c[0] === "EVAL").map((c) => c[1]);
    expect(scripts.length).toBe(2);
    const shas = new Set(cmds.filter((c) => c[0] === "EVALSHA").map((c) => c[1]));
    expect(shas).toEqual(new Set(scripts.map((s) => createHash("sha1").update(s).digest("hex"))));
    expect(await fx.balance("c1")).toBe("996");
  });

  test("usage above the reservation is charged in full (INCRBY of a negative amount)", async () => {
    const vm = await fx.plugin(config);
    await fx.setBalance("c1", 1000);
    await chat(vm, "c1", jsonResponse(openAiJson(100, 50)));
    await vm.idle();
    expect(await fx.balance("c1")).toBe("850");
  });

  test.each([["missing", null], ["zero", "0"], ["negative", "-3"], ["not an integer", "12x"]])("balance %s → 403 noquota, nothing reserved", async (_w, value) => {
    const vm = await fx.plugin(config);
    if (value !== null) await fx.setBalance("c1", value);
    const r = await chat(vm, "c1", jsonResponse(openAiJson(1, 1)));
    expect(r.local?.status).toBe(403);
    expect(r.local?.details).toBe("ai-quota.noquota");
    expect(await fx.balance("c1")).toBe(value);
  });

  test("require_full denies a balance below the reservation", async () => {
    const vm = await fx.plugin(withPolicy({ reservation: { mode: "fixed", tokens: 100, require_full: true } }));
    await fx.setBalance("c1", 99);
    const r = await chat(vm, "c1", jsonResponse(openAiJson(1, 1)));
    expect(r.local?.status).toBe(403);
    await fx.setBalance("c1", 100);
    const ok = await chat(vm, "c1", jsonResponse(openAiJson(1, 1)));
    expect(ok.local).toBeNull();
    await vm.idle();
    expect(await fx.balance("c1")).toBe("98");
  });
});

describe("no overspend under concurrency", () => {
  async function concurrent(vm: PluginVm, n: number, used: number): Promise<number> {
    const streams = [];
    for (let i = 0; i < n; i++) {
      const s = vm.newStream();
      s.requestHeaders(request("POST", "/v1/chat/completions", "c1"), false);
      s.requestBody('{"messages":[]}', true);
      streams.push(s);
    }
    await Promise.all(streams.map((s) => s.waitFor(() => s.upstream.ended || s.localResponse !== null, "admission")));
    const admitted = streams.filter((s) => s.upstream.ended);
    for (const s of admitted) {
      s.responseHeaders([[":status", "200"], ["content-type", "application/json"]]);
      s.responseBody(openAiJson(used / 2, used / 2), true);
    }
    await vm.idle();
    return admitted.length;
  }

  test("Higress behaviour (no reservation): 20 concurrent requests on a balance of 1 all pass and overspend", async () => {
    const vm = await fx.plugin();
    await fx.setBalance("c1", 1);
    const admitted = await concurrent(vm, 20, 100);
    expect(admitted).toBe(20);
    expect(await fx.balance("c1")).toBe(String(1 - 20 * 100));
  });

  test("with a reservation that covers the answer, only what the balance covers passes and the balance stays ≥ 0", async () => {
    const vm = await fx.plugin(withPolicy({ reservation: { mode: "fixed", tokens: 100, require_full: true } }));
    await fx.setBalance("c1", 350);
    const admitted = await concurrent(vm, 20, 100);
    expect(admitted).toBe(3);
    expect(await fx.balance("c1")).toBe("50");
  });

  test("without require_full the overspend is below one reservation", async () => {
    const vm = await fx.plugin(withPolicy({ reservation: { mode: "fixed", tokens: 100 } }));
    await fx.setBalance("c1", 1);
    const admitted = await concurrent(vm, 20, 100);
    expect(admitted).toBe(1);
    expect(Number(await fx.balance("c1"))).toBeGreaterThan(-100);
  });
});

describe("cut streams and upstream errors", () => {
  const sseHead: [string, string][] = [[":status", "200"], ["content-type", "text/event-stream"]];
  const partial = openAiSse(10, 10).split("\n\n").slice(0, 2).join("\n\n") + "\n\n";

  test.each([
    ["client gone before any usage: the reservation is released (missing_usage none, on_incomplete: release)", { missing_usage: "none" }, "1000"],
    ["on_incomplete: charge_reserved keeps the reservation as the charge", { on_incomplete: "charge_reserved" }, "900"],
  ])("%s", async (_name, policy, balance) => {
    const vm = await fx.plugin(withPolicy({ reservation: { mode: "fixed", tokens: 100 }, ...policy }));
    await fx.setBalance("c1", 1000);
    const s = await openChat(vm, "c1");
    s.responseHeaders(sseHead);
    s.responseBody(partial, false);
    s.finish("client disconnected");
    await vm.idle();
    expect(await fx.balance("c1")).toBe(balance);
  });

  test("client gone before any usage (default missing_usage: estimate): the estimate is kept, the rest released", async () => {
    const vm = await fx.plugin(withPolicy({ reservation: { mode: "fixed", tokens: 100 } }));
    await fx.setBalance("c1", 1000);
    const s = await openChat(vm, "c1");
    s.responseHeaders(sseHead);
    s.responseBody(partial, false);
    s.finish("client disconnected");
    await vm.idle();
    const left = Number(await fx.balance("c1"));
    // Kept: more than nothing (the prompt was read and words were streamed), less than the reservation.
    expect(left).toBeLessThan(1000);
    expect(left).toBeGreaterThan(900);
    expect(vm.metrics()["ai_quota.settlements.estimated"]).toBe(1);
  });

  test("a stream cut after its usage event is charged the usage, once", async () => {
    const vm = await fx.plugin(withPolicy({ reservation: { mode: "fixed", tokens: 100 } }));
    await fx.setBalance("c1", 1000);
    const s = await openChat(vm, "c1");
    s.responseHeaders(sseHead);
    const body = openAiSse(30, 12);
    s.responseBody(body.slice(0, body.indexOf("data: [DONE]")), false);
    s.finish("upstream reset");
    await vm.idle();
    expect(await fx.balance("c1")).toBe("958");
    expect(vm.redisCommands().filter((c) => c[0] === "EVALSHA" && c[c.length - 1] === "d").length).toBe(1);
  });

  test("without a reservation, a cut stream is charged the usage seen (Higress charges nothing)", async () => {
    const vm = await fx.plugin();
    await fx.setBalance("c1", 1000);
    const s = await openChat(vm, "c1");
    s.responseHeaders(sseHead);
    const body = openAiSse(30, 12);
    s.responseBody(body.slice(0, body.indexOf("data: [DONE]")), false);
    s.finish("client disconnected");
    await vm.idle();
    expect(await fx.balance("c1")).toBe("958");
  });

  test("an upstream error status releases even with charge_reserved", async () => {
    const vm = await fx.plugin(withPolicy({ reservation: { mode: "fixed", tokens: 100 }, on_incomplete: "charge_reserved" }));
    await fx.setBalance("c1", 1000);
    const r = await chat(vm, "c1", { headers: [[":status", "503"], ["content-type", "application/json"]], body: '{"error":{"message":"overloaded"}}' });
    expect(r.status).toBe(503);
    await vm.idle();
    expect(await fx.balance("c1")).toBe("1000");
  });

  test("a normal end then proxy_on_log settles exactly once", async () => {
    const vm = await fx.plugin(withPolicy({ reservation: { mode: "fixed", tokens: 100 } }));
    await fx.setBalance("c1", 1000);
    await chat(vm, "c1", jsonResponse(openAiJson(5, 5)));
    await vm.idle();
    // Admission EVALSHA+EVAL, then one settlement (EVALSHA+EVAL of the settlement script).
    expect(vm.redisCommands().map((c) => c[0])).toEqual(["EVALSHA", "EVAL", "EVALSHA", "EVAL"]);
    expect(await fx.balance("c1")).toBe("990");
  });
});

describe("reservation: max_tokens", () => {
  test("reserves max_tokens plus one token per 4 request bytes, then settles to the usage", async () => {
    const vm = await fx.plugin(withPolicy({ reservation: { mode: "max_tokens" } }));
    await fx.setBalance("c1", 10000);
    const body = JSON.stringify({ model: "gpt-4o", max_tokens: 500, messages: [{ role: "user", content: "hello there" }] });
    const s = await openChat(vm, "c1", body);
    expect(s.upstream.ended).toBe(true);
    expect(s.upstream.body.toString()).toBe(body);
    const reserved = 500 + Math.ceil(Buffer.byteLength(body) / 4);
    expect(await fx.balance("c1")).toBe(String(10000 - reserved));
    s.responseHeaders([[":status", "200"], ["content-type", "application/json"]]);
    s.responseBody(openAiJson(7, 3), true);
    await vm.idle();
    expect(await fx.balance("c1")).toBe("9990");
  });

  test("max_completion_tokens and a missing limit (fallback tokens)", async () => {
    // missing_usage none: the cut requests below give their whole reservation back.
    const vm = await fx.plugin(withPolicy({ reservation: { mode: "max_tokens", tokens: 64 }, missing_usage: "none" }));
    await fx.setBalance("c1", 10000);
    const a = JSON.stringify({ max_completion_tokens: 300, messages: [] });
    const s = await openChat(vm, "c1", a);
    expect(await fx.balance("c1")).toBe(String(10000 - 300 - Math.ceil(a.length / 4)));
    s.finish("client disconnected");
    await vm.idle();
    const b = JSON.stringify({ messages: [] });
    const t = await openChat(vm, "c1", b);
    expect(await fx.balance("c1")).toBe(String(10000 - 64 - Math.ceil(b.length / 4)));
    t.finish("client disconnected");
    await vm.idle();
    expect(await fx.balance("c1")).toBe("10000");
  });
});

describe("failure policy and remaining header", () => {
  test("redis_failure: allow admits while Redis is down; deny (default) refuses", async () => {
    const allow = await fx.plugin(withPolicy({ redis_failure: "allow", redis: { service_name: "redis.static", timeout: 300 } }));
    const deny = await fx.plugin(withPolicy({ redis: { service_name: "redis.static", timeout: 300 } }));
    await fx.redis.stop();
    try {
      const a = await chat(allow, "c1", jsonResponse(openAiJson(1, 1)));
      expect(a.local).toBeNull();
      expect(a.upstream).not.toBeNull();
      expect(allow.logText()).toMatch(/admitting c1 by redis_failure: allow/);
      const d = await chat(deny, "c1", jsonResponse(openAiJson(1, 1)));
      expect(d.local?.status).toBe(403);
      await allow.idle();
    } finally {
      await fx.redis.restart();
      await fx.reconnect();
    }
  });

  test("remaining_header carries the balance after admission", async () => {
    const vm = await fx.plugin(withPolicy({ remaining_header: true, reservation: { mode: "fixed", tokens: 10 } }));
    await fx.setBalance("c1", 50);
    const r = await chat(vm, "c1", jsonResponse(openAiJson(1, 1)));
    expect(header(r.headers, "x-ai-quota-remaining")).toBe("40");
    const plain = await fx.plugin(withPolicy({ remaining_header: "x-left" }));
    const p = await chat(plain, "c1", jsonResponse(openAiJson(1, 1)));
    expect(header(p.headers, "x-left")).toBe("48");
    expect(header(p.headers, "x-ai-quota-remaining")).toBeUndefined();
  });

  test("bad policy keys are refused with the field named", async () => {
    for (const [policy, msg] of [
      [{ reservation: { mode: "always" } }, /reservation.mode must be one of none, fixed, max_tokens/],
      [{ reservation: { mode: "fixed" } }, /reservation.tokens must be above 0 with mode fixed/],
      [{ reservation: { mode: "fixed", tokens: -1 } }, /reservation.tokens must be between/],
      [{ on_incomplete: "drop" }, /on_incomplete must be one of release, charge_reserved/],
      [{ redis_failure: "maybe" }, /redis_failure must be one of deny, allow/],
      [{ reservation: { mode: "fixed", tokens: 5, require_full: "yes" } }, /reservation.require_full must be true or false/],
    ] as const) {
      const { vm, configured } = await fx.vm(withPolicy(policy));
      expect(configured).toBe(false);
      expect(vm.logText()).toMatch(msg);
    }
  });
});
