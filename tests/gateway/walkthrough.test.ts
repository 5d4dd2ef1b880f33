// The walk-through of examples/WALKTHROUGH.md, end to end: the gateway started as a user starts
// it (a child process with examples/local.yaml), driven over real HTTP, every status, body and
// Redis value checked. The mock's rule makes every number predictable: the example message has 6
// words, so a plain chat costs 6 + 16 = 22 tokens and a streamed one with max_tokens 8 costs 14
// (the stream does not ask for usage: the plugin has the model report it, hides it, charges it).
// The balances the document shows are the ones this session sees, in order.
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { RedisClient } from "../../host";
import { GatewayProcess, ROOT } from "./gateway-process";
import { StreamedAnswer, send, sseUsage } from "./http-client";

const MESSAGE = "Say hello to the quota gateway";
const ADMIN = { authorization: "Bearer credential3" };
const USER = { authorization: "Bearer credential1" };
const FORM = { "content-type": "application/x-www-form-urlencoded" };
const JSON_TYPE = { "content-type": "application/json" };

let gw: GatewayProcess;
let redis: RedisClient;
/** The balances at the points where the document queries one. */
const shown: number[] = [];

beforeAll(async () => {
  gw = await GatewayProcess.launch(["--config", "examples/local.yaml", "--port", "0"]);
  redis = await RedisClient.connect(gw.redisPort, { host: gw.redisHost });
}, 60_000);

afterAll(async () => {
  redis?.close();
  await gw?.stop();
  gw?.kill();
});

const url = (path: string) => gw.url + path;

function refresh(consumer: string, quota: number) {
  return send(url("/v1/chat/completions/quota/refresh"), { headers: { ...ADMIN, ...FORM }, body: `consumer=${consumer}&quota=${quota}` });
}

function delta(consumer: string, value: number) {
  return send(url("/v1/chat/completions/quota/delta"), { headers: { ...ADMIN, ...FORM }, body: `consumer=${consumer}&value=${value}` });
}

async function query(consumer: string): Promise<unknown> {
  const r = await send(url(`/v1/chat/completions/quota?consumer=${consumer}`), { headers: ADMIN });
  expect(r.status).toBe(200);
  expect(r.headers["content-type"]).toBe("application/json");
  return JSON.parse(r.body);
}

async function balance(consumer: string): Promise<string | null> {
  const v = await redis.command("GET", `chat_quota:${consumer}`);
  return v === null ? null : String(v);
}

/** The admin query goes over the plugin's own Redis connection, after any charge it sent: then Redis is read directly. */
async function expectBalance(consumer: string, quota: number): Promise<void> {
  // The client can have the whole answer before its stream completes; the gateway writes the
  // access line once the stream's charge is answered by Redis.
  if (chatFrom !== null) await gw.waitForLine(/^POST \/v1\/chat\/completions \S+ consumer1( |$)/, 10_000, chatFrom);
  chatFrom = null;
  expect(await query(consumer)).toEqual({ consumer, quota });
  expect(await balance(consumer)).toBe(String(quota));
  shown.push(quota);
}

/** Where the log stood when the last chat was sent (null: its access line was seen). */
let chatFrom: number | null = null;

function chat(extra: Record<string, unknown> = {}) {
  chatFrom = gw.lines.length;
  return send(url("/v1/chat/completions"), {
    headers: { ...USER, ...JSON_TYPE },
    body: JSON.stringify({ model: "gpt-4o", messages: [{ role: "user", content: MESSAGE }], ...extra }),
  });
}

test("the gateway says where it listens and which Redis it started", () => {
  expect(gw.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  expect(gw.lines).toContain(`redis: 127.0.0.1:${gw.redisPort} (redis-server started by the gateway)`);
  expect(gw.lines.some((l) => /^upstream: mock \(http:\/\/127\.0\.0\.1:\d+\)$/.test(l))).toBe(true);
});

test("the plugin takes every key of examples/local.yaml: no warning at start", () => {
  expect(gw.lines.filter((l) => l.startsWith("[plugin warn]") || l.startsWith("[plugin error]"))).toEqual([]);
});

test("1. refresh consumer1's quota to 10000", async () => {
  const r = await refresh("consumer1", 10000);
  expect(r.status).toBe(200);
  expect(r.body).toBe("refresh quota successful");
  expect(await balance("consumer1")).toBe("10000");
});

test("2. query it", async () => {
  const r = await send(url("/v1/chat/completions/quota?consumer=consumer1"), { headers: ADMIN });
  expect(r.status).toBe(200);
  expect(r.body).toBe('{"consumer":"consumer1","quota":10000}');
  shown.push(10000);
});

test("3. a plain chat costs 6 prompt + 16 completion tokens", async () => {
  const r = await chat();
  expect(r.status).toBe(200);
  expect(r.headers["content-type"]).toBe("application/json");
  const body = JSON.parse(r.body);
  expect(body.object).toBe("chat.completion");
  expect(body.usage).toEqual({ prompt_tokens: 6, completion_tokens: 16, total_tokens: 22 });
  expect(body.choices[0].message.content.split(" ")).toHaveLength(16);
  await expectBalance("consumer1", 10000 - 22);
});

test("4. a streamed chat (max_tokens 8) that does not ask for usage: SSE without usage, charged 6 + 8 all the same", async () => {
  chatFrom = gw.lines.length;
  const s = await StreamedAnswer.open(url("/v1/chat/completions"), {
    headers: { ...USER, ...JSON_TYPE },
    body: JSON.stringify({ model: "gpt-4o", stream: true, max_tokens: 8, messages: [{ role: "user", content: MESSAGE }] }),
  });
  expect(s.status).toBe(200);
  expect(s.headers["content-type"]).toBe("text/event-stream");
  const text = await s.end();
  const events = text.split("\n\n").filter((e) => e !== "");
  // role, 8 words, finish_reason, [DONE]: what the client would get from the model without us
  expect(events).toHaveLength(11);
  expect(events[events.length - 1]).toBe("data: [DONE]");
  expect(text).not.toContain("usage");
  expect(sseUsage(text)).toBeNull();
  await expectBalance("consumer1", 10000 - 22 - 14);
});

test("5. delta +100, then -50", async () => {
  const up = await delta("consumer1", 100);
  expect(up.status).toBe(200);
  expect(up.body).toBe("delta quota successful");
  await expectBalance("consumer1", 9964 + 100);
  const down = await delta("consumer1", -50);
  expect(down.status).toBe(200);
  expect(down.body).toBe("delta quota successful");
  await expectBalance("consumer1", 10064 - 50);
});

test("6. run out: with a balance of 1 one chat passes and leaves -21; the next is denied", async () => {
  expect((await refresh("consumer1", 1)).status).toBe(200);
  const last = await chat();
  expect(last.status).toBe(200);
  await expectBalance("consumer1", 1 - 22);
  const denied = await chat();
  expect(denied.status).toBe(403);
  expect(denied.body).toBe("Request denied by ai quota check, No quota left");
  await expectBalance("consumer1", -21);
});

test("7. the spend history (examples/local.yaml turns it on): today, per model, the three charged chats", async () => {
  const r = await send(url("/v1/chat/completions/quota/usage?consumer=consumer1"), { headers: ADMIN });
  expect(r.status).toBe(200);
  const today = new Date().toISOString().slice(0, 10);
  const from = new Date(Date.parse(today) - 6 * 86_400_000).toISOString().slice(0, 10);
  const day = { input_tokens: 18, output_tokens: 40, units: 58, requests: 3 };
  expect(JSON.parse(r.body)).toEqual({ consumer: "consumer1", from, to: today, days: [{ date: today, models: { "gpt-4o": day } }], total: day });
  // The README prints the same answer, on the day it was run.
  const readme = readFileSync(path.join(ROOT, "README.md"), "utf8");
  const printed = /^(\{"consumer":"consumer1","from":.*\})$/m.exec(readme);
  expect(printed).not.toBeNull();
  const shownDoc = JSON.parse(printed![1].replace(/\d{4}-\d{2}-\d{2}/g, "D"));
  expect(shownDoc).toEqual(JSON.parse(r.body.replace(/\d{4}-\d{2}-\d{2}/g, "D")));
});

test("the gateway printed one line per request: method, path, status, consumer", async () => {
  await gw.waitForLine(/^POST \/v1\/chat\/completions 403 consumer1$/);
  const requests = gw.lines.filter((l) => /^(GET|POST) \//.test(l));
  expect(requests).toEqual(expect.arrayContaining([
    "POST /v1/chat/completions/quota/refresh 200 consumer3",
    "GET /v1/chat/completions/quota?consumer=consumer1 200 consumer3",
    "POST /v1/chat/completions 200 consumer1",
    "POST /v1/chat/completions/quota/delta 200 consumer3",
    "POST /v1/chat/completions 403 consumer1",
  ]));
});

test("GET /stats/prometheus: the plugin's metrics in Prometheus text format, counting what the session did", async () => {
  const r = await send(url("/stats/prometheus"));
  expect(r.status).toBe(200);
  expect(r.body.split("\n")).toEqual(expect.arrayContaining(["ai_quota_requests_admitted 3", "ai_quota_requests_denied_noquota 1", "ai_quota_tokens_charged 58"]));
  expect(r.headers["content-type"]).toMatch(/^text\/plain; version=0\.0\.4/);
  for (const line of r.body.split("\n").filter((l) => l !== "")) {
    expect(line).toMatch(/^(# TYPE [a-zA-Z_:][a-zA-Z0-9_:]* (counter|gauge|histogram|untyped)|[a-zA-Z_:][a-zA-Z0-9_:]*(\{le="[^"]+"\})? -?[0-9.e+]+)$/);
  }
});

test("examples/WALKTHROUGH.md shows the balances this session saw, in order, and the same metrics", () => {
  const doc = readFileSync(path.join(ROOT, "examples/WALKTHROUGH.md"), "utf8");
  const inDoc = [...doc.matchAll(/^\{"consumer":"consumer1","quota":(-?\d+)\}$/gm)].map((m) => Number(m[1]));
  // the session queries once more than the document after the refused chat (-21 again)
  expect(inDoc).toEqual(shown.slice(0, -1));
  expect(doc).toMatch(/^ai_quota_tokens_charged 58$/m);
  expect(doc).toMatch(/^ai_quota_requests_admitted 3$/m);
});
