// Google's Gemini API in the mock: POST /v1beta/models/{model}:generateContent and
// :streamGenerateContent (also under /v1), shaped as the Gemini API reference (ai.google.dev/api,
// GenerateContentResponse, UsageMetadata) describes them. Input tokens: the text parts of
// `contents` and of `systemInstruction`; output: generationConfig.maxOutputTokens, else 16
// (finishReason MAX_TOKENS when the request's limit stopped it, else STOP).
// streamGenerateContent answers SSE with `?alt=sse` (data-only events ended by CRLF pairs, as
// Google's JS SDK reads them: its stream reader's `responseLineRE` accepts \n\n, \r\r and \r\n\r\n;
// no [DONE]), and otherwise one JSON array whose elements arrive one at a time. Every streamed
// chunk carries `usageMetadata` with the prompt count and the CUMULATIVE candidates count so far
// (what the real API sends: the last chunk's counts are the answer's, they are not to be summed).
import type { Exchange } from "./mock-upstream";
import { geminiWords, outputLimit, replyText, replyWords } from "./mock-usage";
import { sse } from "./mock-wire";

const STATUS: Record<number, string> = { 400: "INVALID_ARGUMENT", 404: "NOT_FOUND" };

export function geminiError(code: number, message: string): unknown {
  return { error: { code, message, status: STATUS[code] ?? "UNKNOWN" } };
}

/** POST …/models/{model}:generateContent | :streamGenerateContent */
export async function generateContent(x: Exchange, stream: boolean, sseMode: boolean): Promise<void> {
  const body = x.body;
  if (!Array.isArray(body.contents) || body.contents.length === 0) return x.reply.json(400, geminiError(400, "* GenerateContentRequest.contents: contents is not specified"));
  const asked = outputLimit(body, ["generationConfig.maxOutputTokens", "generation_config.max_output_tokens"], null);
  if (asked !== null && typeof asked !== "number") return x.reply.json(400, geminiError(400, asked.message));
  const limit = asked ?? 16;
  const prompt = geminiWords(body.contents) + geminiWords(body.systemInstruction ?? body.system_instruction);
  const finish = asked !== null ? "MAX_TOKENS" : "STOP";
  const responseId = x.id("mock-gemini-");
  const omit = x.reply.directives.omitUsage;
  const chunk = (text: string, produced: number, last: boolean) => ({
    candidates: [{ content: { parts: [{ text }], role: "model" }, ...(last ? { finishReason: finish } : {}), index: 0 }],
    ...(omit ? {} : { usageMetadata: { promptTokenCount: prompt, candidatesTokenCount: produced, totalTokenCount: prompt + produced } }),
    modelVersion: x.model, responseId,
  });
  if (!stream) return x.reply.json(200, chunk(replyText(limit), limit, true));
  const words = replyWords(limit);
  const chunks = words.length === 0 ? [chunk("", 0, true)] : words.map((w, i) => chunk(i === 0 ? w : " " + w, i + 1, i === words.length - 1));
  if (sseMode) return x.reply.stream("text/event-stream", chunks.map((c) => sse(c, null, "\r\n")), x.eventDelayMs);
  const parts = chunks.map((c, i) => (i === 0 ? "[" : ",\r\n") + JSON.stringify(c));
  parts[parts.length - 1] += "]";
  await x.reply.stream("application/json", parts, x.eventDelayMs);
}
