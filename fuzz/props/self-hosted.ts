// The self-hosted servers' and Cohere v2's answers against a real redis-server
// (assembly/usage/extractor.ts, cohere.ts; the scanner's SSE and NDJSON): Ollama NDJSON and JSON,
// TGI JSON (prefill) and SSE, llama.cpp JSON and SSE, SGLang JSON and SSE (batches as arrays and
// as index-tagged streams for both), Cohere v2 JSON and typed SSE, each with random counts,
// usage-like text in the content and the echoed prompt, unknown members, and sometimes a member
// nesting thousands of levels deep that holds fake counts. Each answer goes through the plugin
// twice: whole, then split at random points (byte by byte when small). The two charges must be
// equal, exactly the counts the answer carries (the formats that report both sides), the fake
// counts never read, linear memory grown by at most 1 MiB, and nothing may trap. Sometimes the
// answer is also cut anywhere and reset: never free.
import fc from "fast-check";
import { PluginVm } from "../../host";
import { FuzzEnv } from "../env";
import { KEY_PREFIX, requestHeaders } from "../http";
import { I64_MAX } from "../model/text";
import { defineProperty, expectNoTrap, expectThat, sometimes, violated } from "../property";

const CONSUMER = "sh1";
const BALANCE = 10n ** 15n;
const CONFIG = { admin_consumer: "admin", redis: { service_name: "redis.static" } };
const MAX_GROWTH = 1 << 20;

type Format = "ollama-ndjson" | "ollama-json" | "tgi-json" | "tgi-sse" | "llamacpp-json" | "llamacpp-sse" | "sglang-json" | "sglang-sse" | "cohere-json" | "cohere-sse";
const FORMATS: Format[] = ["ollama-ndjson", "ollama-json", "tgi-json", "tgi-sse", "llamacpp-json", "llamacpp-sse", "sglang-json", "sglang-sse", "cohere-json", "cohere-sse"];
/** Formats that answer several prompts (a batch). */
const BATCHED = new Set<Format>(["llamacpp-json", "llamacpp-sse", "sglang-json", "sglang-sse"]);

interface Counts { input: number; output: number; billedInput: number; billedOutput: number }

interface ShCase {
  format: Format;
  prompts: Counts[];
  texts: string[];
  /** A member nesting this deep (holding fake counts) in each document, before the counts. */
  hideDepth: number | null;
  eol: "\n" | "\r\n";
  cuts: number[];
  byteByByte: boolean;
  /** Cut the answer at this byte and reset the stream (a third exchange). */
  resetAt: number | null;
}

const text = fc.oneof(
  fc.string({ maxLength: 10 }),
  fc.constantFrom('"tokens_predicted":9999', '{"meta_info":{"prompt_tokens":99999}}', '"eval_count": 77', '"usage":{"tokens":{"input_tokens":5}}', "\u00e9\u4e2d\ud83d\ude00", "\\n", "data: [DONE]"),
);
const count = fc.oneof({ weight: 9, arbitrary: fc.nat(1_000_000) }, { weight: 1, arbitrary: fc.constantFrom(0, 2 ** 40) });
/** At least 1: TGI's prefill has one entry per prompt token, and a count of 0 input is charged as reported anyway. */
const inputCount = fc.oneof({ weight: 9, arbitrary: fc.integer({ min: 1, max: 1_000_000 }) }, { weight: 1, arbitrary: fc.constant(2 ** 40) });
const counts: fc.Arbitrary<Counts> = fc.record({ input: inputCount, output: count, billedInput: count, billedOutput: count });

const caseArb: fc.Arbitrary<ShCase> = fc.record({
  format: fc.constantFrom(...FORMATS),
  prompts: fc.array(counts, { minLength: 1, maxLength: 3 }),
  texts: fc.array(text, { minLength: 0, maxLength: 5 }),
  hideDepth: sometimes(fc.constantFrom(3, 40, 1000, 5000), 4),
  eol: fc.constantFrom<"\n" | "\r\n">("\n", "\n", "\r\n"),
  cuts: fc.array(fc.nat(), { maxLength: 8 }),
  byteByByte: fc.boolean(),
  resetAt: sometimes(fc.nat(), 5),
});

/** A member nesting `depth` arrays around objects with fake counts of every format, as JSON text. */
function hidden(depth: number): string {
  const fake = '{"tokens_predicted":987654321,"eval_count":987654321,"meta_info":{"prompt_tokens":987654321},"details":{"generated_tokens":987654321},"usage":{"tokens":{"input_tokens":987654321},"prompt_tokens":987654321}}';
  return `"nest":${"[".repeat(depth)}${fake}${"]".repeat(depth)},`;
}

/** A JSON object from members written as text (so the hidden member goes first). */
function object(c: ShCase, members: Record<string, unknown>): string {
  const body = Object.entries(members).map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(",");
  return `{${c.hideDepth !== null ? hidden(c.hideDepth) : ""}${body}}`;
}



function sse(c: ShCase, data: string, event: string | null = null): string {
  return `${event !== null ? `event: ${event}${c.eol}` : ""}data: ${data}${c.eol}${c.eol}`;
}

/** The answer's bytes, its request (path and body), and its exact charge (null: input estimated). */
function build(c: ShCase): { path: string; request: unknown; contentType: string; body: string; exact: bigint | null } {
  const prompts = BATCHED.has(c.format) ? c.prompts : c.prompts.slice(0, 1);
  const sum = (f: (k: Counts) => bigint) => prompts.reduce((n, k) => n + f(k), 0n);
  const plain = sum((k) => BigInt(k.input) + BigInt(k.output));
  const pieces = c.texts.length > 0 ? c.texts : ["x"];
  const words = pieces.join("");
  switch (c.format) {
    case "ollama-ndjson":
    case "ollama-json": {
      const k = prompts[0];
      const last = object(c, { model: "llama3", created_at: "2024-01-01T00:00:00Z", message: { role: "assistant", content: c.format === "ollama-json" ? words : "" }, done_reason: "stop", done: true, total_duration: 5, prompt_eval_count: k.input, eval_count: k.output });
      const body = c.format === "ollama-json" ? last : pieces.map((t) => object(c, { model: "llama3", created_at: "t", message: { role: "assistant", content: t }, done: false }) + "\n").join("") + last + "\n";
      return { path: "/api/chat", request: { model: "llama3", messages: [{ role: "user", content: "Why is the sky blue?" }], stream: c.format === "ollama-ndjson" }, contentType: c.format === "ollama-json" ? "application/json" : "application/x-ndjson", body, exact: plain };
    }
    case "tgi-json": {
      const k = prompts[0];
      const prefill = Math.min(k.input, 40);
      const body = object(c, { generated_text: words, details: { finish_reason: "length", generated_tokens: k.output, seed: null, prefill: Array.from({ length: prefill }, (_, i) => ({ id: i, text: "w", logprob: i === 0 ? null : -1 })), tokens: [] } });
      return { path: "/generate", request: { inputs: "Why is the sky blue?", parameters: { details: true, decoder_input_details: true } }, contentType: "application/json", body, exact: BigInt(prefill) + BigInt(k.output) };
    }
    case "tgi-sse": {
      const k = prompts[0];
      const body = pieces.map((t, i) => {
        const lastOne = i === pieces.length - 1;
        return sse(c, object(c, { index: i + 1, token: { id: 5, text: t, logprob: -0.5, special: false }, generated_text: lastOne ? words : null, details: lastOne ? { finish_reason: "length", generated_tokens: k.output, seed: null } : null }));
      }).join("");
      return { path: "/generate_stream", request: { inputs: "Why is the sky blue?", parameters: { details: true } }, contentType: "text/event-stream", body, exact: null };
    }
    case "llamacpp-json":
    case "llamacpp-sse": {
      const final = (k: Counts, i: number, content: string) => object(c, {
        index: i, content, tokens: [], id_slot: i, stop: true, model: "m", tokens_predicted: k.output, tokens_evaluated: k.input,
        generation_settings: { n_predict: 9, tokens_predicted: 5 }, prompt: '"tokens_evaluated":1', stop_type: "limit", tokens_cached: 3, timings: { prompt_n: 1, predicted_n: 2 },
      });
      const batch = prompts.length > 1;
      if (c.format === "llamacpp-json") {
        const answers = prompts.map((k, i) => final(k, i, words));
        return { path: "/completion", request: { prompt: batch ? prompts.map(() => "Why?") : "Why?" }, contentType: "application/json", body: batch ? `[${answers.join(",")}]` : answers[0], exact: plain };
      }
      let body = "";
      pieces.forEach((t, step) => prompts.forEach((k, i) => {
        body += sse(c, object(c, { index: i, content: t, tokens: [], stop: false, id_slot: i, tokens_predicted: Math.min(step + 1, k.output), tokens_evaluated: k.input }));
      }));
      prompts.forEach((k, i) => (body += sse(c, final(k, i, ""))));
      return { path: "/completion", request: { prompt: batch ? prompts.map(() => "Why?") : "Why?", stream: true }, contentType: "text/event-stream", body, exact: plain };
    }
    case "sglang-json":
    case "sglang-sse": {
      const meta = (k: Counts, done: boolean, out: number) => ({ id: "r", finish_reason: done ? { type: "length", length: out } : null, prompt_tokens: k.input, completion_tokens: out, cached_tokens: 0 });
      const batch = prompts.length > 1;
      if (c.format === "sglang-json") {
        const answers = prompts.map((k) => object(c, { text: words, meta_info: meta(k, true, k.output) }));
        return { path: "/generate", request: { text: batch ? prompts.map(() => "Why?") : "Why?" }, contentType: "application/json", body: batch ? `[${answers.join(",")}]` : answers[0], exact: plain };
      }
      let body = "";
      pieces.forEach((_, step) => prompts.forEach((k, i) => {
        const done = step === pieces.length - 1;
        const members: Record<string, unknown> = { text: pieces.slice(0, step + 1).join(""), meta_info: meta(k, done, done ? k.output : Math.min(step + 1, k.output)) };
        if (batch) members.index = i;
        body += sse(c, object(c, members));
      }));
      body += sse(c, "[DONE]");
      return { path: "/generate", request: { text: batch ? prompts.map(() => "Why?") : "Why?", stream: true }, contentType: "text/event-stream", body, exact: plain };
    }
    case "cohere-json":
    case "cohere-sse": {
      const k = prompts[0];
      const usage = { billed_units: { input_tokens: k.billedInput, output_tokens: k.billedOutput }, tokens: { input_tokens: k.input, output_tokens: k.output } };
      const max = (a: number, b: number) => BigInt(a > b ? a : b);
      const exact = max(k.input, k.billedInput) + max(k.output, k.billedOutput);
      const request = { model: "command-a", messages: [{ role: "user", content: "Why is the sky blue?" }], stream: c.format === "cohere-sse" };
      if (c.format === "cohere-json") {
        return { path: "/v2/chat", request, contentType: "application/json", body: object(c, { id: "c1", finish_reason: "COMPLETE", message: { role: "assistant", content: [{ type: "text", text: words }] }, usage }), exact };
      }
      const ev = (type: string, rest: Record<string, unknown>) => sse(c, object(c, { type, ...rest }), type);
      const body = [
        ev("message-start", { id: "c1", delta: { message: { role: "assistant", content: [] } } }),
        ...pieces.map((t) => ev("content-delta", { index: 0, delta: { message: { content: { text: t } } } })),
        ev("message-end", { delta: { finish_reason: "COMPLETE", usage } }),
        sse(c, "[DONE]"),
      ].join("");
      return { path: "/v2/chat", request, contentType: "text/event-stream", body, exact };
    }
  }
}

function split(b: Buffer, cuts: number[], byteByByte: boolean): Buffer[] {
  if (b.length === 0) return [];
  if (byteByByte && b.length <= 3000) return Array.from({ length: b.length }, (_, i) => b.subarray(i, i + 1));
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

/** One exchange: the request, then the answer in these pieces; what it cost and how memory grew. */
async function exchange(env: FuzzEnv, vm: PluginVm, path: string, request: unknown, contentType: string, pieces: Buffer[], reset: boolean): Promise<{ charged: bigint; grown: number }> {
  const { client } = await env.redis();
  await client.command("SET", KEY_PREFIX + CONSUMER, BALANCE.toString());
  const before = vm.memoryBytes();
  const s = vm.newStream();
  s.requestHeaders(requestHeaders("POST", path, CONSUMER, [["content-type", "application/json"]]), false);
  s.requestBody(JSON.stringify(request), true);
  await s.waitFor(() => s.upstream.ended || s.localResponse !== null || s.finished, "the request to go upstream");
  if (s.localResponse !== null || !s.upstream.ended) violated(`the request to ${path} did not go upstream: ${s.describe()}`);
  s.responseHeaders([[":status", "200"], ["content-type", contentType]], pieces.length === 0 && !reset);
  pieces.forEach((p, i) => s.responseBody(p, i === pieces.length - 1 && !reset));
  if (reset) s.finish("upstream reset");
  await s.waitFor(() => s.finished, "the stream to end");
  await vm.idle();
  expectNoTrap(vm);
  const charged = BALANCE - BigInt(String(await client.command("GET", KEY_PREFIX + CONSUMER)));
  return { charged, grown: vm.memoryBytes() - before };
}

export const selfHosted = defineProperty<ShCase>({
  name: "self-hosted",
  description: "Ollama, TGI, llama.cpp, SGLang and Cohere v2 answers (batches, hidden nesting) whole and split anywhere: the same charge, exact where both sides are reported, never free when cut",
  arbitrary: () => caseArb,
  async check(env: FuzzEnv, c: ShCase): Promise<void> {
    const b = build(c);
    const body = Buffer.from(b.body, "utf8");
    const vm = await env.sharedVm("self-hosted", CONFIG, "real");
    const whole = await exchange(env, vm, b.path, b.request, b.contentType, [body], false);
    const pieces = split(body, c.cuts, c.byteByByte);
    const parts = await exchange(env, vm, b.path, b.request, b.contentType, pieces, false);
    const what = () => `${c.format}, ${body.length} bytes, ${c.prompts.length} prompt(s), nesting ${c.hideDepth ?? 0}`;
    if (b.exact !== null) expectThat(whole.charged === b.exact, () => `charged ${whole.charged} for the whole answer, expected ${b.exact} (${what()})`);
    expectThat(whole.charged >= 1n, () => `the whole answer was free (${what()})`);
    expectThat(parts.charged === whole.charged, () => `charged ${parts.charged} in ${pieces.length} pieces, ${whole.charged} whole (${what()})`);
    for (const [name, r] of [["whole", whole], ["split", parts]] as const) {
      expectThat(r.grown <= MAX_GROWTH, () => `the ${name} answer grew linear memory by ${r.grown} bytes (${what()})`);
    }
    if (c.resetAt !== null) {
      const cutAt = c.resetAt % (body.length + 1);
      const cut = await exchange(env, vm, b.path, b.request, b.contentType, split(body.subarray(0, cutAt), c.cuts, false), true);
      expectThat(cut.charged >= 1n && cut.charged <= I64_MAX, () => `cut at ${cutAt} and reset: charged ${cut.charged} (${what()})`);
    }
  },
});
