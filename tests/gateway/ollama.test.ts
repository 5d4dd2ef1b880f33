// The official `ollama` client against `npm start` (examples/local.yaml; the mock's Ollama API,
// gateway/mock-ollama.ts): chat and generate, streamed as NDJSON (Ollama's default) or not, and
// embed, each charged exactly the prompt_eval_count + eval_count the answer reported; at balance 0
// the client gets the plugin's 403.
import { Ollama } from "ollama";
import { GatewayProcess } from "./gateway-process";
import { send } from "./http-client";

const MESSAGE = "Say hello to the quota gateway";
const WORDS = 6;
const START = 100_000;
const ADMIN = { authorization: "Bearer credential3" };
const QUOTA = "/v1/chat/completions/quota";

let gw: GatewayProcess;
let ollama: Ollama;

beforeAll(async () => {
  gw = await GatewayProcess.launch(["--config", "examples/local.yaml", "--port", "0"]);
  ollama = new Ollama({ host: gw.url, headers: { authorization: "Bearer credential1" } });
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

describe("the ollama client through the gateway", () => {
  test("chat, stream false: charged prompt_eval_count + eval_count", async () => {
    const { value, charged: c } = await charged("/api/chat", () => ollama.chat({ model: "llama3.2", messages: [{ role: "user", content: MESSAGE }], stream: false, options: { num_predict: 5 } }));
    expect(value.prompt_eval_count).toBe(WORDS);
    expect(value.eval_count).toBe(5);
    expect(value.message.content).toBe("lorem lorem lorem lorem lorem");
    expect(c).toBe(WORDS + 5);
  });

  test("chat streamed (NDJSON, Ollama's default): the counts of the last line", async () => {
    const { value, charged: c } = await charged("/api/chat", async () => {
      const parts = [];
      for await (const part of await ollama.chat({ model: "llama3.2", messages: [{ role: "user", content: MESSAGE }], stream: true })) parts.push(part);
      return parts;
    });
    const last = value[value.length - 1];
    expect(last.done).toBe(true);
    expect(value.map((p) => p.message.content).join("")).toBe(Array(16).fill("lorem").join(" "));
    expect(c).toBe(last.prompt_eval_count + last.eval_count);
    expect(c).toBe(WORDS + 16);
  });

  test("generate streamed and embed", async () => {
    const g = await charged("/api/generate", async () => {
      let last = null;
      for await (const part of await ollama.generate({ model: "llama3.2", prompt: MESSAGE, stream: true, options: { num_predict: 3 } })) last = part;
      return last!;
    });
    expect(g.charged).toBe(WORDS + 3);
    expect(g.value.eval_count).toBe(3);
    const e = await charged("/api/embed", () => ollama.embed({ model: "all-minilm", input: [MESSAGE, "two words"] }));
    expect(e.value.embeddings.length).toBe(2);
    expect(e.charged).toBe(WORDS + 2);
  });

  test("balance 0: the client gets the plugin's 403", async () => {
    await setBalance(0);
    await expect(ollama.chat({ model: "llama3.2", messages: [{ role: "user", content: MESSAGE }], stream: false })).rejects.toMatchObject({ status_code: 403 });
    expect(await balance()).toBe(0);
  });
});
