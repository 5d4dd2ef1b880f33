// ai_log as wasm-go writes it (pkg/wrapper/plugin_wrapper.go WriteUserAttributeToLogWithKey:
// MarshalStr(json.Marshal(attributes)), escaped and without quotes), produced here by the
// ai-statistics emulation (host/ai-statistics.ts) and read by assembly/usage/ailog.ts.
import { AiStatistics, AI_LOG_STATE_KEY, marshalStr, unmarshalStr, writeUserAttributesToLog } from "../../host/ai-statistics";
import { goJsonMarshal } from "../../host/go-json";
import { loadParsers } from "./parsers_module";

const m = loadParsers();
const ailog = (s: string | Buffer): unknown => m.json("ailog", s);
const usage = (input: number, output: number, model: string) => ({ found: true, input: String(input), output: String(output), total: String(input + output), model });

afterAll(() => {
  expect(m.logs).toEqual([]);
});

describe("Go's encoding of ai_log (the emulation)", () => {
  test("json.Marshal sorts keys and escapes HTML; MarshalStr escapes that again without quotes", () => {
    const json = goJsonMarshal({ output_token: 34n, model: "a<b>&c", input_token: 12n, ratio: 0.5, tiny: 1e-7, huge: 1e21 });
    expect(json).toBe('{"huge":1e+21,"input_token":12,"model":"a\\u003cb\\u003e\\u0026c","output_token":34,"ratio":0.5,"tiny":1e-7}');
    expect(marshalStr(json)).toBe('{\\"huge\\":1e+21,\\"input_token\\":12,\\"model\\":\\"a\\\\u003cb\\\\u003e\\\\u0026c\\",\\"output_token\\":34,\\"ratio\\":0.5,\\"tiny\\":1e-7}');
    expect(unmarshalStr(marshalStr(json))).toBe(json);
  });

  test("a second write merges into the first (numbers come back as float64)", () => {
    const state = new Map<string, Buffer>();
    expect(writeUserAttributesToLog(state, { chat_round: 1n, consumer: "c1" })).toBe(true);
    expect(writeUserAttributesToLog(state, { input_token: 12n, output_token: 34n, model: "qwen-max" })).toBe(true);
    expect(unmarshalStr(state.get(AI_LOG_STATE_KEY)!.toString())).toBe('{"chat_round":1,"consumer":"c1","input_token":12,"model":"qwen-max","output_token":34}');
  });

  test("a value it cannot read is left alone, as wasm-go returns without writing", () => {
    const state = new Map<string, Buffer>([[AI_LOG_STATE_KEY, Buffer.from('{"raw":1}')]]);
    expect(writeUserAttributesToLog(state, { input_token: 1n })).toBe(false);
    expect(state.get(AI_LOG_STATE_KEY)!.toString()).toBe('{"raw":1}');
  });
});

describe("usageFromAiLog on wasm-go's form", () => {
  test("what ai-statistics leaves after a buffered answer", () => {
    const state = new Map<string, Buffer>();
    const ai = new AiStatistics(state, { attributes: [{ key: "consumer", value_source: "request_header", value: "x-mse-consumer", apply_to_log: true }] }, () => 0);
    ai.onRequestHeaders([["x-mse-consumer", "consumer1"]], "default/llm-route");
    ai.onRequestBody('{"messages":[{"role":"user","content":"hi"}]}');
    ai.onResponseBody(JSON.stringify({ id: "c1", model: "qwen-max", choices: [], usage: { prompt_tokens: 12, completion_tokens: 34, total_tokens: 46 } }));
    const raw = state.get(AI_LOG_STATE_KEY)!;
    expect(raw.toString().startsWith('{\\"api\\":\\"-\\"')).toBe(true);
    expect(ailog(raw)).toEqual(usage(12, 34, "qwen-max"));
  });

  test("what ai-statistics leaves after a streamed answer", () => {
    const state = new Map<string, Buffer>();
    const ai = new AiStatistics(state, {}, () => 0);
    ai.onRequestHeaders([], "r");
    ai.onRequestBody("{}");
    ai.onStreamingBody('data: {"id":"c1","model":"gpt","choices":[{"delta":{"content":"x"}}]}\n\n', false);
    ai.onStreamingBody('data: {"id":"c1","model":"gpt","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}\n\ndata: [DONE]\n\n', true);
    expect(ailog(state.get(AI_LOG_STATE_KEY)!)).toEqual(usage(3, 4, "gpt"));
  });

  test.each<[string, unknown]>([
    // Escapes inside values decode before the object is read: quotes, backslashes, \uXXXX, pairs.
    [marshalStr(goJsonMarshal({ answer: 'he said "hi"\n\\', input_token: 1n, model: "m\u00e9<" , output_token: 2n })), usage(1, 2, "m\u00e9<")],
    ['{\\"model\\":\\"\\ud83d\\ude00\\",\\"input_token\\":5}', usage(5, 0, "\u{1f600}")],
    ['{\\"model\\":\\"\\ud83d\\",\\"input_token\\":5}', usage(5, 0, "\ufffd")],
    ['  {  \\"input_token\\":7}', usage(7, 0, "")],
    // Broken escaped forms read as nothing.
    ['{\\"input_token\\":1', null],
    ['{\\"input_token\\":1}\\', null],
    ['{\\"input_token\\":1,"x":2}', null],
    ['{\\"input_token\\":1,\\"m\\":\\"\\q\\"}', null],
    ['{\\"input_token\\":1,\\"m\\":\\"\\u12\\"}', null],
    ['{\\"input_token\\":1\n}', null],
    // The raw object is still read.
    ['{"input_token":12,"output_token":34}', usage(12, 34, "")],
  ])("%s", (text, want) => {
    expect(ailog(text)).toEqual(want);
  });

  test("a long answer in ai_log (decoded in bounded pieces) still gives the counts", () => {
    const big = "x\"\\".repeat(50000);
    const text = marshalStr(goJsonMarshal({ answer: big, input_token: 10n, output_token: 20n, model: "m" }));
    expect(text.length).toBeGreaterThan(250000);
    expect(ailog(text)).toEqual(usage(10, 20, "m"));
  });
});
