// What hiding costs in memory per live stream. When the plugin asked for usage the client had not
// (stream_options.include_usage), the hider holds an incomplete SSE block back between chunks; a
// 60 KB event (vLLM with `echo: true` sends the prompt back in one) must not leave each live
// stream holding more than MAX_HELD_BYTES (64 KiB) of linear memory, and an event larger than
// that must neither corrupt the client's stream nor change the charge.
import { PluginVm, Stream } from "../../host";
import { BASE_CONFIG, QuotaFixture, request } from "../quota/fixture";

let fx: QuotaFixture;
beforeAll(async () => { fx = await QuotaFixture.start(); });
afterAll(async () => fx.stop());
beforeEach(async () => fx.flush());

const KiB = 1024;
const HELD_MAX = 64 * KiB;
const CHUNK = 16 * KiB;

const ev = (o: object) => `data: ${JSON.stringify(o)}\n\n`;
const content = (text: string, usage: boolean) =>
  ({ id: "c", object: "chat.completion.chunk", choices: [{ index: 0, delta: { content: text } }], ...(usage ? { usage: null } : {}) });
const USAGE = { id: "c", object: "chat.completion.chunk", choices: [], usage: { prompt_tokens: 11, completion_tokens: 4, total_tokens: 15 } };

function split(s: string, size: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < s.length; i += size) out.push(s.slice(i, i + size));
  return out;
}

/** A metered streaming chat, admitted, with its response headers in: the plugin hides unless the client asked for usage. */
async function open(vm: PluginVm, consumer: string, clientAsks: boolean): Promise<Stream> {
  const body = JSON.stringify({ model: "m", stream: true, messages: [{ role: "user", content: "hi" }], ...(clientAsks ? { stream_options: { include_usage: true } } : {}) });
  const s = vm.newStream();
  s.requestHeaders(request("POST", "/v1/chat/completions", consumer, [["content-type", "application/json"]]), false);
  s.requestBody(body, true);
  await s.waitFor(() => s.upstream.ended || s.localResponse !== null, "admission");
  expect(s.localResponse).toBeNull();
  s.responseHeaders([[":status", "200"], ["content-type", "text/event-stream"]], false);
  return s;
}

const BIG_TEXT = "echo ".repeat(12_000); // a ~60 KB event

describe("memory per live stream after a 60 KB event", () => {
  test.each([
    ["hiding", false],
    ["not hiding (the client asked for usage)", true],
  ])("%s: %s — N live streams grow linear memory by at most N x 64 KiB + a constant", async (_name, clientAsks) => {
    const vm = await fx.plugin(BASE_CONFIG);
    await fx.setBalance("m", 1_000_000_000);
    const big = ev(content(BIG_TEXT, !clientAsks));
    expect(big.length).toBeGreaterThan(60_000);
    // Warm-up: the VM's own one-off buffers (pools, shared scratch) exist before the measure.
    for (let i = 0; i < 3; i++) {
      const s = await open(vm, "m", clientAsks);
      for (const part of split(big + ev(USAGE) + "data: [DONE]\n\n", CHUNK)) s.responseBody(part, false);
      s.responseBody("", true);
      await s.settled();
    }
    await vm.idle();
    const N = 100;
    const before = vm.memoryBytes();
    const live: Stream[] = [];
    for (let i = 0; i < N; i++) {
      const s = await open(vm, "m", clientAsks);
      for (const part of split(big, CHUNK)) s.responseBody(part, false);
      // The next event starts and stays incomplete: the stream is mid-answer.
      s.responseBody("data: {\"id\":\"c\",", false);
      live.push(s);
    }
    const growth = vm.memoryBytes() - before;
    process.stdout.write(`hider memory (${clientAsks ? "not hiding" : "hiding"}): ${N} live streams after a ${big.length}-byte event: +${Math.round(growth / KiB)} KiB (${Math.round(growth / N / KiB)} KiB per stream)\n`);
    expect(growth).toBeLessThanOrEqual(N * HELD_MAX + 1024 * KiB);
    // Every client saw the event as it would have without us.
    // Every client saw the event as it would have without us (not hiding, the next event's start too).
    const shown = clientAsks ? big + "data: {\"id\":\"c\"," : ev(content(BIG_TEXT, false));
    for (const s of live) expect(s.downstream.body.toString() === shown).toBe(true);
    for (const s of live) {
      s.responseBody("\"object\":\"chat.completion.chunk\",\"choices\":[]," + "\"usage\":" + JSON.stringify(USAGE.usage) + "}\n\ndata: [DONE]\n\n", true);
      await s.settled();
    }
    await vm.idle();
    expect(await fx.balance("m")).toBe(String(1_000_000_000 - 15 * (N + 3)));
    expect(vm.trapped).toBeNull();
  });
});

describe("events larger than what the hider holds", () => {
  // The plugin reads a body in 64 KiB windows (abi/body_view.ts), so an event over MAX_HELD_BYTES
  // is never whole in one: the hider lets it go as it came, whatever the chunking.
  const event = (bytes: number, usage: boolean) => ev(content("x".repeat(bytes), usage));
  const body = (big: string) => ev(content("a", true)) + big + ev(content("b", true)) + ev(USAGE) + "data: [DONE]\n\n";
  const shown = (big: string) => ev(content("a", false)) + big + ev(content("b", false)) + "data: [DONE]\n\n";

  // 50 KiB: always edited (held and completed within the bound). 70 KiB: edited when the window
  // that completes it comes while at most 64 KiB of it was held, else passed as it came — never
  // anything else. 200 KiB: always passed as it came.
  test.each([
    ["50 KiB: edited", 50 * KiB, [true]],
    ["70 KiB: edited or passed as it came", 70 * KiB, [true, false]],
    ["200 KiB: passed as it came", 200 * KiB, [false]],
  ])("%s at every chunk size; the rest of the stream is still hidden, the charge exact", async (_name, bytes, outcomes) => {
    const vm = await fx.plugin(BASE_CONFIG);
    await fx.setBalance("k", 1_000_000);
    const upstream = body(event(bytes, true));
    const allowed = outcomes.map((edited) => shown(event(bytes, !edited)));
    let charged = 0;
    for (const size of [1000, 4096, 16 * KiB, 60 * KiB, 64 * KiB, 100 * KiB, 1 << 20]) {
      const s = await open(vm, "k", false);
      const before = vm.memoryBytes();
      for (const part of split(upstream, size)) s.responseBody(part, false);
      s.responseBody("", true);
      await s.settled();
      charged += 15;
      const out = s.downstream.body.toString();
      expect({ size, allowed: allowed.includes(out) }).toEqual({ size, allowed: true });
      expect(vm.memoryBytes() - before).toBeLessThanOrEqual(4 * HELD_MAX + 2 * size);
    }
    await vm.idle();
    expect(await fx.balance("k")).toBe(String(1_000_000 - charged));
    expect(vm.trapped).toBeNull();
  });
});
