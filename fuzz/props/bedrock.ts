// Bedrock answers of every shape against a real redis-server (assembly/usage/bedrock_reader.ts,
// bedrock_usage.ts, event_stream.ts): Converse JSON, ConverseStream and
// InvokeModelWithResponseStream (Claude's and Llama's chunks) with random counts, padding, unknown
// events and members, usage-like text in the content, split at random points; then sometimes a
// byte flipped anywhere in the framing (a CRC must catch it), a message over the 256 KiB cap, an
// exception message, a chunk that is not base64, or the answer cut or reset anywhere. An intact
// answer is charged exactly the counts it carries; any other is never free (at least 1, the
// estimate) and nothing traps.
import fc from "fast-check";
import { PluginVm } from "../../host";
import { FuzzEnv } from "../env";
import { KEY_PREFIX, requestHeaders } from "../http";
import { I64_MAX } from "../model/text";
import { defineProperty, expectNoTrap, expectThat, violated } from "../property";
import { eventMessage, eventStreamMessage, exceptionMessage, invokeChunk } from "../../gateway/eventstream";

const CONSUMER = "b1";
const BALANCE = 10n ** 15n;
const CONFIG = { admin_consumer: "admin", redis: { service_name: "redis.static" } };
const CAP = 262144;

type Format = "converse" | "converse-stream" | "invoke-claude" | "invoke-llama";
type Damage = "none" | "flip" | "oversized" | "exception" | "bad-base64" | "cut" | "reset";

interface Counts { input: number; output: number; cacheRead: number | null; cacheWrite: number | null; total: number | null }

interface BedrockCase {
  format: Format;
  counts: Counts;
  /** Invoke Claude: Anthropic's own counts beside invocationMetrics. */
  anthropic: { input: number; output: number };
  withUsage: boolean;
  texts: string[];
  extraEvents: number[];
  damage: Damage;
  at: number;
  cuts: number[];
}

const text = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.constantFrom('"usage":{"inputTokens":9999999,"outputTokens":1}', "amazon-bedrock-invocationMetrics", "\u00e9\u4e2d\ud83d\ude00", "\\/", '{"bytes":"AAAA"}'),
);
const count = fc.oneof({ weight: 9, arbitrary: fc.nat(1_000_000) }, { weight: 1, arbitrary: fc.constantFrom(0, 2 ** 40) });
/** An input count is at least 1: a report of 0 tokens read before a cut is charged as reported. */
const inputCount = fc.oneof({ weight: 9, arbitrary: fc.integer({ min: 1, max: 1_000_000 }) }, { weight: 1, arbitrary: fc.constant(2 ** 40) });

const caseArb: fc.Arbitrary<BedrockCase> = fc.record({
  format: fc.constantFrom<Format>("converse", "converse-stream", "invoke-claude", "invoke-llama"),
  counts: fc.record({ input: inputCount, output: count, cacheRead: fc.option(count), cacheWrite: fc.option(count), total: fc.option(count) }),
  anthropic: fc.record({ input: inputCount, output: count }),
  withUsage: fc.oneof({ weight: 5, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
  texts: fc.array(text, { minLength: 0, maxLength: 6 }),
  extraEvents: fc.array(fc.nat(4), { maxLength: 3 }),
  damage: fc.oneof(
    { weight: 6, arbitrary: fc.constant<Damage>("none") },
    { weight: 1, arbitrary: fc.constantFrom<Damage>("flip", "oversized", "exception", "bad-base64", "cut", "reset") },
  ),
  at: fc.nat(),
  cuts: fc.array(fc.nat(), { maxLength: 6 }),
});

/** The charge of an intact answer, as docs/metering.md says each format adds up. */
function exact(c: BedrockCase): bigint {
  const k = c.counts;
  if (c.format === "converse" || c.format === "converse-stream") {
    const input = BigInt(k.input) + BigInt(k.cacheRead ?? 0) + BigInt(k.cacheWrite ?? 0);
    const sum = input + BigInt(k.output);
    return k.total !== null && BigInt(k.total) > sum ? BigInt(k.total) : sum;
  }
  const mIn = BigInt(k.input) + BigInt(k.cacheRead ?? 0) + BigInt(k.cacheWrite ?? 0);
  const mOut = BigInt(k.output);
  if (c.format === "invoke-llama") return mIn + mOut;
  const aIn = BigInt(c.anthropic.input);
  const aOut = BigInt(c.anthropic.output);
  return (aIn > mIn ? aIn : mIn) + (aOut > mOut ? aOut : mOut);
}

function converseUsage(k: Counts): Record<string, number> {
  const u: Record<string, number> = { inputTokens: k.input, outputTokens: k.output };
  if (k.cacheRead !== null) u.cacheReadInputTokens = k.cacheRead;
  if (k.cacheWrite !== null) u.cacheWriteInputTokens = k.cacheWrite;
  if (k.total !== null) u.totalTokens = k.total;
  return u;
}

function metrics(k: Counts): Record<string, number> {
  const m: Record<string, number> = { inputTokenCount: k.input, outputTokenCount: k.output, invocationLatency: 5 };
  if (k.cacheRead !== null) m.cacheReadInputTokenCount = k.cacheRead;
  if (k.cacheWrite !== null) m.cacheWriteInputTokenCount = k.cacheWrite;
  return m;
}

const EXTRA = [
  () => eventMessage("contentBlockStart", { contentBlockIndex: 0, start: { toolUse: { toolUseId: "t", name: "n" } } }),
  () => eventMessage("contentBlockStop", { contentBlockIndex: 0, p: "abc" }),
  () => eventMessage("somethingNew", { usage: { inputTokens: 777, outputTokens: 777 } }),
  () => eventStreamMessage([[":event-type", "contentBlockDelta"], [":message-type", "event"], [":date", "x"]], '{"delta":{"toolUse":{"input":"{\\"a\\":1}"}}}'),
  () => eventMessage("messageStart", { role: "assistant" }),
];

/** The answer's bytes, before any damage. */
function build(c: BedrockCase): Buffer {
  if (c.format === "converse") {
    return Buffer.from(JSON.stringify({
      output: { message: { role: "assistant", content: c.texts.map((t, i) => (i % 3 === 2 ? { toolUse: { toolUseId: "t", name: "x", input: { t } } } : i % 3 === 1 ? { reasoningContent: { reasoningText: { text: t } } } : { text: t })) } },
      stopReason: "end_turn", ...(c.withUsage ? { usage: converseUsage(c.counts) } : {}), metrics: { latencyMs: 1 },
    }));
  }
  const extras = c.extraEvents.map((i) => EXTRA[i % EXTRA.length]());
  if (c.format === "converse-stream") {
    return Buffer.concat([
      eventMessage("messageStart", { p: "abcd", role: "assistant" }),
      ...c.texts.map((t, i) => eventMessage("contentBlockDelta", { contentBlockIndex: 0, delta: i % 2 === 0 ? { text: t } : { reasoningContent: { text: t } }, p: "ab" })),
      ...extras,
      eventMessage("messageStop", { stopReason: "end_turn" }),
      ...(c.withUsage ? [eventMessage("metadata", { usage: converseUsage(c.counts), metrics: { latencyMs: 3 }, p: "x" })] : []),
    ]);
  }
  const last = c.withUsage ? { "amazon-bedrock-invocationMetrics": metrics(c.counts) } : {};
  if (c.format === "invoke-llama") {
    const events: Array<Record<string, unknown>> = c.texts.map((t) => ({ generation: t, prompt_token_count: null, generation_token_count: 1, stop_reason: null }));
    events.push({ generation: "", stop_reason: "stop", ...last });
    return Buffer.concat(events.map(invokeChunk));
  }
  const events: Array<Record<string, unknown>> = [
    { type: "message_start", message: { id: "m", type: "message", role: "assistant", content: [], usage: { input_tokens: c.anthropic.input, output_tokens: 1 } } },
    ...c.texts.map((t) => ({ type: "content_block_delta", index: 0, delta: { type: "text_delta", text: t } })),
    { type: "message_delta", delta: { stop_reason: "end_turn" }, usage: { output_tokens: c.anthropic.output } },
    { type: "message_stop", ...last },
  ];
  return Buffer.concat(events.map(invokeChunk));
}

/** The bytes the upstream sends, and whether the answer is intact (charged exactly). */
function damaged(c: BedrockCase, body: Buffer): { fed: Buffer; intact: boolean; reset: boolean } {
  const stream = c.format !== "converse";
  switch (c.damage) {
    case "none": return { fed: body, intact: true, reset: false };
    case "cut": return { fed: body.subarray(0, c.at % (body.length + 1)), intact: c.at % (body.length + 1) === body.length, reset: false };
    case "reset": return { fed: body.subarray(0, c.at % (body.length + 1)), intact: false, reset: true };
    case "flip": {
      if (!stream || body.length === 0) return { fed: body, intact: true, reset: false };
      const b = Buffer.from(body);
      b[c.at % b.length] ^= 1 + (c.at % 255);
      return { fed: b, intact: false, reset: false };
    }
    case "oversized": {
      if (!stream) return { fed: body, intact: true, reset: false };
      const big = eventMessage("contentBlockDelta", { delta: { text: "z".repeat(CAP) } });
      return { fed: Buffer.concat([big, body]), intact: false, reset: false };
    }
    case "exception": {
      if (!stream) return { fed: body, intact: true, reset: false };
      return { fed: Buffer.concat([exceptionMessage("modelStreamErrorException", "x"), body]), intact: false, reset: false };
    }
    case "bad-base64": {
      if (!c.format.startsWith("invoke")) return { fed: body, intact: true, reset: false };
      const bad = eventStreamMessage([[":event-type", "chunk"], [":message-type", "event"]], `{"bytes":"${["@", "e", "eyJ9=x", "eyJ9====", "\\u0041AAA"][c.at % 5]}"}`);
      return { fed: Buffer.concat([bad, body]), intact: false, reset: false };
    }
  }
}

function split(b: Buffer, cuts: number[]): Buffer[] {
  if (b.length === 0) return [];
  const points = [...new Set(cuts.map((x) => x % b.length))].filter((x) => x > 0).sort((x, y) => x - y);
  const out: Buffer[] = [];
  let from = 0;
  for (const p of points) {
    out.push(b.subarray(from, p));
    from = p;
  }
  out.push(b.subarray(from));
  return out;
}

const PATHS: Record<Format, string> = {
  converse: "/model/anthropic.claude-3-haiku-20240307-v1:0/converse",
  "converse-stream": "/model/anthropic.claude-3-haiku-20240307-v1:0/converse-stream",
  "invoke-claude": "/model/anthropic.claude-3-haiku-20240307-v1:0/invoke-with-response-stream",
  "invoke-llama": "/model/meta.llama3-8b-instruct-v1:0/invoke-with-response-stream",
};

async function exchange(vm: PluginVm, c: BedrockCase, fed: Buffer, reset: boolean): Promise<void> {
  const s = vm.newStream();
  s.requestHeaders(requestHeaders("POST", PATHS[c.format], CONSUMER, [["content-type", "application/json"]]), false);
  s.requestBody('{"messages":[{"role":"user","content":[{"text":"Why is the sky blue?"}]}]}', true);
  await s.waitFor(() => s.upstream.ended || s.localResponse !== null || s.finished, "the request to go upstream");
  if (s.localResponse !== null || !s.upstream.ended) violated(`the request did not go upstream: ${s.describe()}`);
  const pieces = split(fed, c.cuts);
  const type = c.format === "converse" ? "application/json" : "application/vnd.amazon.eventstream";
  s.responseHeaders([[":status", "200"], ["content-type", type]], pieces.length === 0 && !reset);
  pieces.forEach((p, i) => s.responseBody(p, i === pieces.length - 1 && !reset));
  if (reset) s.finish("upstream reset");
  await s.waitFor(() => s.finished, "the stream to end");
}

export const bedrockProperty = defineProperty<BedrockCase>({
  name: "bedrock",
  description: "Bedrock Converse/ConverseStream/InvokeModelWithResponseStream answers split, corrupted, oversized or cut: intact ones charged exactly, the rest never free",
  arbitrary: () => caseArb,
  async check(env: FuzzEnv, c: BedrockCase): Promise<void> {
    const { client } = await env.redis();
    await client.command("SET", KEY_PREFIX + CONSUMER, BALANCE.toString());
    const { fed, intact, reset } = damaged(c, build(c));
    const vm = await env.sharedVm("bedrock", CONFIG, "real");
    await exchange(vm, c, fed, reset);
    await vm.idle();
    expectNoTrap(vm);
    const charged = BALANCE - BigInt(String(await client.command("GET", KEY_PREFIX + CONSUMER)));
    const what = () => `${c.format}, ${c.damage}, ${fed.length} bytes in ${split(fed, c.cuts).length} pieces`;
    if (intact && c.withUsage) {
      const want = exact(c);
      expectThat(charged === want, () => `charged ${charged}, expected ${want} (${what()})`);
    } else {
      expectThat(charged >= 1n && charged <= I64_MAX, () => `charged ${charged}: free or out of range (${what()})`);
    }
  },
});
