// Cohere v2 (/v2/chat JSON and SSE, /v2/embed) through the real .wasm and a real redis-server:
// usage.tokens / usage.billed_units (meta.* for embed) charged exactly, each side the larger of the
// two; split at any byte; counts in client-controlled places never read; a cut stream charged the
// counts seen plus its content's estimate (docs/metering.md).
import { QuotaFixture, request } from "./fixture";
import { inputEstimateOf, outputEstimateOf } from "../unit/response_module";
import type { ResponseSpec } from "../../host/stream-run";

let fx: QuotaFixture;
beforeAll(async () => { fx = await QuotaFixture.start(); });
afterAll(async () => fx.stop());
beforeEach(async () => fx.flush());

const JSON_TYPE: ResponseSpec["headers"] = [[":status", "200"], ["content-type", "application/json"]];
const SSE: ResponseSpec["headers"] = [[":status", "200"], ["content-type", "text/event-stream"]];
const CHAT_BODY = '{"model":"command-a-03-2025","messages":[{"role":"user","content":"Why is the sky blue?"}]}';
/** The plugin's output estimate (usage/estimate.ts): these routes are of the chat family, their requests declare no tools. */
const outputEstimate = (contentBytes: number) => outputEstimateOf(contentBytes, 0, false);

const chatJson = JSON.stringify({
  id: "c1", finish_reason: "COMPLETE",
  message: {
    role: "assistant", content: [{ type: "text", text: "Rayleigh scattering" }], tool_plan: "none",
    // client-controlled text shaped like counts: never read
    citations: [{ start: 0, end: 3, text: "Ray", sources: [{ type: "document", document: { usage: { tokens: { input_tokens: 1 } } } }] }],
  },
  usage: { billed_units: { input_tokens: 10, output_tokens: 5 }, tokens: { input_tokens: 70, output_tokens: 4 }, cached_tokens: 0 },
});

function sse(events: Array<[string, unknown]>): string {
  return events.map(([e, d]) => `event: ${e}\ndata: ${JSON.stringify(d)}\n\n`).join("");
}
const chatStream = sse([
  ["message-start", { id: "s1", type: "message-start", delta: { message: { role: "assistant", content: [], tool_plan: "", tool_calls: [], citations: [] } } }],
  ["content-start", { type: "content-start", index: 0, delta: { message: { content: { type: "text", text: "" } } } }],
  ["content-delta", { type: "content-delta", index: 0, delta: { message: { content: { text: "Rayleigh" } } } }],
  ["content-delta", { type: "content-delta", index: 0, delta: { message: { content: { text: " scattering" } } } }],
  ["content-end", { type: "content-end", index: 0 }],
  ["message-end", { type: "message-end", delta: { finish_reason: "COMPLETE", usage: { billed_units: { input_tokens: 9, output_tokens: 3 }, tokens: { input_tokens: 71, output_tokens: 3 } } } }],
]);

async function call(path: string, response: ResponseSpec, body = CHAT_BODY) {
  const vm = await fx.plugin();
  const r = await vm.newStream().run({
    request: { headers: request("POST", path, "c1", [["content-type", "application/json"]]), body },
    response: () => response,
  });
  await vm.idle();
  expect(vm.trapped).toBeNull();
  return r;
}

test("balance 0: /v2/chat refused before the upstream", async () => {
  await fx.setBalance("c1", 0);
  const r = await call("/v2/chat", { headers: JSON_TYPE, body: chatJson });
  expect(r.local?.details).toBe("ai-quota.noquota");
  expect(r.upstream).toBeNull();
});

test("chat JSON: the larger of tokens and billed_units per side (70 + 5); citation counts not read", async () => {
  await fx.setBalance("c1", 1000);
  const r = await call("/v2/chat", { headers: JSON_TYPE, body: chatJson });
  expect(r.text).toBe(chatJson);
  expect(await fx.balance("c1")).toBe(String(1000 - 70 - 5));
});

test("chat SSE: message-end's usage charged (71 + 3), in one piece and at every byte", async () => {
  await fx.setBalance("c1", 1000);
  await call("/v2/chat", { headers: SSE, body: chatStream });
  expect(await fx.balance("c1")).toBe(String(1000 - 74));
  const bytes = Buffer.from(chatStream);
  await call("/v2/chat", { headers: SSE, body: Array.from(bytes, (_b, i) => bytes.subarray(i, i + 1)) });
  expect(await fx.balance("c1")).toBe(String(1000 - 2 * 74));
});

test("tool calls: arguments count in a cut stream's estimate", async () => {
  await fx.setBalance("c1", 1000);
  const args = '{"location":"Toronto"}';
  const cut = sse([
    ["message-start", { id: "s2", type: "message-start", delta: { message: { role: "assistant" } } }],
    ["tool-plan-delta", { type: "tool-plan-delta", delta: { message: { tool_plan: "Look" } } }],
    ["tool-call-start", { type: "tool-call-start", index: 0, delta: { message: { tool_calls: { id: "t", type: "function", function: { name: "w", arguments: "" } } } } }],
    ["tool-call-delta", { type: "tool-call-delta", index: 0, delta: { message: { tool_calls: { function: { arguments: args } } } } }],
  ]);
  const vm = await fx.plugin();
  const s = vm.newStream();
  s.requestHeaders(request("POST", "/v2/chat", "c1", [["content-type", "application/json"]]), false);
  s.requestBody(CHAT_BODY, true);
  await s.waitFor(() => s.upstream.ended || s.localResponse !== null, "admission");
  s.responseHeaders(SSE);
  s.responseBody(cut, false);
  s.finish("upstream reset");
  await vm.idle();
  expect(await fx.balance("c1")).toBe(String(1000 - inputEstimateOf(CHAT_BODY) - outputEstimate(4 + args.length)));
});

test("embed: meta.billed_units.input_tokens charged, the larger of it and meta.tokens", async () => {
  await fx.setBalance("c1", 1000);
  const body = JSON.stringify({ id: "e", embeddings: { float: [[0.1, 0.2]] }, texts: ["hello"], meta: { api_version: { version: "2" }, billed_units: { input_tokens: 3 }, tokens: { input_tokens: 2 } }, response_type: "embeddings_by_type" });
  await call("/v2/embed", { headers: JSON_TYPE, body }, '{"model":"embed-v4.0","texts":["hello"],"input_type":"search_document","embedding_types":["float"]}');
  expect(await fx.balance("c1")).toBe(String(1000 - 3));
});
