// assembly/abi/body_view.ts through the real plugin: each response chunk is read where the host
// wrote it (no managed copy) and its block is freed once the scanner is done with it. The charge
// must not depend on how the body is cut into chunks, and memory must not grow with the chunks.
import { BASE_CONFIG, QuotaFixture, chat, openAiSse, sseResponse } from "../quota/fixture";

let fx: QuotaFixture;
beforeAll(async () => { fx = await QuotaFixture.start(); });
afterAll(async () => fx.stop());
beforeEach(async () => fx.flush());

const FUNDS = 1_000_000;

/** The body cut into pieces of the given sizes, cycling through them. */
function cut(body: string, sizes: number[]): string[] {
  const out: string[] = [];
  for (let pos = 0, k = 0; pos < body.length; k++) {
    const n = sizes[k % sizes.length];
    out.push(body.slice(pos, pos + n));
    pos += n;
  }
  return out;
}

test("usage split between chunks anywhere is charged exactly", async () => {
  const vm = await fx.plugin(BASE_CONFIG);
  await fx.setBalance("c1", FUNDS);
  const body = openAiSse(1234, 567, "m-" + "x".repeat(20));
  let expected = FUNDS;
  // every cut into two chunks, around the usage event (the last ~200 bytes)
  const usageAt = body.lastIndexOf("data: {");
  for (let at = usageAt - 2; at <= body.length; at++) {
    const r = await chat(vm, "c1", sseResponse([body.slice(0, at), body.slice(at)]));
    expect(r.local).toBeNull();
    expected -= 1234 + 567;
  }
  // one byte at a time, and uneven chunks with empty ones among them
  for (const chunks of [cut(body, [1]), cut(body, [7, 0, 64, 1, 0, 300])]) {
    await chat(vm, "c1", sseResponse(chunks));
    expected -= 1234 + 567;
  }
  await vm.idle();
  expect(await fx.balance("c1")).toBe(String(expected));
  expect(vm.trapped).toBeNull();
});

test("memory stays flat over many chunks (every host block is freed)", async () => {
  const vm = await fx.plugin(BASE_CONFIG);
  await fx.setBalance("c1", FUNDS);
  // ~240-byte events like OpenAI's, one per chunk, then the usage event
  const delta = (i: number) => `data: ${JSON.stringify({ id: "c", object: "chat.completion.chunk", model: "gpt-4o", choices: [{ index: 0, delta: { content: "word" + i + " ".repeat(150) } }], usage: null })}\n\n`;
  const chunks = Array.from({ length: 400 }, (_, i) => delta(i));
  chunks.push(openAiSse(3, 4).split("\n\n").slice(-3).join("\n\n"));
  const request = async () => {
    const r = await chat(vm, "c1", sseResponse(chunks));
    expect(r.local).toBeNull();
  };
  for (let i = 0; i < 3; i++) await request(); // warm-up: what is allocated once
  await vm.idle();
  const before = vm.memoryBytes();
  const requests = 25; // 10,000 chunks, ~2.5 MB of body: any block kept would show
  for (let i = 0; i < requests; i++) await request();
  await vm.idle();
  expect(vm.memoryBytes()).toBe(before);
  expect(await fx.balance("c1")).toBe(String(FUNDS - (requests + 3) * 7));
  expect(vm.trapped).toBeNull();
});
