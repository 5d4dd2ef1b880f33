// The max_tokens reservation against the real plugin and a real Redis: the request's limit read as
// the upstreams read it (numeric strings, exponents, a BOM, deep unrelated nesting, n), and a body
// that cannot be read reserving `reservation.cap` (fail closed), which require_full then refuses
// when the balance is below it.
import { BASE_CONFIG, QuotaFixture, openAiJson, openChat } from "./fixture";

let fx: QuotaFixture;
beforeAll(async () => { fx = await QuotaFixture.start(); });
afterAll(async () => fx.stop());
beforeEach(async () => fx.flush());

const prompt = (body: string) => Math.ceil(Buffer.byteLength(body) / 4);

describe("reservation: max_tokens reads the limit as the upstream does", () => {
  test.each([
    ['{"max_tokens":"100000","messages":[]}', 100000],
    ['{"max_tokens":1e5,"messages":[]}', 100000],
    ['{"max_tokens":100000.0,"messages":[]}', 100000],
    ['\ufeff{"messages":[],"max_completion_tokens":" 2_000 "}', 2000],
    ['{"n":3,"max_tokens":100,"messages":[]}', 300],
    ['{"tools":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[{}]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]],"max_tokens":700}', 700],
    ['{"generationConfig":{"maxOutputTokens":"64","candidateCount":2},"contents":[]}', 128],
  ])("%s reserves %i plus the prompt estimate", async (body, output) => {
    const vm = await fx.plugin({ ...BASE_CONFIG, reservation: { mode: "max_tokens", tokens: 16 } });
    await fx.setBalance("c1", 1_000_000);
    const s = await openChat(vm, "c1", body);
    expect(s.upstream.ended).toBe(true);
    expect(await fx.balance("c1")).toBe(String(1_000_000 - output - prompt(body)));
    s.responseHeaders([[":status", "200"], ["content-type", "application/json"]]);
    s.responseBody(openAiJson(7, 3), true);
    await vm.idle();
    expect(await fx.balance("c1")).toBe(String(1_000_000 - 10));
  });
});

describe("reservation: a body that cannot be read reserves the cap", () => {
  const config = { ...BASE_CONFIG, reservation: { mode: "max_tokens", tokens: 16, require_full: true, cap: 5000 } };

  test.each(['{"max_tokens":1.5}', '{"max_tokens":"lots"}', '{"n":0,"max_tokens":5}', '{"max_tokens":-1}', '{"max_tokens":true}'])("%s", async (body) => {
    const vm = await fx.plugin(config);
    await fx.setBalance("c1", 4999);
    const refused = await openChat(vm, "c1", body);
    expect(refused.localResponse).not.toBeNull();
    expect(refused.upstream.ended).toBe(false);
    expect(await fx.balance("c1")).toBe("4999");
    await fx.setBalance("c1", 5000);
    const admitted = await openChat(vm, "c1", body);
    expect(admitted.upstream.ended).toBe(true);
    expect(await fx.balance("c1")).toBe("0");
    admitted.responseHeaders([[":status", "200"], ["content-type", "application/json"]]);
    admitted.responseBody(openAiJson(2, 1), true);
    await vm.idle();
    expect(await fx.balance("c1")).toBe("4997");
  });

  test("a limit beyond the cap reserves the cap, and the balance never goes below 0 with require_full", async () => {
    const vm = await fx.plugin(config);
    await fx.setBalance("c1", 6000);
    const s = await openChat(vm, "c1", '{"max_tokens":9223372036854775807}');
    expect(await fx.balance("c1")).toBe("1000");
    s.responseHeaders([[":status", "200"], ["content-type", "application/json"]]);
    s.responseBody(openAiJson(10, 4990), true);
    await vm.idle();
    expect(await fx.balance("c1")).toBe("1000");
  });
});

test("reservation.cap: between 1 and 2^50 − 1", async () => {
  for (const [cap, ok] of [[0, false], [-5, false], [2 ** 50, false], [2 ** 50 - 1, true], [1, true], ["4096", true], [1.5, false]] as const) {
    const { vm, configured } = await fx.vm({ ...BASE_CONFIG, reservation: { mode: "max_tokens", cap } });
    expect(configured).toBe(ok);
    if (!ok) expect(vm.logText()).toMatch(/reservation.cap must be/);
  }
});

describe("reservation: max_tokens in weighted units", () => {
  const weights = { default: { input: 1, output: 1 }, models: { "gpt-x": { input: 2, output: 10 }, "free-*": { input: 0, output: 0 } } };
  const config = { ...BASE_CONFIG, weights, reservation: { mode: "max_tokens", tokens: 16, require_full: true, cap: 100000 } };

  test("the request's model weights the prompt estimate and the output limit, rounded up", async () => {
    const vm = await fx.plugin(config);
    const body = '{"model":"gpt-x","max_tokens":100,"messages":[{"role":"user","content":"hello"}]}';
    const reserved = 2 * prompt(body) + 10 * 100;
    // require_full: a balance one unit below the weighted reservation is refused, not the token count.
    await fx.setBalance("c1", reserved - 1);
    const refused = await openChat(vm, "c1", body);
    expect(refused.localResponse).not.toBeNull();
    expect(await fx.balance("c1")).toBe(String(reserved - 1));
    await fx.setBalance("c1", reserved);
    const s = await openChat(vm, "c1", body);
    expect(s.upstream.ended).toBe(true);
    expect(await fx.balance("c1")).toBe("0");
    s.responseHeaders([[":status", "200"], ["content-type", "application/json"]]);
    s.responseBody(openAiJson(7, 3, "gpt-x"), true);
    await vm.idle();
    expect(await fx.balance("c1")).toBe(String(reserved - (2 * 7 + 10 * 3)));
  });

  test("a model that weighs nothing reserves nothing; an unreadable body still reserves the cap", async () => {
    const vm = await fx.plugin(config);
    await fx.setBalance("c1", 5);
    const free = await openChat(vm, "c1", '{"model":"free-1","max_tokens":100000,"messages":[]}');
    expect(free.upstream.ended).toBe(true);
    expect(await fx.balance("c1")).toBe("5");
    const unreadable = await openChat(vm, "c1", '{"model":"free-1","max_tokens":-1}');
    expect(unreadable.localResponse).not.toBeNull();
    expect(await fx.balance("c1")).toBe("5");
  });
});
