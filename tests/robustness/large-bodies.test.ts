// Large request bodies through the real plugin: read as they stream (or held by the host, never by
// the plugin), with the plugin's linear memory within 1 MiB of where it started.
import { BASE_CONFIG, HTTP_STORE, QuotaFixture, jsonResponse, openAiJson, openAiSse, request, sseResponse } from "../quota/fixture";

let fx: QuotaFixture;
beforeAll(async () => { fx = await QuotaFixture.start(); });
afterAll(async () => fx.stop());
beforeEach(async () => fx.flush());

const MiB = 1024 * 1024;

/** A chat body of about `bytes`, ordinary messages, with `extra` fields last. */
function chatBody(bytes: number, extra: Record<string, unknown> = {}): string {
  const line = "The quick brown fox jumps over the lazy dog, again and again. ";
  const n = Math.floor((bytes - 200) / (line.length * 20 + 40));
  const messages = Array.from({ length: n }, (_, i) => ({ role: i % 2 ? "assistant" : "user", content: line.repeat(20) }));
  return JSON.stringify({ model: "gpt-4o", messages, ...extra });
}

function chunks(s: string, size: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < s.length; i += size) out.push(s.slice(i, i + size));
  return out;
}

const headers = (consumer: string, extra: Array<[string, string]> = []) =>
  request("POST", "/v1/chat/completions", consumer, [["content-type", "application/json"], ...extra]);

describe.each([["in 64 KiB chunks", 64 * 1024], ["in one chunk", Number.MAX_SAFE_INTEGER]])("a body %s", (_name, chunkSize) => {
  test("max_tokens mode: an ~8 MiB body (Higress; 1 MiB on Envoy) is held by the host, read by the plugin, reserved for, and passed on unchanged", async () => {
    const vm = await fx.plugin({ ...BASE_CONFIG, reservation: { mode: "max_tokens", tokens: 64 }, missing_usage: "none" });
    await fx.setBalance("c1", 100_000_000);
    const size = HTTP_STORE ? MiB - 64 * 1024 : 8 * MiB - 64 * 1024;
    const body = chatBody(size, { max_tokens: 700 });
    const before = vm.memoryBytes();
    const r = await vm.newStream().run({ request: { headers: headers("c1"), body: chunks(body, chunkSize) }, response: () => jsonResponse(openAiJson(10, 5)) });
    expect(r.status).toBe(200);
    expect(r.upstream!.body.length).toBe(Buffer.byteLength(body));
    expect(r.upstream!.body.toString()).toBe(body);
    expect(vm.memoryBytes() - before).toBeLessThanOrEqual(MiB);
    await vm.idle();
    expect(await fx.balance("c1")).toBe(String(100_000_000 - 15));
  });

  test("streaming without include_usage: the option is added at the end of an ~8 MiB body, memory flat", async () => {
    const vm = await fx.plugin(BASE_CONFIG);
    await fx.setBalance("c1", 100_000_000);
    const body = chatBody(8 * MiB - 64 * 1024, { stream: true });
    const before = vm.memoryBytes();
    // The client's content-length no longer holds once the option is added: the plugin removes it.
    const requestHeaders = headers("c1", [["content-length", String(Buffer.byteLength(body))]]);
    const r = await vm.newStream().run({ request: { headers: requestHeaders, body: chunks(body, chunkSize) }, response: () => sseResponse(openAiSse(1, 1)) });
    expect(r.status).toBe(200);
    const sent = JSON.parse(r.upstream!.body.toString());
    expect(sent.stream_options).toEqual({ include_usage: true });
    expect(r.upstream!.body.toString()).toBe(body.slice(0, -1) + ',"stream_options":{"include_usage":true}}');
    expect(r.upstream!.headers.find(([k]) => k === "content-length")).toBeUndefined();
    expect(vm.memoryBytes() - before).toBeLessThanOrEqual(MiB);
    await vm.idle();
    expect(await fx.balance("c1")).toBe(String(100_000_000 - 2));
  });
});

test("max_tokens mode: a body over max_request_body_bytes is refused with 413 before the model sees it", async () => {
  const vm = await fx.plugin({ ...BASE_CONFIG, reservation: { mode: "max_tokens" }, max_request_body_bytes: 256 * 1024 });
  await fx.setBalance("c1", 100_000_000);
  const body = chatBody(300 * 1024, { max_tokens: 10 });
  const r = await vm.newStream().run({ request: { headers: headers("c1"), body: chunks(body, 64 * 1024) } });
  expect(r.status).toBe(413);
  expect(r.local?.details).toBe("ai-quota.body_too_large");
  expect(r.upstream).toBeNull();
  await vm.idle();
  expect(await fx.balance("c1")).toBe("100000000");
});
