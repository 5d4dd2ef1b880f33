// Builds tests/unit/estimate_corpus.ts: facts about real request/answer pairs, measured with our
// own reader, for the usage estimate's constants (assembly/usage/estimate.ts).
//
// The pairs are the recorded HTTP interactions (VCR cassettes) of pydantic-ai's model tests: real
// requests to OpenAI (Chat Completions, Responses), Anthropic, Google Gemini and OpenAI-compatible
// servers (Groq, DeepSeek, OpenRouter, Mistral, xAI, Cerebras, Hugging Face, Ollama, ...), with the
// providers' real answers and the usage they reported. Only numbers are kept (no text): the request's
// size, the answer's size (plain, gzip, brotli), the generated content's bytes as ResponseReader
// counts them, and the true usage (read by the same reader from the complete answer).
//
//   npx tsx scripts/estimate-corpus.ts <git dir of pydantic/pydantic-ai> > tests/unit/estimate_corpus.ts
// (needs build/test/usage.wasm)
import { execFileSync } from "node:child_process";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";
import YAML from "yaml";
import { ResponseModule } from "../tests/unit/response_module";

const dir = process.argv[2];
if (dir === undefined) throw new Error("usage: estimate-corpus.ts <git dir of pydantic/pydantic-ai>");
const git = (...args: string[]) => execFileSync("git", ["-C", dir, ...args], { encoding: "utf8", maxBuffer: 1 << 28 });
const commit = git("rev-parse", "HEAD").trim();
const files = git("ls-tree", "-r", "--name-only", "HEAD", "tests/models/cassettes").split("\n").filter((f) => f.endsWith(".yaml"));

export interface Row {
  source: string;
  api: "chat" | "responses" | "messages" | "gemini" | "completions";
  stream: boolean;
  /** The request carries images, audio, documents or files (its bytes say little about its tokens). */
  media: boolean;
  /**
   * Input the request does not carry: server-side tools (web search, code execution, ...: their
   * prompts and results count as input), state kept by the provider (previous_response_id,
   * conversation, cached content).
   */
  inputElsewhere: boolean;
  requestBytes: number;
  /** The request's text by class, as the plugin counts it while the body streams (usage/text_estimate.ts). */
  text: number[];
  /** The request has a "tools" key (a provider adds a tool-use system prompt the body does not show). */
  tools: boolean;
  bodyBytes: number;
  gzipBytes: number;
  brotliBytes: number;
  contentBytes: number;
  /** Of contentBytes, those of 3- and 4-byte UTF-8 characters (CJK, emoji, ...). */
  contentWide: number;
  input: number;
  output: number;
  /** Output tokens the answer reports as reasoning but does not show (OpenAI reasoning models, Gemini thoughts). */
  hiddenReasoning: number;
  /** The answer generates media (images, audio): output tokens no text stands for. */
  mediaOutput: boolean;
}

const m = new ResponseModule();
const rows: Row[] = [];
const seen = new Set<string>();

function apiOf(uri: string): Row["api"] | null {
  const path = uri.split("?")[0];
  if (path.endsWith("/chat/completions")) return "chat";
  if (path.endsWith("/responses")) return "responses";
  if (path.endsWith("/messages")) return "messages";
  if (/:(stream)?generateContent$/i.test(path)) return "gemini";
  if (path.endsWith("/completions")) return "completions";
  return null;
}

function header(h: Record<string, string[]> | undefined, name: string): string | null {
  if (h === undefined) return null;
  for (const [k, v] of Object.entries(h)) if (k.toLowerCase() === name) return Array.isArray(v) ? String(v[0]) : String(v);
  return null;
}

const ELSEWHERE = /"previous_response_id"\s*:\s*"|"conversation"\s*:\s*"|"cachedContent"\s*:|"cached_content"\s*:|"type"\s*:\s*"(web_search[\w-]*|code_execution[\w-]*|code_interpreter|file_search|mcp|computer[\w-]*|image_generation|web_fetch[\w-]*|tool_search[\w-]*|memory[\w-]*|bash[\w-]*|text_editor[\w-]*|advisor[\w-]*|local_shell|shell|apply_patch)"|"(google_search|googleSearch|code_execution|codeExecution|url_context|urlContext|google_maps|file_search)"\s*:|"mcp_servers"\s*:/;
/** The request's text by class and whether it declares tools, as the plugin counts them. */
function textOf(reqText: string): { text: number[]; tools: boolean } {
  const t = m.textCounts([reqText]);
  return { text: t.counts, tools: t.tools };
}
const MEDIA = /"(image_url|input_image|input_audio|input_file|inline_data|inlineData|file_data|fileData|document|image|audio|file)"\s*:/;

for (const file of files) {
  let doc: any;
  try {
    doc = YAML.parse(git("show", `HEAD:${file}`));
  } catch {
    continue;
  }
  const interactions: any[] = doc?.interactions ?? [];
  interactions.forEach((it, i) => {
    const req = it.request ?? {};
    const res = it.response ?? {};
    if (req.method !== "POST" || res.status?.code !== 200) return;
    const api = apiOf(String(req.uri ?? ""));
    if (api === null) return;
    const reqText = req.parsed_body !== undefined ? JSON.stringify(req.parsed_body) : typeof req.body === "string" ? req.body : req.body?.string;
    if (typeof reqText !== "string") return;
    const length = Number(header(req.headers, "content-length"));
    const requestBytes = Number.isInteger(length) && length > 0 ? length : Buffer.byteLength(reqText);
    const bodyText: unknown = res.parsed_body !== undefined ? JSON.stringify(res.parsed_body) : res.body?.string;
    if (typeof bodyText !== "string" || bodyText.length === 0) return;
    const body = Buffer.from(bodyText, "utf8");
    const contentType = (header(res.headers, "content-type") ?? "").toLowerCase();
    const sse = contentType.includes("event-stream") || /^(event|data):/m.test(bodyText.slice(0, 200));
    const run = m.run(body, sse, false);
    const u = run.result.usage;
    if (!u.found || !u.hasInput || !u.hasOutput) return;
    const input = Number(u.input);
    const output = Number(u.output);
    if (input <= 0 || output <= 0) return;
    const key = `${requestBytes}:${body.length}:${input}:${output}`;
    if (seen.has(key)) return;
    seen.add(key);
    const last = (re: RegExp) => {
      const all = [...bodyText.matchAll(re)].map((x) => Number(x[1]));
      return all.length > 0 ? all[all.length - 1] : 0;
    };
    // Shown reasoning (reasoning_content, thinking, thought summaries) is counted as content; what
    // the provider reports but does not show is not.
    let hidden = 0;
    if (api === "chat" || api === "responses") hidden = last(/"reasoning_tokens"\s*:\s*(\d+)/g);
    if (api === "gemini") hidden = last(/"thoughtsTokenCount"\s*:\s*(\d+)/g);
    const mediaOutput = /"(inlineData|inline_data|image_generation_call|b64_json|audio)"\s*:\s*\{|"type"\s*:\s*"image_generation_call"/.test(bodyText);
    rows.push({
      source: `${file.replace("tests/models/cassettes/", "")}#${i}`,
      api,
      stream: run.result.sse,
      media: MEDIA.test(reqText),
      inputElsewhere: ELSEWHERE.test(reqText),
      requestBytes,
      ...textOf(reqText),
      bodyBytes: body.length,
      gzipBytes: gzipSync(body).length,
      brotliBytes: brotliCompressSync(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length,
      contentBytes: Number(run.result.contentBytes),
      contentWide: Number(run.result.contentWide),
      input,
      output,
      hiddenReasoning: hidden,
      mediaOutput,
    });
  });
}

const lines = rows.map((r) => "  " + JSON.stringify(r).replace(/"(\w+)":/g, "$1:") + ",");
process.stdout.write(`// Generated by scripts/estimate-corpus.ts from pydantic/pydantic-ai@${commit}: the recorded
// HTTP interactions (tests/models/cassettes/, each row's source) of its model tests against the real
// providers. Numbers only: sizes in bytes, the request's text bytes by class and content bytes as the
// plugin counts them, and the usage each provider reported (read from the complete answer). ${rows.length} rows.
export interface EstimateRow {
  source: string;
  api: "chat" | "responses" | "messages" | "gemini" | "completions";
  stream: boolean;
  media: boolean;
  inputElsewhere: boolean;
  requestBytes: number;
  text: number[];
  tools: boolean;
  bodyBytes: number;
  gzipBytes: number;
  brotliBytes: number;
  contentBytes: number;
  contentWide: number;
  input: number;
  output: number;
  hiddenReasoning: number;
  mediaOutput: boolean;
}

export const ESTIMATE_SOURCE = "pydantic/pydantic-ai@${commit}";

export const estimateCorpus: EstimateRow[] = [
${lines.join("\n")}
];
`);
