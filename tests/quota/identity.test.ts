// Identity that cannot be spoofed: Higress's auth plugins add x-mse-consumer without removing one
// the client sent, and Envoy's single-header lookup returns the first (the client's) value.
import { PluginVm } from "../../host";
import { QuotaFixture, chat, jsonResponse, openAiJson, request } from "./fixture";

let fx: QuotaFixture;
let vm: PluginVm;
beforeAll(async () => {
  fx = await QuotaFixture.start();
  vm = await fx.plugin();
});
afterAll(async () => fx.stop());
beforeEach(async () => {
  await fx.flush();
  await fx.setBalance("consumer1", 100);
  await fx.setBalance("consumer3", 100);
});
afterEach(() => expect(vm.trapped).toBeNull());

const BAD = "Request denied by ai quota check. Invalid consumer identity.";

test("a client-sent x-mse-consumer beside the auth plugin's → 401, charged to nobody, no admin access", async () => {
  const headers = request("GET", "/v1/chat/completions/quota?consumer=consumer1", null, [
    ["x-mse-consumer", "admin"], // sent by the client
    ["x-mse-consumer", "consumer1"], // added by key-auth
  ]);
  const r = await vm.newStream().run({ request: { headers } });
  expect(r.local?.status).toBe(401);
  expect(r.local?.details).toBe("ai-quota.bad_consumer");
  expect(r.local?.body.toString()).toBe(BAD);

  const c = await vm.newStream().run({
    request: { headers: request("POST", "/v1/chat/completions", null, [["x-mse-consumer", "consumer3"], ["x-mse-consumer", "consumer1"]]), body: "{}" },
    response: () => jsonResponse(openAiJson(5, 5)),
  });
  expect(c.local?.status).toBe(401);
  expect(c.upstream).toBeNull();
  await vm.idle();
  expect(await fx.balance("consumer1")).toBe("100");
  expect(await fx.balance("consumer3")).toBe("100");
});

test.each([
  ["a control character", "consumer\u0001"],
  ["a tab", "a\tb"],
  ["a comma (joined repeated values)", "consumer3,consumer1"],
  ["more than 256 bytes", "c".repeat(257)],
])("a consumer name with %s → 401 ai-quota.bad_consumer", async (_what, name) => {
  const r = await chat(vm, name, jsonResponse(openAiJson(1, 1)));
  expect(r.local?.status).toBe(401);
  expect(r.local?.details).toBe("ai-quota.bad_consumer");
  expect(r.upstream).toBeNull();
});

test("256 bytes is still a name", async () => {
  const name = "c".repeat(256);
  await fx.setBalance(name, 10);
  const r = await chat(vm, name, jsonResponse(openAiJson(1, 1)));
  expect(r.local).toBeNull();
  await vm.idle();
  expect(await fx.balance(name)).toBe("8");
});

test("non-ASCII names are names", async () => {
  await fx.setBalance("计费-ü", 10);
  const r = await chat(vm, "计费-ü", jsonResponse(openAiJson(1, 1)));
  expect(r.local).toBeNull();
  await vm.idle();
  expect(await fx.balance("计费-ü")).toBe("8");
});
