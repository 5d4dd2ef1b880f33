// Issue 22 items 1, 5, 7, 9 through the real .wasm and a real Redis: bodies the plugin cannot read
// as every upstream will are refused (400 ai-quota.unreadable_body) before their document goes
// upstream; an edited request's answer is hidden even with bytes after the document; an estimate
// never exceeds the request's own output limit; a cut stateful request pays a floor of input.
import { PluginVm } from "../../host";
import { BASE_CONFIG, QuotaFixture, request } from "./fixture";

let fx: QuotaFixture;
beforeAll(async () => { fx = await QuotaFixture.start(); });
afterAll(async () => fx.stop());
beforeEach(async () => fx.flush());

const SSE: [string, string][] = [[":status", "200"], ["content-type", "text/event-stream"]];
const config = { ...BASE_CONFIG, enable_path_suffixes: ["/v1/chat/completions", "/v1/responses"] };

/** Sends `chunks` as the request body (the last with END_STREAM) and waits for the upstream or a local reply. */
async function send(vm: PluginVm, chunks: (string | Buffer)[], path = "/v1/chat/completions") {
  const s = vm.newStream();
  s.requestHeaders(request("POST", path, "c1", [["content-type", "application/json"]]), false);
  chunks.forEach((c, i) => s.requestBody(c, i === chunks.length - 1));
  await s.waitFor(() => s.upstream.ended || s.localResponse !== null, "the upstream or a local reply");
  return s;
}

describe("bodies the upstream reads differently are refused before they go upstream", () => {
  const utf16 = Buffer.from('{"stream":true,"messages":[]}', "utf16le");
  test.each([
    ["include_usage 0 (pydantic: false)", ['{"stream":true,"stream_options":{"include_usage":0}}']],
    ['include_usage "off"', ['{"stream":true,', '"stream_options":{"include_usage":"off"}}']],
    ['include_usage "False"', ['{"stream_options":{"include_usage":"False"},"stream":true}']],
    ["stream_options null before stream", ['{"stream_options":null,"stream":true}']],
    ["NaN before stream (Python accepts it)", ['{"temperature":NaN,"stream":true}']],
    ["-Infinity split across chunks", ['{"seed":-Inf', 'inity,"stream":true}']],
    ["Stream (Go folds it onto stream, Python ignores it)", ['{"Stream":true,"messages":[]}']],
    ["Include_Usage", ['{"stream":true,"stream_options":{"Include_Usage":true}}']],
    ["UTF-16LE without BOM", [utf16]],
    ["UTF-16LE with BOM", [Buffer.concat([Buffer.from([0xff, 0xfe]), utf16])]],
    ["bytes after the document in the same chunk", ['{"stream":true} x']],
  ])("%s: 400 ai-quota.unreadable_body, nothing charged", async (_name, chunks) => {
    const vm = await fx.plugin(config);
    await fx.setBalance("c1", 1000);
    const s = await send(vm, chunks);
    expect(s.localResponse?.status).toBe(400);
    expect(s.localResponse?.details).toBe("ai-quota.unreadable_body");
    expect(JSON.parse(s.localResponse!.body.toString()).error.code).toBe("unreadable_body");
    expect(s.upstream.ended).toBe(false); // the document never reached the upstream whole
    await vm.idle();
    expect(await fx.balance("c1")).toBe("1000");
    expect(vm.metrics()["ai_quota.requests.denied.unreadable_body"]).toBe(1);
  });

  test.each([
    ['"Background":true', '{"Background":true,"input":"hi"}', "ai-quota.unreadable_body"],
    ['"background":"true"', '{"background":"true","input":"hi"}', "ai-quota.background"],
    ['"background":1', '{"background":1,"input":"hi"}', "ai-quota.background"],
  ])("Responses background behind %s is refused", async (_name, body, details) => {
    const vm = await fx.plugin(config);
    await fx.setBalance("c1", 1000);
    const s = await send(vm, [body], "/v1/responses");
    expect(s.localResponse?.status).toBe(400);
    expect(s.localResponse?.details).toBe(details);
  });

  test('lax spellings with one meaning pass: "stream":"true" gets include_usage', async () => {
    const vm = await fx.plugin(config);
    await fx.setBalance("c1", 1000);
    const s = await send(vm, ['{"stream":"true","messages":[]}']);
    expect(s.localResponse).toBeNull();
    expect(JSON.parse(s.upstream.body.toString()).stream_options).toEqual({ include_usage: true });
  });
});

const usageEvent = 'data: {"id":"c","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":7,"completion_tokens":3,"total_tokens":10}}\n\n';
const delta = (text: string) => `data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":${JSON.stringify(text)}},"finish_reason":null}],"usage":null}\n\n`;

test("bytes after the document in a later chunk: the edit went out, so the answer is hidden (item 9)", async () => {
  const vm = await fx.plugin(config);
  await fx.setBalance("c1", 1000);
  const s = vm.newStream();
  s.requestHeaders(request("POST", "/v1/chat/completions", "c1", [["content-type", "application/json"]]), false);
  s.requestBody('{"stream":true,"messages":[]}', false);
  // The document goes upstream (edited) before the trailing bytes arrive: they can no longer be refused.
  await s.waitFor(() => s.upstream.body.includes("include_usage"), "the document upstream");
  s.requestBody(" trailing", true);
  await s.waitFor(() => s.upstream.ended || s.localResponse !== null, "the request's end");
  expect(s.localResponse).toBeNull();
  // A Go upstream's Decoder reads the edited document and ignores what follows.
  const sent = s.upstream.body.toString();
  expect(JSON.parse(sent.slice(0, sent.lastIndexOf("}") + 1)).stream_options).toEqual({ include_usage: true });
  s.responseHeaders(SSE);
  s.responseBody(delta("Hello") + usageEvent + "data: [DONE]\n\n", true);
  await s.waitFor(() => s.downstream.ended, "the answer");
  const client = s.downstream.body.toString();
  expect(client).toContain("Hello");
  expect(client).not.toContain('"usage"');
  expect(client).not.toContain('"choices":[]');
  await vm.idle();
  expect(await fx.balance("c1")).toBe("990");
});

/** What a stream of `body` cut after `content` (no usage) costs. */
async function cutCharge(body: string, content: string): Promise<number> {
  const vm = await fx.plugin(config);
  await fx.setBalance("c1", 100000);
  const s = await send(vm, [body.slice(0, 67), body.slice(67)]);
  s.responseHeaders(SSE);
  if (content.length > 0) s.responseBody(delta(content), false);
  s.finish("upstream reset");
  await vm.idle();
  return 100000 - Number(await fx.balance("c1"));
}

test("a stream cut after one chunk with max_tokens 5: charged at most the input estimate + 5 (item 7)", async () => {
  const body = '{"model":"gpt-4o","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}';
  const input = await cutCharge(body, ""); // no content: the input estimate alone
  const charged = await cutCharge(body, "a fairly long first chunk of text that the estimate would count as many tokens");
  expect(charged).toBeGreaterThan(input); // some output is charged
  expect(charged).toBeLessThanOrEqual(input + 5);
  // Without the limit the same chunk is estimated above 5 tokens: the bound is what holds it.
  const unbounded = await cutCharge(body.replace('"max_tokens":5', '"max_tokens":5000'), "a fairly long first chunk of text that the estimate would count as many tokens");
  expect(unbounded).toBeGreaterThan(input + 5);
});

test("n multiplies the limit: max_completion_tokens 3, n 2 caps the output estimate at 6", async () => {
  const body = '{"max_completion_tokens":3,"n":2,"messages":[{"role":"user","content":"hello"}]}';
  const input = await cutCharge(body, "");
  expect(await cutCharge(body, "x".repeat(400))).toBe(input + 6);
});

describe("stateful Responses requests (item 5)", () => {
  const responseDelta = (t: string) => `event: response.output_text.delta\ndata: {"type":"response.output_text.delta","delta":${JSON.stringify(t)}}\n\n`;
  test.each([
    ["previous_response_id", '{"model":"gpt-4o","previous_response_id":"resp_1","input":"go on","stream":true}', 8192],
    ["conversation", '{"model":"gpt-4o","conversation":{"id":"conv_1"},"input":"go on","stream":true}', 8192],
    ["no server-side context", '{"model":"gpt-4o","input":"go on","stream":true}', 0],
  ])("%s, cut after three deltas: input at least the floor", async (_name, body, floor) => {
    const vm = await fx.plugin(config);
    await fx.setBalance("c1", 100000);
    const s = await send(vm, [body], "/v1/responses");
    s.responseHeaders(SSE);
    s.responseBody(responseDelta("one") + responseDelta(" two") + responseDelta(" three"), false);
    s.finish("client disconnected");
    await vm.idle();
    const charged = 100000 - Number(await fx.balance("c1"));
    if (floor > 0) expect(charged).toBeGreaterThanOrEqual(floor);
    else expect(charged).toBeLessThan(200);
  });

  test("stateful_input_tokens sets the floor", async () => {
    const vm = await fx.plugin({ ...config, stateful_input_tokens: 50000 });
    await fx.setBalance("c1", 100000);
    const s = await send(vm, ['{"previous_response_id":"resp_1","input":"go on","stream":true}'], "/v1/responses");
    s.responseHeaders(SSE);
    s.responseBody(responseDelta("one"), false);
    s.finish("client disconnected");
    await vm.idle();
    expect(100000 - Number(await fx.balance("c1"))).toBeGreaterThanOrEqual(50000);
  });
});
