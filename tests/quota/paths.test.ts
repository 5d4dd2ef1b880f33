// Path variants against the real plugin and a real Redis, as an attacker tries them: every spelling
// of a generation endpoint that an upstream would serve is metered (a consumer without balance is
// refused, one with balance is charged); what the plugin does not meter passes with no Redis call under
// `other_paths: {action: pass}` (tests/quota/other_paths.test.ts has the default, which refuses it).
// The full matrix of spellings and upstream readings is tests/unit/routes.test.ts.
import { PluginVm } from "../../host";
import { BASE_CONFIG, QuotaFixture, chat, jsonResponse, openAiJson, request } from "./fixture";

let fx: QuotaFixture;
let vm: PluginVm;
beforeAll(async () => {
  fx = await QuotaFixture.start();
  vm = await fx.plugin();
});
afterAll(async () => fx.stop());
beforeEach(async () => fx.flush());
afterEach(() => expect(vm.trapped).toBeNull());

// One spelling per trick; each is served as a generation endpoint by some upstream or proxy chain.
const SPELLINGS: Array<[string, string]> = [
  ["OpenAI completions (not metered by Higress's default)", "/v1/completions"],
  ["OpenAI Responses", "/v1/responses"],
  ["OpenAI embeddings", "/v1/embeddings"],
  ["Azure OpenAI", "/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21"],
  ["Gemini's OpenAI-compatible API", "/v1beta/openai/chat/completions"],
  ["Anthropic Messages", "/v1/messages"],
  ["Gemini generateContent", "/v1beta/models/gemini-2.0-flash:generateContent"],
  ["Gemini streamGenerateContent", "/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse"],
  ["vLLM /invocations", "/invocations"],
  ["SGLang /generate", "/generate"],
  ["upper case", "/V1/Chat/Completions"],
  ["a trailing slash", "/v1/chat/completions/"],
  ["repeated slashes", "//v1//chat///completions"],
  ["a '.' segment", "/v1/./chat/completions"],
  ["a '..' segment", "/v1/chat/x/../completions"],
  ["an escaped letter", "/v1/chat/complet%69ons"],
  ["a double-escaped letter", "/v1/chat/complet%2569ons"],
  ["an escaped slash", "/v1/chat%2Fcompletions"],
  ["a backslash", "/v1\\chat\\completions"],
  ["a ';' parameter", "/v1/chat/completions;jsessionid=x"],
  ["'..' over an escaped slash", "/v1/chat/a%2Fb/../completions"],
  ["a dotless i", "/v1/chat/complet\u0131ons"],
  ["absolute form", "http://gateway.test/v1/chat/completions"],
];

describe("every spelling of a generation endpoint is metered", () => {
  test.each(SPELLINGS)("%s: %s — refused without balance", async (_what, path) => {
    const r = await chat(vm, "broke", jsonResponse(openAiJson(10, 5)), { path });
    expect(r.local?.status).toBe(403);
    expect(r.local?.details).toBe("ai-quota.noquota");
    expect(r.upstream).toBeNull();
  });

  test.each(SPELLINGS)("%s: %s — charged with balance", async (_what, path) => {
    await fx.setBalance("c1", 1000);
    const r = await chat(vm, "c1", jsonResponse(openAiJson(10, 5)), { path });
    expect(r.upstream).not.toBeNull();
    await vm.idle();
    expect(await fx.balance("c1")).toBe("985");
  });
});

test.each([
  ["/v1/models"],
  ["/v1/messages/count_tokens"],
  ["/v1beta/models/gemini-2.0-flash:countTokens"],
  ["/v1/chat/completions%3Fx"],
  ["/v1/messages/quota?consumer=c1"],
])("%s is not metered: with other_paths: pass, it passes with no Redis call", async (path) => {
  const vm = await passingVm();
  const before = vm.redisCommands().length;
  const r = await chat(vm, "broke", jsonResponse(openAiJson(10, 5)), { path });
  expect(r.local).toBeNull();
  expect(r.upstream).not.toBeNull();
  await vm.idle();
  expect(vm.redisCommands().length).toBe(before);
});

let passing: PluginVm | null = null;
/** Higress's behaviour for paths it does not meter (other_paths: pass). */
async function passingVm(): Promise<PluginVm> {
  passing ??= await fx.plugin({ ...BASE_CONFIG, other_paths: { action: "pass" } });
  return passing;
}

test("the admin API answers spellings of its path too, and only there", async () => {
  await fx.setBalance("c1", 7);
  for (const path of ["/v1/chat/completions/quota?consumer=c1", "/V1/CHAT/COMPLETIONS/QUOTA/?consumer=c1", "/v1/chat/completions%2Fquota?consumer=c1"]) {
    const q = await vm.newStream().run({ request: { headers: request("GET", path, "admin") } });
    expect({ path, body: q.local?.body.toString() }).toEqual({ path, body: '{"consumer":"c1","quota":7}' });
  }
  const notAdmin = await vm.newStream().run({ request: { headers: request("GET", "/V1/chat/completions/quota?consumer=c1", "c1") } });
  expect(notAdmin.local?.status).toBe(403);
});

test("with Higress's two-path default and other_paths: pass, /v1/completions is left free (why our defaults are wider)", async () => {
  const higress = await fx.plugin({ ...BASE_CONFIG, enable_path_suffixes: ["/v1/chat/completions", "/v1/messages"], other_paths: { action: "pass" } });
  const free = await chat(higress, "broke", jsonResponse(openAiJson(10, 5)), { path: "/v1/completions" });
  expect(free.upstream).not.toBeNull();
  const metered = await chat(higress, "broke", jsonResponse(openAiJson(10, 5)), { path: "/V1/MESSAGES/" });
  expect(metered.local?.status).toBe(403);
  // Without other_paths the path left out of the list is refused rather than free.
  const narrow = await fx.plugin({ ...BASE_CONFIG, enable_path_suffixes: ["/v1/chat/completions", "/v1/messages"] });
  const refused = await chat(narrow, "broke", jsonResponse(openAiJson(10, 5)), { path: "/v1/completions" });
  expect(refused.local?.details).toBe("ai-quota.path_not_metered");
  expect(refused.upstream).toBeNull();
});
