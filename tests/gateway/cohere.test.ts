// The official `cohere-ai` client (CohereClientV2) against `npm start` (examples/local.yaml; the
// mock's Cohere v2 API, gateway/mock-cohere.ts): chat JSON and streamed (typed SSE events, usage
// only in message-end) and embed, each charged exactly what the answer reported — per side the
// larger of `usage.tokens` and `usage.billed_units` (docs/metering.md) — a cut stream charged an
// estimate (never free), and at balance 0 the client gets the plugin's 403.
import { CohereClientV2, CohereError } from "cohere-ai";
import { TEMPLATE_TOKENS } from "../../gateway/mock-cohere";
import { GatewayProcess } from "./gateway-process";
import { send } from "./http-client";

const MESSAGE = "Say hello to the quota gateway";
const WORDS = 6;
const START = 100_000;
const ADMIN = { authorization: "Bearer credential3" };
const QUOTA = "/v1/chat/completions/quota";

let gw: GatewayProcess;
let cohere: CohereClientV2;

beforeAll(async () => {
  gw = await GatewayProcess.launch(["--config", "examples/local.yaml", "--port", "0"]);
  cohere = new CohereClientV2({ token: "credential1", environment: gw.url, maxRetries: 0 });
}, 60_000);

afterAll(async () => {
  await gw?.stop();
  gw?.kill();
});

async function setBalance(n: number): Promise<void> {
  const r = await send(gw.url + QUOTA + "/refresh", { headers: { ...ADMIN, "content-type": "application/x-www-form-urlencoded" }, body: `consumer=consumer1&quota=${n}` });
  expect(r.status).toBe(200);
}

async function balance(): Promise<number> {
  const r = await send(gw.url + QUOTA + "?consumer=consumer1", { headers: ADMIN });
  return JSON.parse(r.body).quota;
}

/** Runs a call and waits for the gateway's access line (written once its charge is answered). */
async function charged<T>(path: string, run: () => Promise<T>): Promise<{ value: T; charged: number }> {
  await setBalance(START);
  const from = gw.lines.length;
  const value = await run();
  await gw.waitForLine(new RegExp(`^POST ${path} \\S+ consumer1( |$)`), 10_000, from);
  return { value, charged: START - (await balance()) };
}

const messages = [{ role: "user" as const, content: MESSAGE }];

describe("the cohere-ai client (v2) through the gateway", () => {
  test("chat JSON: charged usage.tokens (the larger side) exactly", async () => {
    const { value, charged: c } = await charged("/v2/chat", () => cohere.chat({ model: "command-a-03-2025", messages, maxTokens: 5 }));
    expect(value.finishReason).toBe("MAX_TOKENS");
    expect(value.message.content?.[0]).toMatchObject({ type: "text", text: "lorem lorem lorem lorem lorem" });
    expect(value.usage?.billedUnits).toEqual({ inputTokens: WORDS, outputTokens: 5 });
    expect(value.usage?.tokens).toEqual({ inputTokens: WORDS + TEMPLATE_TOKENS, outputTokens: 5 });
    expect(c).toBe(value.usage!.tokens!.inputTokens! + value.usage!.tokens!.outputTokens!);
    expect(c).toBe(WORDS + TEMPLATE_TOKENS + 5);
  });

  test("chat streamed: the typed events, charged the usage of message-end exactly", async () => {
    const { value, charged: c } = await charged("/v2/chat", async () => {
      const events = [];
      for await (const e of await cohere.chatStream({ model: "command-a-03-2025", messages, maxTokens: 4 })) events.push(e);
      return events;
    });
    expect(value.map((e) => e.type)).toEqual(["message-start", "content-start", "content-delta", "content-delta", "content-delta", "content-delta", "content-end", "message-end"]);
    const text = value.flatMap((e) => (e.type === "content-delta" ? [e.delta?.message?.content?.text ?? ""] : [])).join("");
    expect(text).toBe("lorem lorem lorem lorem");
    const end = value[value.length - 1];
    if (end.type !== "message-end") throw new Error("no message-end");
    expect(end.delta?.finishReason).toBe("MAX_TOKENS");
    expect(end.delta?.usage?.tokens).toEqual({ inputTokens: WORDS + TEMPLATE_TOKENS, outputTokens: 4 });
    expect(c).toBe(WORDS + TEMPLATE_TOKENS + 4);
  });

  test("chat streamed without max_tokens: 16 words, charged exactly", async () => {
    const { charged: c } = await charged("/v2/chat", async () => {
      let n = 0;
      for await (const e of await cohere.chatStream({ model: "command-a-03-2025", messages })) if (e.type === "content-delta") n++;
      return n;
    });
    expect(c).toBe(WORDS + TEMPLATE_TOKENS + 16);
  });

  test("embed: charged meta.billed_units.input_tokens exactly", async () => {
    const { value, charged: c } = await charged("/v2/embed", () => cohere.embed({ model: "embed-v4.0", inputType: "search_document", embeddingTypes: ["float"], texts: [MESSAGE, "two words"] }));
    expect(value.embeddings.float?.length).toBe(2);
    expect(value.meta?.billedUnits?.inputTokens).toBe(WORDS + 2);
    expect(c).toBe(WORDS + 2);
  });

  test("an answer without usage is charged the estimate: the exact charges above come from the reported counts", async () => {
    const { value, charged: c } = await charged("/v2/chat", () => cohere.chat({ model: "command-a-03-2025+no-usage", messages, maxTokens: 5 }));
    expect(value.usage).toBeUndefined();
    expect(c).toBeGreaterThan(0);
    expect(c).not.toBe(WORDS + TEMPLATE_TOKENS + 5);
  });

  test("a stream cut before message-end is charged an estimate, never free", async () => {
    const { charged: c } = await charged("/v2/chat", async () => {
      try {
        for await (const e of await cohere.chatStream({ model: "command-a-03-2025+cut=4", messages, maxTokens: 8 })) void e;
      } catch {
        // the cut connection: the client's error is not what is tested
      }
    });
    expect(c).toBeGreaterThan(0);
  });

  test("balance 0: the client gets the plugin's 403", async () => {
    await setBalance(0);
    const err = await cohere.chat({ model: "command-a-03-2025", messages }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CohereError);
    expect((err as CohereError).statusCode).toBe(403);
    expect(await balance()).toBe(0);
  });
});
