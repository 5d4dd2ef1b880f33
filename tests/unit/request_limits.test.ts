// The output limit each API's reader takes from a request (assembly/request/, quota/routes.ts
// limitFamilyOf), through build/test/request_body.wasm: the estimate bound (limit × choices, "-1"
// none) and the max_tokens reservation, the same whole, split in two at every byte and byte by byte.
import { loadRequestBody } from "./request_body_module";

const m = loadRequestBody();
afterEach(() => expect(m.logs).toEqual([]));

const F = { openai: 0, generate: 1, llama: 2, ollama: 3, converse: 4, chat: 5, completions: 6, responses: 7, maxTokens: 8, gemini: 9 } as const;
const FALLBACK = 16n;

/** The bound and the reservation's output part (reservation − ⌈bytes / 4⌉), checked the same at every split. */
function read(body: string, family: number): { allowed: string; output: bigint; unbounded: boolean } {
  const whole = m.limits(body, family);
  expect(whole.complete).toBe(true);
  const n = Buffer.byteLength(body);
  for (let i = 1; i < n; i++) expect(m.limits(body, family, [i])).toEqual(whole);
  expect(m.limits(body, family, "bytes")).toEqual(whole);
  return { allowed: whole.allowed, output: BigInt(whole.reservation) - BigInt(Math.ceil(n / 4)), unbounded: whole.outputUnbounded };
}

test.each<[string, number, string, string, bigint]>([
  // [name, family, body, estimate bound, reservation output]
  ["TGI max_new_tokens × best_of", F.generate, '{"inputs":"a","parameters":{"best_of":3,"max_new_tokens":7}}', "21", 21n],
  ["TGI without parameters", F.generate, '{"inputs":"a"}', "-1", FALLBACK],
  ["SGLang text list × n", F.generate, '{"text":["a","b"],"sampling_params":{"n":2,"max_new_tokens":5}}', "20", 20n],
  ["SGLang input_ids of one prompt", F.generate, '{"input_ids":[1,2,3,4],"sampling_params":{"max_new_tokens":5}}', "5", 5n],
  ["SGLang and TGI both: larger", F.generate, '{"inputs":"a","text":"b","parameters":{"max_new_tokens":9},"sampling_params":{"max_new_tokens":4}}', "9", 9n],
  ["SGLang and TGI both, one without: none (the reservation: the larger of 9 and the fallback)", F.generate, '{"inputs":"a","text":"b","parameters":{"max_new_tokens":9}}', "-1", 16n],
  ["a root max_tokens on /generate is nobody's", F.generate, '{"text":"a","max_tokens":3}', "-1", FALLBACK],
  ["llama n_predict, prompts, n_cmpl", F.llama, '{"prompt":["a",[1,2],{"prompt_string":"c"},5],"n_cmpl":2,"n_predict":4}', "24", 24n],
  ["llama max_tokens alias", F.llama, '{"max_tokens":40}', "40", 40n],
  ["llama -1.0 is -1", F.llama, '{"n_predict":-1.0,"max_tokens":40}', "-1", 40n],
  ["llama n_predict null falls back to max_tokens", F.llama, '{"n_predict":null,"max_tokens":40}', "40", 40n],
  ["llama n_predict as a list: the server default", F.llama, '{"n_predict":[5]}', "-1", FALLBACK],
  ["ollama num_predict", F.ollama, '{"options":{"num_predict":30}}', "30", 30n],
  ["ollama OPTIONS with K folded as Go does", F.ollama, '{"OPTIONS":{"num_predict":30}}', "30", 30n],
  ["ollama -2 beside an earlier 30: none", F.ollama, '{"options":{"num_predict":30},"options":{"num_predict":-2}}', "-1", 30n],
  ["converse maxTokens", F.converse, '{"inferenceConfig":{"maxTokens":12}}', "12", 12n],
  ["converse MaxTokens is not maxTokens", F.converse, '{"inferenceConfig":{"MaxTokens":12}}', "-1", FALLBACK],
  ["chat max_completion_tokens × n", F.chat, '{"n":2,"max_completion_tokens":8}', "16", 16n],
  ["chat max_output_tokens only raises", F.chat, '{"max_output_tokens":8}', "-1", 16n],
  ["chat n_predict 50 beside max_tokens 8", F.chat, '{"max_tokens":8,"n_predict":50}', "50", 50n],
  ["completions prompt list", F.completions, '{"prompt":["a","b","c"],"max_tokens":8}', "24", 24n],
  ["responses max_output_tokens", F.responses, '{"max_output_tokens":8}', "8", 8n],
  ["anthropic max_tokens; MAX_TOKENS only raises", F.maxTokens, '{"max_tokens":8,"MAX_TOKENS":9}', "9", 9n],
  ["anthropic MAX_TOKENS alone: none", F.maxTokens, '{"MAX_TOKENS":9}', "-1", 16n],
  ["gemini generationConfig", F.gemini, '{"generationConfig":{"maxOutputTokens":8,"candidateCount":2}}', "16", 16n],
  ["gemini GenerationConfig (only Go folds it): none", F.gemini, '{"GenerationConfig":{"maxOutputTokens":8}}', "-1", 16n],
  ["every field on an operator's own path", F.openai, '{"max_output_tokens":8}', "8", 8n],
])("%s", (_name, family, body, allowed, output) => {
  const r = read(body, family);
  expect(r.allowed).toBe(allowed);
  expect(r.output).toBe(output);
});

test("huge limit × huge multipliers saturate at 2^63 − 1 (no wrap), the reservation at its cap", () => {
  const max = "9007199254740991";
  for (const [body, family] of [[`{"prompt":["a","b"],"n_predict":${max},"n":${max}}`, F.llama], [`{"text":["a","b"],"sampling_params":{"max_new_tokens":${max},"n":${max}}}`, F.generate]] as const) {
    const r = m.limits(body, family);
    expect(r.allowed).toBe("9223372036854775807");
    expect(r.reservation).toBe(String(1n << 40n));
  }
});
