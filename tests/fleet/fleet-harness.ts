// What the fleet tests share: ten consumers, a streaming model whose usage each request writes
// itself (x_test), and a client that may cut its stream. Two cut points: before the usage event
// (the single-Redis fleet: nothing reported, nothing charged with missing_usage none) or just after
// it (the cluster fleet: what was reported is charged).
import * as http from "node:http";
import type { AddressInfo } from "node:net";

export const CONSUMERS = Array.from({ length: 10 }, (_, i) => ({ name: `c${i}`, credential: `key-${i}` }));

export interface Plan { consumer: number; input: number; output: number; cut: boolean }

export type Outcome = "charged" | "denied" | "cut" | "other";

export type CutPoint = "before-usage" | "after-usage";

/** An SSE model answering each plan; a cut plan's stream is held open until the gateway aborts it. */
export function startUpstream(cutPoint: CutPoint): Promise<{ url: string; close: () => void }> {
  const server = http.createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on("data", (c: Buffer) => parts.push(c));
    req.on("end", () => {
      const asked = JSON.parse(Buffer.concat(parts).toString()) as { x_test: Plan; stream_options?: { include_usage?: unknown } };
      const plan = asked.x_test;
      // As stingy as OpenAI (API reference, ChatCompletionStreamOptions.include_usage): the usage
      // chunk (empty choices) comes only when the request set stream_options.include_usage to true,
      // and then every other chunk carries "usage": null. Without it no chunk has a usage field.
      const includeUsage = asked.stream_options?.include_usage === true;
      res.writeHead(200, { "content-type": "text/event-stream" });
      const chunk = (o: object) => res.write(`data: ${JSON.stringify(o)}\n\n`);
      const content = (delta: object) =>
        chunk({ object: "chat.completion.chunk", choices: [{ index: 0, delta }], ...(includeUsage ? { usage: null } : {}) });
      content({ role: "assistant" });
      content({ content: "hello" });
      if (plan.cut && cutPoint === "before-usage") return;
      if (includeUsage) chunk({ object: "chat.completion.chunk", choices: [], usage: { prompt_tokens: plan.input, completion_tokens: plan.output } });
      if (plan.cut) return;
      res.end("data: [DONE]\n\n");
    });
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => {
    resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => server.close() });
  }));
}

/** The usage event's usage (an object); the content chunks' "usage": null is not it. */
const USAGE_OBJECT = /"usage":\s*\{/;

/** One streaming chat; a cut plan's client hangs up at its cut point. */
export function send(gatewayUrl: string, plan: Plan, cutPoint: CutPoint): Promise<Outcome> {
  return new Promise((resolve) => {
    // The client asks for usage itself: the outcome is read from the usage event (the plugin hides
    // the one it asks for).
    const body = JSON.stringify({ model: "m", stream: true, stream_options: { include_usage: true }, messages: [{ role: "user", content: "hi" }], x_test: plan });
    const req = http.request(`${gatewayUrl}/v1/chat/completions`, {
      method: "POST",
      agent: false,
      headers: { authorization: `Bearer key-${plan.consumer}`, "content-type": "application/json", "content-length": Buffer.byteLength(body) },
    }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => {
        text += d;
        const reached = cutPoint === "before-usage" || USAGE_OBJECT.test(text);
        if (plan.cut && res.statusCode === 200 && reached) {
          req.destroy();
          resolve("cut");
        }
      });
      res.on("end", () => {
        if (res.statusCode === 403) resolve("denied");
        else if (res.statusCode === 200 && USAGE_OBJECT.test(text) && text.includes("[DONE]")) resolve("charged");
        else resolve("other");
      });
      res.on("error", () => resolve(plan.cut ? "cut" : "other"));
    });
    req.on("error", () => resolve(plan.cut ? "cut" : "other"));
    req.end(body);
  });
}
