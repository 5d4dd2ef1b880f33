// A built-in OpenAI-compatible upstream: POST /v1/chat/completions answers JSON, or SSE when
// `"stream": true` (usage always in the last data event before `data: [DONE]`, whether or not
// stream_options.include_usage is set). Token counts follow mock-usage.ts. Other paths → 404 JSON.
// `startMockUpstream` runs it on a port of its own, for the gateway and for tests.
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { ChatRequest, parseChatRequest, replyWords } from "./mock-usage";

export const CHAT_PATH = "/v1/chat/completions";
const MAX_BODY = 4 * 1024 * 1024;

export interface MockUpstreamOptions {
  host?: string;
  /** Default 0: any free port. */
  port?: number;
  /** Pause between SSE events (default 0: the next turn of the event loop). */
  eventDelayMs?: number;
}

export interface MockUpstream {
  readonly url: string;
  readonly port: number;
  /** Chat requests answered so far. */
  readonly served: number;
  close(): Promise<void>;
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

function openAiError(message: string, type: string, param: string | null = null, code: string | null = null): unknown {
  return { error: { message, type, param, code } };
}

function completion(id: string, created: number, req: ChatRequest): unknown {
  return {
    id, object: "chat.completion", created, model: req.model,
    choices: [{ index: 0, message: { role: "assistant", content: replyWords(req.usage.completion_tokens).join(" ") }, finish_reason: "stop" }],
    usage: req.usage,
  };
}

/** The SSE events of a streamed answer, each a complete `data: …\n\n` block. */
export function sseEvents(id: string, created: number, req: ChatRequest): string[] {
  const chunk = (choices: unknown[], usage?: unknown) =>
    `data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model: req.model, choices, ...(usage ? { usage } : {}) })}\n\n`;
  const events = [chunk([{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }])];
  replyWords(req.usage.completion_tokens).forEach((w, i) => events.push(chunk([{ index: 0, delta: { content: i === 0 ? w : " " + w }, finish_reason: null }])));
  events.push(chunk([{ index: 0, delta: {}, finish_reason: "stop" }]));
  events.push(chunk([], req.usage));
  events.push("data: [DONE]\n\n");
  return events;
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => (ms > 0 ? setTimeout(resolve, ms) : setImmediate(resolve)));
}

async function stream(res: http.ServerResponse, events: string[], delayMs: number): Promise<void> {
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
  for (const event of events) {
    if (res.destroyed) return;
    res.write(event);
    await pause(delayMs);
  }
  res.end();
}

function readBody(req: http.IncomingMessage): Promise<string | null> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY) parts.push(c);
    });
    req.on("end", () => resolve(size > MAX_BODY ? null : Buffer.concat(parts).toString("utf8")));
    req.on("error", () => resolve(null));
  });
}

export function createMockHandler(options: { eventDelayMs?: number } = {}): { handler: http.RequestListener; served: () => number } {
  let counter = 0;
  const handler: http.RequestListener = async (req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method !== "POST" || path !== CHAT_PATH) {
      req.resume();
      sendJson(res, 404, openAiError(`Invalid URL (${req.method} ${path})`, "invalid_request_error"));
      return;
    }
    const text = await readBody(req);
    if (text === null) {
      sendJson(res, 413, openAiError(`the request body is larger than ${MAX_BODY} bytes`, "invalid_request_error"));
      return;
    }
    const parsed = parseChatRequest(text);
    if (!parsed.ok) {
      sendJson(res, 400, openAiError(parsed.message, "invalid_request_error", parsed.param));
      return;
    }
    counter++;
    const id = `chatcmpl-mock-${counter}`;
    const created = Math.floor(Date.now() / 1000);
    if (parsed.request.stream) await stream(res, sseEvents(id, created, parsed.request), options.eventDelayMs ?? 0);
    else sendJson(res, 200, completion(id, created, parsed.request));
  };
  return { handler, served: () => counter };
}

export function startMockUpstream(options: MockUpstreamOptions = {}): Promise<MockUpstream> {
  const host = options.host ?? "127.0.0.1";
  const { handler, served } = createMockHandler(options);
  const server = http.createServer(handler);
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => {
      server.off("error", reject);
      const port = (server.address() as AddressInfo).port;
      resolve({
        url: `http://${host.includes(":") ? `[${host}]` : host}:${port}`,
        port,
        get served() {
          return served();
        },
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
