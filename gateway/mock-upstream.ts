// The built-in model upstream of `npm start`: one HTTP server speaking the APIs the plugin meters,
// each in its provider's own shapes (token rules: mock-usage.ts; wire, compression and the
// directives a test can send: mock-wire.ts):
//   POST /v1/chat/completions, /v1/completions, /v1/embeddings, /v1/responses   OpenAI (mock-openai.ts)
//   GET  /v1/responses/{id}
//   POST /v1/messages                                                            Anthropic (mock-anthropic.ts)
//   POST /v1beta/models/{model}:generateContent, :streamGenerateContent          Gemini (mock-gemini.ts)
//   POST /api/chat, /api/generate, /api/embed                                    Ollama (mock-ollama.ts)
//   POST /v2/chat, /v2/embed                                                     Cohere v2 (mock-cohere.ts)
//   POST /generate, /generate_stream                                             TGI (mock-tgi.ts): a body with `inputs`
//   POST /generate, /encode                                                      SGLang native (mock-sglang.ts): any other /generate body
//   POST /completion, /infill                                                    llama.cpp server (mock-llamacpp.ts)
//   POST /model/{id}/converse, /converse-stream, /invoke, /invoke-with-response-stream  Bedrock (mock-bedrock.ts)
// Paths are routed as permissive upstreams route them (case-insensitive, repeated slashes, `.` and
// `..` segments, percent-encoded unreserved characters, a trailing slash), so that a gateway test
// sees what a client gets through a path variant. Anything else: 404 with an OpenAI-style error.
// `startMockUpstream` runs it on a port of its own, for the gateway and for tests.
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { messages } from "./mock-anthropic";
import { BEDROCK_PATH, bedrock } from "./mock-bedrock";
import { cohereChat, cohereEmbed } from "./mock-cohere";
import { llamaCompletion, llamaInfill } from "./mock-llamacpp";
import { sglangEncode, sglangGenerate } from "./mock-sglang";
import { tgiGenerate, tgiGenerateStream } from "./mock-tgi";
import { generateContent } from "./mock-gemini";
import { ollamaChat, ollamaEmbed, ollamaGenerate } from "./mock-ollama";
import { chatCompletions, completions, embeddings, openAiError, responses, retrieveResponse } from "./mock-openai";
import { isObject } from "./mock-usage";
import { Reply, directivesOf } from "./mock-wire";

/** Above the plugin's default max_request_body_bytes (8 MiB), so that limit is the plugin's to show. */
const MAX_BODY = 16 * 1024 * 1024;
/** Responses kept for GET /v1/responses/{id}. */
const KEPT_RESPONSES = 1000;

export interface MockUpstreamOptions {
  host?: string;
  /** Default 0: any free port. */
  port?: number;
  /** Pause between stream events (default 0: the next turn of the event loop). */
  eventDelayMs?: number;
}

export interface MockUpstream {
  readonly url: string;
  readonly port: number;
  /** Model requests answered so far (a refused or unknown request is not one). */
  readonly served: number;
  close(): Promise<void>;
}

/** What the mock keeps between requests. */
export class MockState {
  served = 0;
  private counter = 0;
  private readonly kept = new Map<string, unknown>();

  nextId(): number {
    return ++this.counter;
  }

  rememberResponse(id: string, response: unknown): void {
    this.kept.set(id, response);
    if (this.kept.size > KEPT_RESPONSES) this.kept.delete(this.kept.keys().next().value as string);
  }

  response(id: string): unknown {
    return this.kept.get(id);
  }
}

/** One request the mock answers: its parsed body, the model (directives stripped) and its Reply. */
export interface Exchange {
  body: Record<string, unknown>;
  model: string;
  reply: Reply;
  created: number;
  eventDelayMs: number;
  state: MockState;
  id(prefix: string): string;
}

const UNRESERVED = /%(2[DdEe]|3[0-9]|[46][1-9A-Fa-f]|[57][0-9Aa]|5[Ff]|7[Ee])/g;

/** The path as a permissive upstream routes it (no query). */
export function routePath(url: string): string {
  const raw = url.split(/[?#]/)[0].replace(UNRESERVED, (m) => String.fromCharCode(parseInt(m.slice(1), 16)));
  const out: string[] = [];
  for (const seg of raw.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") out.pop();
    else out.push(seg);
  }
  return "/" + out.join("/");
}

type Route =
  | { kind: "post"; model: string | null; run: (x: Exchange) => void | Promise<void> }
  | { kind: "retrieve"; id: string }
  | { kind: "models" };

// GET /v1/models as OpenAI answers it: openai/openai-openapi `listModels` → ListModelsResponse
// `{object: "list", data: [Model {id, object: "model", created, owned_by}]}` (any model name is
// served; these ids are examples).
const MODEL_LIST = {
  object: "list",
  data: ["mock-model", "gpt-4o", "claude-sonnet-4", "gemini-2.0-flash"].map((id) => ({ id, object: "model", created: 1700000000, owned_by: "ai-quota-mock" })),
};

function route(method: string, path: string, query: URLSearchParams): Route | null {
  const lower = path.toLowerCase();
  if (method === "GET") {
    if (lower === "/v1/models") return { kind: "models" };
    const m = /^\/v1\/responses\/([^/]+)$/i.exec(path);
    return m ? { kind: "retrieve", id: decodeURIComponent(m[1]) } : null;
  }
  if (method !== "POST") return null;
  switch (lower) {
    case "/v1/chat/completions": return { kind: "post", model: null, run: chatCompletions };
    case "/v1/completions": return { kind: "post", model: null, run: completions };
    case "/v1/embeddings": return { kind: "post", model: null, run: embeddings };
    case "/v1/responses": return { kind: "post", model: null, run: responses };
    case "/v1/messages": return { kind: "post", model: null, run: messages };
    case "/api/chat": return { kind: "post", model: null, run: ollamaChat };
    case "/api/generate": return { kind: "post", model: null, run: ollamaGenerate };
    case "/api/embed": return { kind: "post", model: null, run: ollamaEmbed };
    case "/v2/chat": return { kind: "post", model: null, run: cohereChat };
    case "/v2/embed": return { kind: "post", model: null, run: cohereEmbed };
    // TGI and SGLang share the path: TGI's body has `inputs`, SGLang's `text` or `input_ids`.
    case "/generate": return { kind: "post", model: null, run: (x) => ("inputs" in x.body ? tgiGenerate(x) : sglangGenerate(x)) };
    case "/encode": return { kind: "post", model: null, run: sglangEncode };
    case "/completion": return { kind: "post", model: null, run: llamaCompletion };
    case "/infill": return { kind: "post", model: null, run: llamaInfill };
    case "/generate_stream": return { kind: "post", model: null, run: tgiGenerateStream };
  }
  const b = BEDROCK_PATH.exec(path);
  if (b !== null) return { kind: "post", model: decodeURIComponent(b[1]), run: (x) => bedrock(x, b[2]) };
  const g = /^\/(v1|v1beta|v1alpha)\/models\/([^/:]+):(generatecontent|streamgeneratecontent)$/i.exec(path);
  if (g === null) return null;
  const stream = g[3].toLowerCase() === "streamgeneratecontent";
  const sseMode = query.get("alt") === "sse";
  return { kind: "post", model: decodeURIComponent(g[2]), run: (x) => generateContent(x, stream, sseMode) };
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

export function createMockHandler(options: { eventDelayMs?: number } = {}): { handler: http.RequestListener; state: MockState } {
  const state = new MockState();
  const handler: http.RequestListener = async (req, res) => {
    const method = req.method ?? "GET";
    const url = req.url ?? "/";
    const path = routePath(url);
    const r = route(method, path, new URLSearchParams(url.includes("?") ? url.slice(url.indexOf("?") + 1) : ""));
    const plain = new Reply(req, res, directivesOf(req, "").directives);
    if (r === null) {
      req.resume();
      return plain.json(404, openAiError(`Invalid URL (${method} ${path})`));
    }
    if (r.kind === "models") {
      req.resume();
      return plain.json(200, MODEL_LIST);
    }
    if (r.kind === "retrieve") {
      req.resume();
      const x: Exchange = { body: {}, model: "", reply: plain, created: 0, eventDelayMs: 0, state, id: () => "" };
      return retrieveResponse(x, r.id);
    }
    const text = await readBody(req);
    if (text === null) return plain.json(413, openAiError(`the request body is larger than ${MAX_BODY} bytes`));
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return plain.json(400, openAiError("We could not parse the JSON body of your request."));
    }
    if (!isObject(body)) return plain.json(400, openAiError("the request body must be a JSON object"));
    const named = r.model ?? (typeof body.model === "string" && body.model !== "" ? body.model : "mock-model");
    const { model, directives } = directivesOf(req, named);
    const n = state.nextId();
    const x: Exchange = {
      body, model, reply: new Reply(req, res, directives), created: Math.floor(Date.now() / 1000),
      eventDelayMs: options.eventDelayMs ?? 0, state, id: (prefix) => `${prefix}${n}`,
    };
    await r.run(x);
    if (res.statusCode < 400) state.served++;
  };
  return { handler, state };
}

export function startMockUpstream(options: MockUpstreamOptions = {}): Promise<MockUpstream> {
  const host = options.host ?? "127.0.0.1";
  const { handler, state } = createMockHandler(options);
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
          return state.served;
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
