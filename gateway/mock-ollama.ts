// Ollama's native API in the mock (POST /api/chat, /api/generate, /api/embed), shaped as Ollama's
// api/types.go (ChatResponse, GenerateResponse, EmbedResponse, Metrics) and server/routes.go send it:
// streamed as NDJSON (`application/x-ndjson`, one JSON object a line) unless `"stream": false`, each
// line with `model`, `created_at` and the piece of content, and the counts (`prompt_eval_count`,
// `eval_count`, with the durations) only in the last, `"done": true` line. The output is
// `options.num_predict` tokens (default 16; the real default runs to the context's end), so every
// answer stops with `done_reason: "length"`. Input tokens: words of the messages / prompt.
import type { Exchange } from "./mock-upstream";
import { countWords, outputLimit, promptTokens, promptWords, replyWords } from "./mock-usage";

/** Ollama's error body: `{"error": "..."}`. */
function ollamaError(message: string): unknown {
  return { error: message };
}

function metrics(prompt: number, output: number): Record<string, number> {
  return { total_duration: 1000000 * (prompt + output), load_duration: 1000, prompt_eval_count: prompt, prompt_eval_duration: 1000 * prompt, eval_count: output, eval_duration: 1000 * output };
}

async function answer(x: Exchange, input: number, piece: (text: string) => Record<string, unknown>): Promise<void> {
  const limit = outputLimit(x.body, ["options.num_predict"]);
  if (typeof limit !== "number") return x.reply.json(400, ollamaError(limit === null ? "num_predict required" : limit.message));
  const created = new Date(x.created * 1000).toISOString();
  const words = replyWords(limit).map((w, i) => (i === 0 ? w : " " + w));
  const last = { model: x.model, created_at: created, ...piece(""), done_reason: "length", done: true, ...metrics(input, limit) };
  if (x.body.stream === false) return x.reply.json(200, { ...last, ...piece(words.join("")) });
  const lines = words.map((w) => JSON.stringify({ model: x.model, created_at: created, ...piece(w), done: false }) + "\n");
  lines.push(JSON.stringify(last) + "\n");
  await x.reply.stream("application/x-ndjson", lines, x.eventDelayMs);
}

/** POST /api/chat */
export async function ollamaChat(x: Exchange): Promise<void> {
  if (!Array.isArray(x.body.messages)) return x.reply.json(400, ollamaError("messages is required"));
  await answer(x, promptTokens(x.body.messages), (text) => ({ message: { role: "assistant", content: text } }));
}

/** POST /api/generate */
export async function ollamaGenerate(x: Exchange): Promise<void> {
  if (typeof x.body.prompt !== "string") return x.reply.json(400, ollamaError("prompt is required"));
  await answer(x, promptWords(x.body.prompt), (text) => ({ response: text }));
}

/** POST /api/embed: one vector per input, one count for them all. */
export function ollamaEmbed(x: Exchange): void {
  const input = x.body.input;
  const inputs = typeof input === "string" ? [input] : Array.isArray(input) && input.every((s) => typeof s === "string") ? (input as string[]) : null;
  if (inputs === null) return x.reply.json(400, ollamaError("invalid input type"));
  const count = inputs.reduce((n, s) => n + countWords(s), 0);
  x.reply.json(200, { model: x.model, embeddings: inputs.map(() => [0.01, -0.02, 0.03]), total_duration: 1000, load_duration: 10, prompt_eval_count: count });
}
