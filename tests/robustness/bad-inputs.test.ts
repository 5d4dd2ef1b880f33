// The bad-input catalogue: hostile or broken inputs, each with what the plugin answers, what it
// charges and what it logs, measured against the real plugin (build/ai-quota.wasm) with a real
// redis-server (or a scripted fake one for replies Redis would never send). The same table is
// docs/bad-inputs.md: the last test renders the rows and compares; run with
// UPDATE_BAD_INPUTS=1 to rewrite the document after changing a row.
import { readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { ExchangeResult, HeaderPairs, LogEntry, LogLevel, PluginVm, PluginVmOptions, RedisClient } from "../../host";
import { FuzzEnv, ROOT } from "../../fuzz/env";
import { CHAT_PATH, KEY_PREFIX, requestHeaders } from "../../fuzz/http";

const DOC = path.join(ROOT, "docs/bad-inputs.md");
const CONFIG = { admin_consumer: "admin", redis: { service_name: "redis.static", timeout: 200 } };
const KiB = 1024;
const MiB = 1024 * KiB;
const I64_MAX = "9223372036854775807";

const TEXT = {
  noKey: "Request denied by ai quota check. No Key Authentication information found.",
  badConsumer: "Request denied by ai quota check. Invalid consumer identity.",
  noQuota: "Request denied by ai quota check, No quota left",
  tooLarge: "Request denied by ai quota check. Request body too large.",
  badRefresh: "Request denied by ai quota check. consumer can't be empty and quota must be integer.",
  badDelta: "Request denied by ai quota check. consumer can't be empty and value must be integer.",
  refreshed: "refresh quota successful",
  delta: "delta quota successful",
  pathNotMetered: '{"error":{"message":"This endpoint is not available through this gateway: its usage cannot be metered.","type":"invalid_request_error","param":null,"code":"path_not_metered"}}',
};

// ---- what a row measures ----

interface Observed {
  /** The client's status, and whether the answer came from the upstream (the request passed). */
  status: number | null;
  upstream: boolean;
  body: string;
  /** The balance key the row watches, before and after (null: absent). */
  before: string | null;
  after: string | null;
  configured?: boolean;
  logs: LogEntry[];
  /** Linear memory growth over the request, for the rows that bound it. */
  memoryGrowth?: number;
}

interface Expected {
  /** A status, or "upstream" when the request passes and the client gets the upstream's answer. */
  status: number | "upstream" | "configure: false" | "configure: true";
  body: string;
  /** The watched balance afterwards (the before value is the row's own). */
  after: string | null;
  /** A line that must be logged (its level and a part of it); null: nothing at warn or above. */
  log: { level: LogLevel; text: string } | null;
  /** Memory may grow at most this much (bytes). */
  maxGrowth?: number;
}

interface Row {
  group: string;
  input: string;
  /** How the charged column reads the balance: a chat charge, or an admin change. */
  kind: "chat" | "admin" | "none";
  before: string | null;
  expected: Expected;
  run(ctx: Ctx, row: Row): Promise<Observed>;
}

interface Ctx {
  env: FuzzEnv;
  client: RedisClient;
}

// ---- helpers ----

const CONSUMER = "c1";
const KEY = KEY_PREFIX + CONSUMER;

async function setBalance(client: RedisClient, value: string | null, key = KEY): Promise<void> {
  await client.command("DEL", key);
  if (value !== null) await client.command("SET", key, value);
}

async function balance(client: RedisClient, key = KEY): Promise<string | null> {
  const type = await client.command("TYPE", key);
  if (type === "none") return null;
  if (type !== "string") return `(${String(type)})`;
  const v = await client.command("GET", key);
  return v === null ? null : String(v);
}

async function freshVm(ctx: Ctx, target: "real" | "fake" | "none", options: Partial<PluginVmOptions> = {}, config: object | Buffer = CONFIG): Promise<{ vm: PluginVm; configured: boolean }> {
  return ctx.env.vm(config, target, options);
}

function observe(r: ExchangeResult, vm: PluginVm, before: string | null, after: string | null): Observed {
  return {
    status: r.status,
    upstream: r.local === null && r.upstream !== null,
    body: r.local ? r.local.body.toString("utf8") : r.text,
    before,
    after,
    logs: vm.logs.slice(),
  };
}

function usageJson(prompt: string | number, completion: string | number, filler = ""): string {
  return `{"id":"x","choices":[{"message":{"content":"${filler}"}}],"usage":{"prompt_tokens":${prompt},"completion_tokens":${completion}}}`;
}

const JSON_RESPONSE: HeaderPairs = [[":status", "200"], ["content-type", "application/json"]];
const SSE_RESPONSE: HeaderPairs = [[":status", "200"], ["content-type", "text/event-stream"]];

function chunked(b: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < b.length; i += size) out.push(b.subarray(i, i + size));
  return out;
}

/** A chat call by c1 with a balance, the upstream answering `response`; the balance is watched. */
function chatRow(group: string, input: string, before: string | null, expected: Expected, response: { headers?: HeaderPairs; body: Array<string | Buffer>; filterState?: Record<string, string> } | null, opts: { request?: HeaderPairs; cutAfter?: number } = {}): Row {
  return {
    group, input, kind: "chat", before, expected,
    async run(ctx) {
      await setBalance(ctx.client, before);
      const { vm } = await freshVm(ctx, "real");
      const memBefore = vm.memoryBytes();
      const headers = opts.request ?? requestHeaders("POST", CHAT_PATH, CONSUMER, [["content-type", "application/json"]]);
      let r: ExchangeResult;
      if (opts.cutAfter !== undefined && response !== null) {
        const s = vm.newStream({ filterState: response.filterState });
        s.requestHeaders(headers, false);
        s.requestBody("{}", true);
        await s.waitFor(() => s.upstream.ended || s.localResponse !== null, "upstream");
        s.responseHeaders(response.headers ?? JSON_RESPONSE, false);
        response.body.slice(0, opts.cutAfter).forEach((c) => s.responseBody(c, false));
        s.finish("client disconnected");
        await vm.idle();
        r = { status: null, headers: s.downstream.headers, body: s.downstream.body, text: s.downstream.body.toString(), trailers: null, local: s.localResponse, upstream: { headers: [], body: Buffer.alloc(0), trailers: null }, resetReason: s.resetReason };
        r.status = Number(s.downstream.headers?.find(([k]) => k === ":status")?.[1] ?? NaN);
      } else {
        r = await vm.newStream({ filterState: response?.filterState }).run({
          request: { headers, body: "{}" },
          response: () => ({ headers: response?.headers ?? JSON_RESPONSE, body: response?.body ?? [] }),
          timeoutMs: 30_000,
        });
      }
      await vm.idle();
      const o = observe(r, vm, before, await balance(ctx.client));
      o.memoryGrowth = vm.memoryBytes() - memBefore;
      await ctx.env.dispose(vm);
      return o;
    },
  };
}

function adminRow(group: string, input: string, op: "query" | "refresh" | "delta", form: string | Buffer | Buffer[], before: string | null, expected: Expected, watch = KEY): Row {
  return {
    group, input, kind: "admin", before, expected,
    async run(ctx) {
      await setBalance(ctx.client, before, watch);
      const { vm } = await freshVm(ctx, "real");
      const r = op === "query"
        ? await vm.newStream().run({ request: { headers: requestHeaders("GET", `${CHAT_PATH}/quota${form as string}`, "admin") } })
        : await vm.newStream().run({
          request: { headers: requestHeaders("POST", `${CHAT_PATH}/quota/${op}`, "admin", [["content-type", "application/x-www-form-urlencoded"]]), body: Array.isArray(form) ? form : [form] },
        });
      await vm.idle();
      const o = observe(r, vm, before, await balance(ctx.client, watch));
      await ctx.env.dispose(vm);
      return o;
    },
  };
}

/** A call answered by the fake Redis with `reply` (raw RESP bytes; "" = no answer at all). */
function fakeRedisRow(group: string, input: string, op: "chat" | "query", reply: Buffer, expected: Expected): Row {
  return {
    group, input, kind: "none", before: null, expected,
    async run(ctx) {
      const fake = await ctx.env.fake();
      fake.reset([reply], reply);
      const { vm } = await freshVm(ctx, "fake");
      const r = op === "chat"
        ? await vm.newStream().run({ request: { headers: requestHeaders("POST", CHAT_PATH, CONSUMER), body: "{}" }, response: () => ({ headers: JSON_RESPONSE, body: usageJson(1, 1) }) })
        : await vm.newStream().run({ request: { headers: requestHeaders("GET", `${CHAT_PATH}/quota?consumer=${CONSUMER}`, "admin") } });
      await vm.idle();
      const o = observe(r, vm, null, null);
      await ctx.env.dispose(vm);
      fake.dropAll();
      return o;
    },
  };
}

function configRow(input: string, config: Buffer, expected: Expected): Row {
  return {
    group: "Plugin configuration", input, kind: "none", before: null, expected,
    async run(ctx) {
      const { vm, configured } = await freshVm(ctx, "real", {}, config);
      const o: Observed = { status: null, upstream: false, body: "", before: null, after: null, configured, logs: vm.logs.slice() };
      await ctx.env.dispose(vm);
      return o;
    },
  };
}

const ok = (log: Expected["log"] = null): Pick<Expected, "log"> => ({ log });
const debug = (text: string) => ({ level: LogLevel.Debug, text });
const warn = (text: string) => ({ level: LogLevel.Warn, text });
const error = (text: string) => ({ level: LogLevel.Error, text });

const bigValue = "7".repeat(100 * KiB);
const tenMiBEvent = Buffer.from(`data: {"choices":[{"delta":{"content":"${"x".repeat(10 * MiB)}"}}],"usage":{"prompt_tokens":7,"completion_tokens":5}}\n\ndata: [DONE]\n\n`);
const deepJson = `{"x":${"[".repeat(100_000)}${"]".repeat(100_000)},"usage":{"prompt_tokens":7,"completion_tokens":5}}`;
const paddedForm = (size: number, tail: string) => {
  const pad = "pad=" + "x".repeat(size - tail.length - 5) + "&";
  return Buffer.from(pad + tail);
};

// ---- the catalogue ----

const ROWS: Row[] = [
  // Admin form bodies and query strings.
  adminRow("Admin API", "refresh body of 64 KiB + 1 byte (one chunk)", "refresh", paddedForm(64 * KiB + 1, "consumer=c1&quota=5"), "100",
    { status: 413, body: TEXT.tooLarge, after: "100", ...ok() }),
  adminRow("Admin API", "delta body of 1 MiB in 64 KiB chunks", "delta", chunked(paddedForm(MiB, "consumer=c1&value=5"), 64 * KiB), "100",
    { status: 413, body: TEXT.tooLarge, after: "100", ...ok() }),
  adminRow("Admin API", "refresh body of exactly 64 KiB", "refresh", paddedForm(64 * KiB, "consumer=c1&quota=5"), "100",
    { status: 200, body: TEXT.refreshed, after: "5", ...ok() }),
  adminRow("Admin API", "refresh `quota=9223372036854775808` (2^63)", "refresh", "consumer=c1&quota=9223372036854775808", "100",
    { status: 403, body: TEXT.badRefresh, after: "100", ...ok() }),
  adminRow("Admin API", "refresh `quota=-9223372036854775808` (-2^63)", "refresh", "consumer=c1&quota=-9223372036854775808", "100",
    { status: 200, body: TEXT.refreshed, after: "-9223372036854775808", ...ok() }),
  adminRow("Admin API", "refresh `quota=+0042` (sign, leading zeros)", "refresh", "consumer=c1&quota=%2B0042", "100",
    { status: 200, body: TEXT.refreshed, after: "42", ...ok() }),
  adminRow("Admin API", "delta `value=9223372036854775807` on a balance of 100", "delta", `consumer=c1&value=${I64_MAX}`, "100",
    { status: 503, body: "redis error:ERR increment or decrement would overflow", after: "100", ...ok() }),
  adminRow("Admin API", "delta `value=-9223372036854775808` on a balance of 100", "delta", "consumer=c1&value=-9223372036854775808", "100",
    { status: 200, body: TEXT.delta, after: "-9223372036854775708", ...ok() }),
  adminRow("Admin API", "delta on a balance that is not an integer (`abc`)", "delta", "consumer=c1&value=5", "abc",
    { status: 503, body: "redis error:ERR value is not an integer or out of range", after: "abc", ...ok() }),
  adminRow("Admin API", "consumer `%FF` (percent-escaped invalid UTF-8): key `chat_quota:\ufffd`", "refresh", "consumer=%FF&quota=5", null,
    { status: 200, body: TEXT.refreshed, after: "5", ...ok() }, KEY_PREFIX + "\ufffd"),
  adminRow("Admin API", "raw byte 0xFF inside the consumer (`a\\xFFb`): key `chat_quota:a\ufffdb`", "refresh", Buffer.from("consumer=a\xffb&quota=5", "latin1"), null,
    { status: 200, body: TEXT.refreshed, after: "5", ...ok() }, KEY_PREFIX + "a\ufffdb"),
  adminRow("Admin API", "bad escape `consumer=%zz` (the pair is skipped)", "refresh", "consumer=%zz&quota=5", null,
    { status: 403, body: TEXT.badRefresh, after: null, ...ok() }, KEY_PREFIX + "%zz"),
  adminRow("Admin API", "repeated keys `consumer=c1&consumer=c2&quota=1&quota=2` (first wins)", "refresh", "consumer=c1&consumer=c2&quota=1&quota=2", "100",
    { status: 200, body: TEXT.refreshed, after: "1", ...ok() }),
  adminRow("Admin API", "`;` in a pair `consumer=c1;x&quota=5` (the pair is skipped)", "refresh", "consumer=c1;x&quota=5", "100",
    { status: 403, body: TEXT.badRefresh, after: "100", ...ok() }),
  adminRow("Admin API", "no `=`: `consumer&quota=5`", "refresh", "consumer&quota=5", "100",
    { status: 403, body: TEXT.badRefresh, after: "100", ...ok() }),
  adminRow("Admin API", "1,000 empty pairs (`&` × 1000) before `consumer=c1&quota=5` (only the first 1,000 pieces are read)", "refresh", "&".repeat(1000) + "consumer=c1&quota=5", "100",
    { status: 403, body: TEXT.badRefresh, after: "100", ...ok() }),
  adminRow("Admin API", "query `?consumer=c1#consumer=c2` (fragment dropped)", "query", "?consumer=c1#consumer=c2", "100",
    { status: 200, body: '{"consumer":"c1","quota":100}', after: "100", ...ok() }),
  adminRow("Admin API", "query of a 100 KiB value (reply over the 64 KiB cap)", "query", "?consumer=c1", bigValue,
    { status: 503, body: "redis error:redis reply too large", after: bigValue, ...ok() }),
  adminRow("Admin API", "query of a balance that is not an integer (`abc`)", "query", "?consumer=c1", "abc",
    { status: 503, body: "redis error:quota value of c1 is not an integer", after: "abc", ...ok() }),

  // Balances and Redis replies on the chat path.
  chatRow("Balance check", "balance `abc`", "abc",
    { status: 403, body: TEXT.noQuota, after: "abc", log: debug("c1 denied: balance is not an integer") }, null),
  chatRow("Balance check", "balance `9223372036854775808` (2^63)", "9223372036854775808",
    { status: 403, body: TEXT.noQuota, after: "9223372036854775808", log: debug("c1 denied: balance is not an integer") }, null),
  chatRow("Balance check", "balance of 100 KiB of digits (reply over the 64 KiB cap)", bigValue,
    { status: 403, body: TEXT.noQuota, after: bigValue, log: debug("c1 denied: redis reply too large") }, null),
  chatRow("Balance check", "balance `+5` (Go's Atoi reads it, so the call passes; Redis cannot decrement it)", "+5",
    { status: "upstream", body: usageJson(3, 4), after: "+5", log: error("charge of 7 tokens to chat_quota:c1 failed: the balance is not an integer Redis can add to; not applied, to apply it by hand: INCRBY chat_quota:c1 -7") },
    { body: [usageJson(3, 4)] }),
  fakeRedisRow("Redis replies", "RESP3 null `_` for the balance", "chat", Buffer.from("_\r\n"),
    { status: 403, body: TEXT.noQuota, after: null, log: debug("c1 denied: cannot read redis response: resp: RESP3 type '_' not supported at offset 0") }),
  fakeRedisRow("Redis replies", "RESP3 null `_` for a query", "query", Buffer.from("_\r\n"),
    { status: 503, body: "redis error:cannot read redis response: resp: RESP3 type '_' not supported at offset 0", after: null, ...ok() }),
  fakeRedisRow("Redis replies", "arrays nested 16,000 deep for a query", "query", Buffer.from("*1\r\n".repeat(16_000) + ":5\r\n"),
    { status: 503, body: "redis error:cannot read redis response: resp: nesting too deep at offset 36", after: null, ...ok() }),
  fakeRedisRow("Redis replies", "bulk length `-5` for a query", "query", Buffer.from("$-5\r\n"),
    { status: 503, body: "redis error:cannot read redis response: resp: negative bulk length at offset 5", after: null, ...ok() }),
  fakeRedisRow("Redis replies", "bulk length 99999999999 that never arrives (chat)", "chat", Buffer.from("$99999999999\r\n"),
    { status: 403, body: TEXT.noQuota, after: null, log: debug("c1 denied: cannot connect to redis cluster") }),
  fakeRedisRow("Redis replies", "no reply within `redis.timeout` (query)", "query", Buffer.alloc(0),
    { status: 503, body: "redis error:cannot connect to redis cluster", after: null, ...ok() }),
  fakeRedisRow("Redis replies", "bytes that are not RESP (`hello\\r\\n`) for a query", "query", Buffer.from("hello\r\n"),
    { status: 503, body: "redis error:cannot connect to redis cluster", after: null, ...ok() }),

  // Model answers.
  chatRow("Model answers", "SSE with one 10 MiB event, in 64 KiB chunks", "1000",
    { status: "upstream", body: "(the 10 MiB stream, unchanged)", after: "988", log: debug("charging c1 12 tokens"), maxGrowth: 512 * KiB },
    { headers: SSE_RESPONSE, body: chunked(tenMiBEvent, 64 * KiB) }),
  chatRow("Model answers", "JSON nested 100,000 deep before the usage", "1000",
    { status: "upstream", body: "(the body, unchanged)", after: "988", log: debug("charging c1 12 tokens") },
    { body: [deepJson] }),
  chatRow("Model answers", "counts `-5`, `1.5`, `1e3` (none is a count: the estimate, here the `{}` request: chat's 64 framing tokens)", "1000",
    { status: "upstream", body: usageJson(-5, "1.5").replace('"completion_tokens":1.5', '"completion_tokens":1.5,"total_tokens":1e3'), after: "936", log: debug("no complete usage for c1, charging the estimate 64") },
    { body: [usageJson(-5, "1.5").replace('"completion_tokens":1.5', '"completion_tokens":1.5,"total_tokens":1e3')] }),
  // (chat's framing estimate was 50 before the input refit, issue 22 item 8: these rows now say 64)
  // (was 5 charged: an answer with an output count only now pays the input estimate too, issue 22 item 2)
  chatRow("Model answers", "`prompt_tokens` beyond 64 bits, `completion_tokens` 5 (the input estimated: the `{}` request's 64)", "1000",
    { status: "upstream", body: usageJson("99999999999999999999", 5), after: "931", log: debug("no complete usage for c1, charging the estimate 69") },
    { body: [usageJson("99999999999999999999", 5)] }),
  chatRow("Model answers", "both counts 2^63-1 (the sum saturates; one charge is at most 2^50)", "1000",
    { status: "upstream", body: usageJson(I64_MAX, I64_MAX), after: String(1000n - 2n ** 50n), log: warn(`charge of ${I64_MAX} tokens to chat_quota:c1 capped at ${2n ** 50n}`) },
    { body: [usageJson(I64_MAX, I64_MAX)] }),
  chatRow("Model answers", "invalid UTF-8 in a JSON string before the usage (the estimate: 1 content byte read — ⌈1 / 4⌉ + chat's 9 —, the `{}` request's 64)", "1000",
    { status: "upstream", body: "(the body, unchanged)", after: "926", log: debug("no complete usage for c1, charging the estimate 74") },
    { body: [Buffer.concat([Buffer.from('{"choices":[{"message":{"content":"a'), Buffer.from([0xff]), Buffer.from(`"}}],"usage":{"prompt_tokens":7,"completion_tokens":5}}`)])] }),
  chatRow("Model answers", "SSE: an event with invalid UTF-8, then a good usage event", "1000",
    { status: "upstream", body: "(the stream, unchanged)", after: "988", log: debug("charging c1 12 tokens") },
    { headers: SSE_RESPONSE, body: [Buffer.concat([Buffer.from('data: {"usage":{"prompt_tokens":100,"x":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}}\n\ndata: {"usage":{"prompt_tokens":7,"completion_tokens":5}}\n\n')])] }),
  chatRow("Model answers", "SSE delivered one byte per body callback", "1000",
    { status: "upstream", body: "(the stream, unchanged)", after: "988", log: debug("charging c1 12 tokens") },
    { headers: SSE_RESPONSE, body: [...Buffer.from('data: {"choices":[]}\n\ndata: {"usage":{"prompt_tokens":7,"completion_tokens":5}}\n\ndata: [DONE]\n\n')].map((b) => Buffer.from([b])) }),
  chatRow("Model answers", "SSE without a content-type (sniffed)", "1000",
    { status: "upstream", body: "(the stream, unchanged)", after: "988", log: debug("charging c1 12 tokens") },
    { headers: [[":status", "200"]], body: ['data: {"usage":{"prompt_tokens":7,"completion_tokens":5}}\n\n'] }),
  chatRow("Model answers", "stream cut by the client after the usage event, before `[DONE]` (the usage, nothing after it)", "1000",
    { status: "upstream", body: "(what had arrived)", after: "988", log: debug("no complete usage for c1, charging the estimate 12") },
    { headers: SSE_RESPONSE, body: ['data: {"choices":[]}\n\n', 'data: {"usage":{"prompt_tokens":7,"completion_tokens":5}}\n\n', "data: [DONE]\n\n"] }, { cutAfter: 2 }),
  chatRow("Model answers", "upstream 500 that reports usage", "1000",
    { status: "upstream", body: usageJson(7, 5), after: "988", log: debug("charging c1 12 tokens") },
    { headers: [[":status", "500"], ["content-type", "application/json"]], body: [usageJson(7, 5)] }),
  chatRow("Model answers", "`ai_log` with `input_token: \"abc\"` (the body's usage is used)", "1000",
    { status: "upstream", body: usageJson(7, 5), after: "988", log: debug("charging c1 12 tokens") },
    { body: [usageJson(7, 5)], filterState: { "wasm.ai_log": '{"model":"m","input_token":"abc","output_token":3}' } }),

  // Request headers and paths.
  chatRow("Request headers", "`:path` of 64 KiB ending in `/v1/chat/completions`", "1000",
    { status: "upstream", body: usageJson(1, 1), after: "998", log: debug("charging c1 2 tokens") },
    { body: [usageJson(1, 1)] }, { request: requestHeaders("POST", "/" + "a".repeat(64 * KiB) + CHAT_PATH, CONSUMER) }),
  chatRow("Request headers", "10,000 request headers", "1000",
    { status: "upstream", body: usageJson(1, 1), after: "998", log: debug("charging c1 2 tokens") },
    { body: [usageJson(1, 1)] }, { request: requestHeaders("POST", CHAT_PATH, CONSUMER, Array.from({ length: 10_000 }, (_, i): [string, string] => [`x-h${i}`, "v"])) }),
  chatRow("Request headers", "a 1 MiB cookie header", "1000",
    { status: "upstream", body: usageJson(1, 1), after: "998", log: debug("charging c1 2 tokens") },
    { body: [usageJson(1, 1)] }, { request: requestHeaders("POST", CHAT_PATH, CONSUMER, [["cookie", "c".repeat(MiB)]]) }),
  // Neither metered nor admin: other_paths refuses them (its default), with no Redis call.
  chatRow("Request headers", "`:path` with NUL and control bytes", "1000",
    { status: 403, body: TEXT.pathNotMetered, after: "1000", log: debug("operation pass-through") },
    { body: [usageJson(1, 1)] }, { request: requestHeaders("POST", "/\u0000\u0001\u007f/v1/chat/completions\u0000", CONSUMER) }),
  chatRow("Request headers", "empty `:path`", "1000",
    { status: 403, body: TEXT.pathNotMetered, after: "1000", log: debug("operation pass-through") },
    { body: [usageJson(1, 1)] }, { request: requestHeaders("POST", "", CONSUMER) }),
  chatRow("Request headers", "consumer of 257 bytes", "1000",
    { status: 401, body: TEXT.badConsumer, after: "1000", log: debug("invalid x-mse-consumer: consumer name longer than 256 bytes") },
    null, { request: requestHeaders("POST", CHAT_PATH, "c".repeat(257)) }),
  chatRow("Request headers", "consumer with a NUL byte", "1000",
    { status: 401, body: TEXT.badConsumer, after: "1000", log: debug("invalid x-mse-consumer: control character in consumer name") },
    null, { request: requestHeaders("POST", CHAT_PATH, "c1\u0000") }),
  chatRow("Request headers", "`x-mse-consumer` twice", "1000",
    { status: 401, body: TEXT.badConsumer, after: "1000", log: debug("invalid x-mse-consumer: x-mse-consumer sent more than once") },
    null, { request: requestHeaders("POST", CHAT_PATH, CONSUMER, [["x-mse-consumer", CONSUMER]]) }),

  // Configuration.
  configRow("`redis.service_port` 9223372036854775808", Buffer.from(JSON.stringify({ admin_consumer: "a", redis: { service_name: "r" } }).replace('"r"}', '"r","service_port":9223372036854775808}')),
    { status: "configure: false", body: "", after: null, log: error("invalid config: redis.service_port must be an integer") }),
  configRow("1 MiB of random bytes", Buffer.from(Array.from({ length: MiB }, (_, i) => (i * 2654435761) >>> 24)),
    { status: "configure: false", body: "", after: null, log: error("invalid config: config is not valid JSON") }),
  configRow("JSON nested 100,000 deep", Buffer.from(`{"admin_consumer":"a","redis":{"service_name":"r"},"x":${"[".repeat(100_000)}${"]".repeat(100_000)}}`),
    { status: "configure: false", body: "", after: null, log: error("invalid config: config is not valid JSON") }),
  configRow("`admin_consumer` of 1 MiB", Buffer.from(JSON.stringify({ admin_consumer: "a".repeat(MiB), redis: { service_name: "r" } })),
    { status: "configure: true", body: "", after: null, log: null }),
];

// ---- checks ----

let ctx: Ctx;
beforeAll(async () => {
  const env = new FuzzEnv();
  const { client } = await env.redis();
  ctx = { env, client };
});
afterAll(async () => ctx.env.close());

function statusText(e: Expected): string {
  if (e.status === "upstream") return "passes (upstream's answer)";
  return String(e.status);
}

describe.each([...new Set(ROWS.map((r) => r.group))])("%s", (group) => {
  test.each(ROWS.filter((r) => r.group === group).map((r) => [r.input, r] as const))("%s", async (_input, row) => {
    const o = await row.run(ctx, row);
    const e = row.expected;
    const summary = () => `status ${o.status}${o.upstream ? " (upstream)" : ""}, body ${JSON.stringify(o.body.slice(0, 200))}, balance ${o.before} → ${o.after}\n${o.logs.map((l) => `[${LogLevel[l.level]}] ${l.message.slice(0, 300)}`).join("\n")}`;
    if (e.status === "configure: false" || e.status === "configure: true") {
      expect({ configured: o.configured }).toEqual({ configured: e.status === "configure: true" });
    } else if (e.status === "upstream") {
      expect({ upstream: o.upstream, status: o.status, summary: o.upstream ? "" : summary() }).toEqual({ upstream: true, status: o.status, summary: "" });
      if (!e.body.startsWith("(")) expect(o.body).toBe(e.body);
    } else {
      expect({ status: o.status, body: o.body, upstream: o.upstream }).toEqual({ status: e.status, body: e.body.startsWith("(") ? o.body : e.body, upstream: false });
    }
    expect(o.after).toBe(e.after);
    // The log column: the named line at its level; and nothing at warn or above that the row does not name.
    if (e.log !== null) {
      const hit = o.logs.some((l) => l.level === e.log!.level && l.message.includes(e.log!.text));
      if (!hit) throw new Error(`expected a ${LogLevel[e.log.level]} line containing ${JSON.stringify(e.log.text)}; got\n${summary()}`);
    }
    const loud = o.logs.filter((l) => l.level >= LogLevel.Warn && !(e.log !== null && l.level === e.log.level && l.message.includes(e.log.text)));
    expect(loud.map((l) => `[${LogLevel[l.level]}] ${l.message.slice(0, 200)}`)).toEqual([]);
    if (e.maxGrowth !== undefined) expect(o.memoryGrowth).toBeLessThanOrEqual(e.maxGrowth);
  }, 60_000);
});

// ---- the document ----

function cell(s: string): string {
  return s.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

function code(s: string, max = 90): string {
  const t = s.length > max ? s.slice(0, max) + "…" : s;
  return t === "" ? "—" : "`" + t.replace(/`/g, "'") + "`";
}

function chargedText(row: Row): string {
  const e = row.expected;
  if (row.kind === "chat") {
    if (row.before === null || e.after === null || !/^-?[0-9]+$/.test(row.before) || !/^-?[0-9]+$/.test(e.after)) return "nothing";
    const n = BigInt(row.before) - BigInt(e.after);
    return n === 0n ? "nothing" : `${n} tokens`;
  }
  if (row.kind === "admin") {
    if (e.after === row.before) return "nothing (balance unchanged)";
    return `balance set to ${code(e.after ?? "(absent)", 30)}`;
  }
  return "—";
}

function loggedText(e: Expected): string {
  const growth = e.maxGrowth !== undefined ? `; memory grows ≤ ${e.maxGrowth / KiB} KiB` : "";
  if (e.log === null) return "nothing at warn or above" + growth;
  return `${LogLevel[e.log.level].toLowerCase()}: ${code("…" + e.log.text, 120)}${growth}`;
}

function bodyText(e: Expected): string {
  if (e.status === "configure: false" || e.status === "configure: true") return "—";
  if (e.body.startsWith("(")) return e.body.slice(1, -1);
  if (e.status === "upstream") return "the upstream's, unchanged";
  return code(e.body);
}

export function renderDoc(): string {
  const lines = [
    "# Bad inputs",
    "",
    "What ai-quota does with hostile or broken inputs, measured: every row is asserted by",
    "`tests/robustness/bad-inputs.test.ts` against the real plugin (`build/ai-quota.wasm`) in the Node",
    "proxy-wasm host, with a real redis-server (or a scripted fake Redis for replies a real one never",
    "sends). Config: `admin_consumer: admin`, `redis.timeout: 200`, everything else default.",
    "`charged` is the consumer's balance change; `logged` is the line the plugin writes for it",
    "(debug lines need the debug log level), and no other line at warn or above is written.",
    "Regenerate after changing a row: `UPDATE_BAD_INPUTS=1 npx jest tests/robustness/bad-inputs`.",
    "",
  ];
  for (const group of [...new Set(ROWS.map((r) => r.group))]) {
    lines.push(`## ${group}`, "", "| input | status | body | charged | logged |", "|---|---|---|---|---|");
    for (const r of ROWS.filter((x) => x.group === group)) {
      lines.push(`| ${cell(r.input)} | ${cell(statusText(r.expected))} | ${cell(bodyText(r.expected))} | ${cell(chargedText(r))} | ${cell(loggedText(r.expected))} |`);
    }
    lines.push("");
  }
  return lines.join("\n");
}

test("docs/bad-inputs.md is this table", () => {
  const doc = renderDoc();
  if (process.env.UPDATE_BAD_INPUTS === "1") writeFileSync(DOC, doc);
  expect(readFileSync(DOC, "utf8")).toBe(doc);
});
