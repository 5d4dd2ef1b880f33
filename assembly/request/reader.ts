// Reads a metered request's JSON body as it streams, and adds `stream_options.include_usage: true`
// where the rules below say so. Chunks may be cut at any byte; nothing of the body is kept but a
// few fields, a 2 KiB bracket-kind stack, a 256-byte capture of the value being read and at most
// 64 bytes before the root `{`. Work is one pass over the bytes. Never traps: a body that is not
// one valid JSON object stops the reading (facts read so far stay; `complete` stays false).
//
// What is read, as pydantic-style upstreams (vLLM, SGLang: FastAPI, Python's json, pydantic lax
// mode) read it:
//   stream, background     true/false/null, 0/1, and pydantic's bool strings ("true", "yes", "on",
//                          "1", "f", …: pydantic-core src/input/shared.rs str_as_bool); else false
//   stream_options         an object: its include_usage (true asks for usage)
//   model                  a string (decoded, up to 256 bytes; longer or not a string: "")
//   output limits          max_completion_tokens, max_tokens, max_output_tokens, and in
//                          generationConfig / generation_config: maxOutputTokens / max_output_tokens
//   multipliers            n, best_of, generationConfig.candidateCount / candidate_count, and the
//                          prompts of a `prompt` list (legacy completions: each gets its own answer)
// Those are the OpenAI-style APIs'. Each defines some of them (chat: max_tokens and
// max_completion_tokens; completions, Anthropic, Cohere, Bedrock invoke: max_tokens; Responses:
// max_output_tokens; Gemini: generationConfig): another one, llama.cpp's n_predict (its OpenAI API
// reads n_predict before max_tokens: -1 there is no limit) or a spelling only Go reads may be ignored
// upstream, so it raises the limit but never sets it alone. The native APIs read their own fields,
// and only those (a field the upstream ignores must never cap anything; see limitFamilyOf):
//   /generate              TGI: parameters.max_new_tokens × parameters.best_of (router/src/lib.rs
//                          GenerateParameters, serde: exact keys); SGLang: sampling_params.
//                          max_new_tokens × sampling_params.n × the prompts of text / input_ids /
//                          input_embeds (srt/managers/io_struct.py GenerateReqInput). Which server
//                          reads the body is told by its input (TGI requires `inputs`, SGLang one of
//                          the others): a body either could read takes the larger reading, and none
//                          when one of them names no limit.
//   /completion, /infill   llama.cpp: n_predict, else max_tokens, × n_cmpl, else n, × the prompts of a
//                          `prompt` list (tools/server params_from_json_cmpl, tokenize_input_prompts;
//                          nlohmann: exact keys). -1 is no limit (server_slot::has_budget); a value
//                          of another type is the server's default (json_value): no limit.
//   /api/chat, /api/generate  Ollama: options.num_predict (api/types.go: `options` is a struct field,
//                          so its key folds as Go's do; the option names are exact map keys,
//                          Options.FromMap). Negative (-1 infinite, -2 fill the context) and 0 are no
//                          limit (llm/llama_server.go boundedNumPredict, x/mlxrunner).
//   Bedrock converse       inferenceConfig.maxTokens.
// Numbers are read exactly: integers, fractions with an integral value (100000.0), exponents (1e5);
// numeric strings as pydantic-core's str_as_int reads them (" +1_000.00 "). A value that is null is
// "not given". Any other value (negative, zero, fractional, beyond 2^53, a bool, an object, a string
// pydantic would refuse) makes the limit unreadable: the reservation fails closed. When several
// limits (or the same one twice) are given, the largest counts: vLLM prefers max_completion_tokens
// (vllm/entrypoints/openai/chat_completion/protocol.py build_tok_params), other upstreams differ,
// and the largest covers whichever applies. Where some reading sets no limit at all, the request
// has none (facts.outputUnbounded): an estimate is not capped, and a reservation takes the larger of
// the limits read and its fallback. Duplicate keys otherwise: the last one wins, as in
// Python's json, Go's encoding/json and JSON.parse. OpenAI-style limit and multiplier keys also match
// ASCII-case-insensitively, with Go's folding of U+212A and U+017F (encoding/json matches field
// names that way); a limit spelled only so ("MAX_TOKENS") is Go's alone, and Python upstreams set
// none: it is unbounded unless an exact spelling is given too. stream, stream_options, background and
// include_usage match exactly, and another spelling Go folds onto them ("Stream") makes the body
// unreadable (facts.unreadable, verdict.ts): Go reads it, Python ignores it. So does a stop
// (not one JSON object as both read it). previous_response_id / conversation (any case, non-null)
// mark the request stateful.
//
// The buffered path (read, finish, frontEdit) changes nothing in place: Envoy's body buffer can
// only be drained from the front and prepended to (Buffer::copyFrom in
// source/extensions/common/wasm/context.cc). When the body is complete, streams, asks nothing and
// has no stream_options, the edit drops everything up to the root `{` and puts it back followed by
// `"stream_options":{"include_usage":true},`; otherwise there is no edit.
import { FRONT_CAP, S_TAIL } from "./grammar";
import { FRONT_MEMBER, FrontEdit, O_FIXED } from "./edit_texts";
import { LIMITS_OPENAI, RequestFacts } from "./facts";
import { SyntaxReader } from "./reader_syntax";

export class RequestBodyReader extends SyntaxReader {
  /** limits: which API's limit fields to read (LIMITS_*, limitFamilyOf). */
  constructor(injectUsage: bool, limits: u8 = LIMITS_OPENAI) {
    super();
    this.inject = injectUsage;
    this.limits = limits;
  }

  /**
   * The streaming path: reads one chunk (`end`: the last one) and returns the bytes to send instead
   * of it, or null when it is unchanged. Only the chunk holding an edit point changes.
   */
  rewriteChunk(ptr: usize, len: usize, end: bool): Uint8Array | null {
    this.streaming = true;
    if (this.rootEnded) this.rootSentWhole = true;
    this.chunkEdits = 0;
    this.base = ptr;
    this.readBytes(ptr, len);
    if (end) this.finish();
    if (this.chunkEdits == 0) return null;
    return this.applyEdits(ptr, <i32>len);
  }

  /** rewriteChunk under the name body_view.ts's rewriters have. */
  rewrite(ptr: usize, len: usize, last: bool): Uint8Array | null {
    return this.rewriteChunk(ptr, len, last);
  }

  /** The buffered path: reads one piece, changes nothing. */
  read(ptr: usize, len: usize): void {
    this.base = ptr;
    this.readBytes(ptr, len);
  }

  /** The root value has closed and only whitespace followed so far: an upstream could parse what was sent. */
  get rootClosed(): bool {
    return this.st == S_TAIL;
  }

  /** The root value has closed, whatever followed it. */
  get rootEndedOnce(): bool {
    return this.rootEnded;
  }

  /** The end of the body: settles `complete`, `usageAsked`, `injected` and the buffered edit. */
  finish(): void {
    if (this.ended) return;
    this.ended = true;
    const f = this.facts;
    f.complete = this.st == S_TAIL && !this.unverified;
    if (!this.streaming && this.inject && f.complete && f.stream == 1 && !f.hasStreamOptions && this.leadLen < FRONT_CAP) {
      const n = this.leadLen;
      const member = FRONT_MEMBER.length;
      const comma = this.rootMembers > 0 ? 1 : 0;
      const prepend = new Uint8Array(n + 1 + member + comma);
      for (let i = 0; i < n; i++) prepend[i] = this.front[i];
      prepend[n] = 0x7b;
      for (let i = 0; i < member; i++) prepend[n + 1 + i] = FRONT_MEMBER[i];
      if (comma != 0) prepend[n + 1 + member] = 0x2c;
      this.frontEditValue = new FrontEdit(n + 1, prepend);
      this.soOutcome = O_FIXED;
    }
    this.settleUsage();
    // An edit that went out with a whole root stays asked for, whatever followed the root (Go's
    // decoder reads the document and ignores the rest): the usage event is ours to hide.
    if (!f.complete && !this.rootSentWhole) this.injected = false;
  }

  /** After finish() on the buffered path: the one edit to apply, or null. */
  frontEdit(): FrontEdit | null {
    return this.frontEditValue;
  }
}

/** Reads a whole body held in memory (no edit): its facts. */
export function readRequestFacts(body: Uint8Array): RequestFacts {
  const r = new RequestBodyReader(false);
  r.read(body.dataStart, <usize>body.length);
  r.finish();
  return r.facts;
}

// ---- a pool of readers: a reader per metered request, its buffers reused ----

/** Readers waiting to be reused, at most POOL_SIZE (more streams at once allocate their own). */
const POOL_SIZE = 64;
const pool = new Array<RequestBodyReader>();

/** A reader as new (see the constructor), from the pool when one is free. */
export function takeRequestBodyReader(injectUsage: bool, wantModel: bool, limits: u8 = LIMITS_OPENAI): RequestBodyReader {
  if (pool.length > 0) {
    const r = pool.pop();
    r.recycle(injectUsage, wantModel, limits);
    return r;
  }
  const r = new RequestBodyReader(injectUsage, limits);
  r.wantModel = wantModel;
  return r;
}

/** Gives a reader back; nothing may use it afterwards. */
export function giveBackRequestBodyReader(r: RequestBodyReader): void {
  if (pool.length < POOL_SIZE) pool.push(r);
}
