// The official `@aws-sdk/client-bedrock-runtime` against `npm start` (examples/local.yaml; the
// mock's Bedrock runtime, gateway/mock-bedrock.ts): Converse, ConverseStream, InvokeModel and
// InvokeModelWithResponseStream through the real plugin, the streams in AWS's binary event-stream
// framing decoded by the SDK's own codec. The client uses the gateway as a custom endpoint with a
// Bedrock API key (bearer token: key-auth's credential) beside dummy SigV4 credentials, over
// HTTP/1.1. Each call is
// charged exactly the usage Bedrock's answer reports; at balance 0 the client gets the plugin's 403.
import {
  BedrockRuntimeClient, ConverseCommand, ConverseStreamCommand, InvokeModelCommand, InvokeModelWithResponseStreamCommand,
} from "@aws-sdk/client-bedrock-runtime";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { GatewayProcess } from "./gateway-process";
import { send } from "./http-client";

const MESSAGE = "Say hello to the quota gateway";
const WORDS = 6;
const START = 100_000;
const ADMIN = { authorization: "Bearer credential3" };
const QUOTA = "/v1/chat/completions/quota";
const CLAUDE = "anthropic.claude-3-5-sonnet-20240620-v1:0";
const LLAMA = "meta.llama3-8b-instruct-v1:0";

let gw: GatewayProcess;
let client: BedrockRuntimeClient;

beforeAll(async () => {
  gw = await GatewayProcess.launch(["--config", "examples/local.yaml", "--port", "0"]);
  client = new BedrockRuntimeClient({
    region: "us-east-1",
    endpoint: gw.url,
    credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "dummy-secret" },
    token: { token: "credential1" },
    authSchemePreference: ["httpBearerAuth"],
    maxAttempts: 1,
    // The SDK's default for this client is HTTP/2; the local gateway speaks HTTP/1.1, as a Higress
    // route does unless its listener enables h2.
    requestHandler: new NodeHttpHandler(),
  });
}, 60_000);

afterAll(async () => {
  client?.destroy();
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
async function charged<T>(operation: string, run: () => Promise<T>): Promise<{ value: T; charged: number }> {
  await setBalance(START);
  const from = gw.lines.length;
  const value = await run();
  await gw.waitForLine(new RegExp(`^POST /model/\\S+/${operation} \\S+ consumer1( |$)`), 10_000, from);
  return { value, charged: START - (await balance()) };
}

const messages = [{ role: "user" as const, content: [{ text: MESSAGE }] }];

describe("the Bedrock runtime client through the gateway", () => {
  test("Converse: charged usage.inputTokens + outputTokens", async () => {
    const { value, charged: c } = await charged("converse", () => client.send(new ConverseCommand({ modelId: CLAUDE, messages, inferenceConfig: { maxTokens: 5 } })));
    expect(value.usage).toMatchObject({ inputTokens: WORDS, outputTokens: 5, totalTokens: WORDS + 5 });
    expect(value.output?.message?.content?.[0]?.text).toBe("lorem lorem lorem lorem lorem");
    expect(c).toBe(WORDS + 5);
  });

  test("ConverseStream: the SDK decodes every event; charged the metadata's usage", async () => {
    const { value, charged: c } = await charged("converse-stream", async () => {
      const r = await client.send(new ConverseStreamCommand({ modelId: CLAUDE, messages, inferenceConfig: { maxTokens: 7 } }));
      const events = [];
      for await (const e of r.stream!) events.push(e);
      return events;
    });
    const text = value.map((e) => e.contentBlockDelta?.delta?.text ?? "").join("");
    expect(text).toBe(Array(7).fill("lorem").join(" "));
    const meta = value.find((e) => e.metadata !== undefined)!.metadata!;
    expect(meta.usage).toMatchObject({ inputTokens: WORDS, outputTokens: 7 });
    expect(value[0].messageStart?.role).toBe("assistant");
    expect(value.some((e) => e.messageStop?.stopReason === "max_tokens")).toBe(true);
    expect(c).toBe(WORDS + 7);
  });

  test("InvokeModelWithResponseStream, Claude: chunks decoded by the SDK; charged exactly", async () => {
    const body = JSON.stringify({ anthropic_version: "bedrock-2023-05-31", max_tokens: 4, messages: [{ role: "user", content: MESSAGE }] });
    const { value, charged: c } = await charged("invoke-with-response-stream", async () => {
      const r = await client.send(new InvokeModelWithResponseStreamCommand({ modelId: CLAUDE, body, contentType: "application/json" }));
      const events = [];
      for await (const e of r.body!) events.push(JSON.parse(Buffer.from(e.chunk!.bytes!).toString("utf8")));
      return events;
    });
    expect(value[0].type).toBe("message_start");
    const last = value[value.length - 1];
    expect(last["amazon-bedrock-invocationMetrics"]).toMatchObject({ inputTokenCount: WORDS, outputTokenCount: 4 });
    expect(c).toBe(WORDS + 4);
  });

  test("InvokeModelWithResponseStream, Llama: invocationMetrics charged exactly", async () => {
    const body = JSON.stringify({ prompt: MESSAGE, max_gen_len: 3 });
    const { charged: c } = await charged("invoke-with-response-stream", async () => {
      const r = await client.send(new InvokeModelWithResponseStreamCommand({ modelId: LLAMA, body, contentType: "application/json" }));
      for await (const e of r.body!) void e;
    });
    expect(c).toBe(WORDS + 3);
  });

  test("InvokeModel, Claude: Anthropic's usage charged exactly", async () => {
    const body = JSON.stringify({ anthropic_version: "bedrock-2023-05-31", max_tokens: 2, messages: [{ role: "user", content: MESSAGE }] });
    const { value, charged: c } = await charged("invoke", () => client.send(new InvokeModelCommand({ modelId: CLAUDE, body, contentType: "application/json" })));
    expect(JSON.parse(Buffer.from(value.body).toString("utf8")).usage).toEqual({ input_tokens: WORDS, output_tokens: 2 });
    expect(c).toBe(WORDS + 2);
  });

  test("balance 0: every operation gets the plugin's 403, the balance untouched", async () => {
    await setBalance(0);
    const status = (p: Promise<unknown>) => p.then(() => 0, (e: { $metadata?: { httpStatusCode?: number } }) => e.$metadata?.httpStatusCode);
    expect(await status(client.send(new ConverseCommand({ modelId: CLAUDE, messages })))).toBe(403);
    expect(await status(client.send(new ConverseStreamCommand({ modelId: CLAUDE, messages })))).toBe(403);
    const body = JSON.stringify({ anthropic_version: "bedrock-2023-05-31", max_tokens: 2, messages: [{ role: "user", content: MESSAGE }] });
    expect(await status(client.send(new InvokeModelWithResponseStreamCommand({ modelId: CLAUDE, body })))).toBe(403);
    expect(await status(client.send(new InvokeModelCommand({ modelId: CLAUDE, body })))).toBe(403);
    expect(await balance()).toBe(0);
  });
});
