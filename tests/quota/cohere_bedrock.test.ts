// Cohere v2 and Bedrock runtime against the real plugin and a real Redis: refused at balance 0,
// charged exactly where the answer's counts are in a format the plugin reads (Bedrock invoke of a
// Claude model answers in Anthropic's format), and charged the estimate (docs/metering.md) where
// they are not read yet (Cohere's usage.billed_units/tokens, Converse's camelCase usage, the binary
// event-stream of the -stream endpoints): never free.
import { crc32 } from "node:zlib";
import { PluginVm } from "../../host";
import { QuotaFixture, chat, jsonResponse } from "./fixture";

let fx: QuotaFixture;
let vm: PluginVm;
beforeAll(async () => {
  fx = await QuotaFixture.start();
  vm = await fx.plugin();
});
afterAll(async () => fx.stop());
beforeEach(async () => fx.flush());
afterEach(() => expect(vm.trapped).toBeNull());

const MODEL = "anthropic.claude-3-5-sonnet-20240620-v1%3A0";
const PATHS: Array<[string, string]> = [
  ["Cohere chat", "/v2/chat"],
  ["Cohere embed", "/v2/embed"],
  ["Bedrock invoke", `/model/${MODEL}/invoke`],
  ["Bedrock invoke, ':' unescaped", "/model/anthropic.claude-3-5-sonnet-20240620-v1:0/invoke"],
  ["Bedrock invoke-with-response-stream", `/model/${MODEL}/invoke-with-response-stream`],
  ["Bedrock converse", `/model/${MODEL}/converse`],
  ["Bedrock converse-stream", `/model/${MODEL}/converse-stream`],
];

test.each(PATHS)("%s (%s): refused at balance 0, the upstream never reached", async (_what, path) => {
  const r = await chat(vm, "broke", jsonResponse("{}"), { path });
  expect(r.local?.status).toBe(403);
  expect(r.local?.details).toBe("ai-quota.noquota");
  expect(r.upstream).toBeNull();
});

test("Bedrock invoke of a Claude model: Anthropic's usage charged exactly", async () => {
  await fx.setBalance("c1", 1000);
  const body = JSON.stringify({
    id: "msg_1", type: "message", role: "assistant", model: "claude-3-5-sonnet-20240620",
    content: [{ type: "text", text: "hi" }], stop_reason: "end_turn",
    usage: { input_tokens: 10, output_tokens: 5 },
  });
  const r = await chat(vm, "c1", jsonResponse(body), { path: `/model/${MODEL}/invoke` });
  expect(r.upstream).not.toBeNull();
  await vm.idle();
  expect(await fx.balance("c1")).toBe("985");
});

/** One AWS event-stream message (string headers), as @smithy/eventstream-codec encodes it. */
function eventMessage(type: string, payload: string): Buffer {
  const h = Buffer.concat([[":event-type", type], [":content-type", "application/json"], [":message-type", "event"]].map(([n, v]) => {
    const len = Buffer.alloc(2);
    len.writeUInt16BE(Buffer.byteLength(v));
    return Buffer.concat([Buffer.from([n.length]), Buffer.from(n), Buffer.from([7]), len, Buffer.from(v)]);
  }));
  const p = Buffer.from(payload);
  const prelude = Buffer.alloc(12);
  prelude.writeUInt32BE(12 + h.length + p.length + 4, 0);
  prelude.writeUInt32BE(h.length, 4);
  prelude.writeUInt32BE(crc32(prelude.subarray(0, 8)), 8);
  const body = Buffer.concat([prelude, h, p]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([body, crc]);
}

test.each<[string, string, string | Buffer, string]>([
  ["Cohere chat", "/v2/chat", JSON.stringify({ id: "c", finish_reason: "COMPLETE", message: { role: "assistant", content: [{ type: "text", text: "hello there" }] }, usage: { billed_units: { input_tokens: 10, output_tokens: 5 }, tokens: { input_tokens: 70, output_tokens: 5 } } }), "application/json"],
  ["Bedrock converse", `/model/${MODEL}/converse`, JSON.stringify({ output: { message: { role: "assistant", content: [{ text: "hello there" }] } }, stopReason: "end_turn", usage: { inputTokens: 10, outputTokens: 5, totalTokens: 15 } }), "application/json"],
  ["Bedrock converse-stream", `/model/${MODEL}/converse-stream`, Buffer.concat([eventMessage("contentBlockDelta", '{"contentBlockIndex":0,"delta":{"text":"hello there"}}'), eventMessage("metadata", '{"usage":{"inputTokens":10,"outputTokens":5,"totalTokens":15},"metrics":{"latencyMs":1}}')]), "application/vnd.amazon.eventstream"],
])("%s: counts in a format not read yet are charged the estimate, never nothing", async (_what, path, body, type) => {
  await fx.setBalance("c1", 100000);
  const r = await chat(vm, "c1", { headers: [[":status", "200"], ["content-type", type]], body: body as any }, { path });
  expect(r.upstream).not.toBeNull();
  await vm.idle();
  const spent = 100000 - Number(await fx.balance("c1"));
  expect(spent).toBeGreaterThan(0);
});
