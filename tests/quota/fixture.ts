// Shared setup for the plugin's behaviour tests: the real build/ai-quota.wasm in the host, wired to
// a real redis-server, and helpers that speak in requests and balances rather than ABI calls.
import * as path from "node:path";
import { ExchangeResult, HeaderPairs, PluginVm, PluginVmOptions, RedisClient, RedisServer, ResponseSpec, startRedis } from "../../host";

export const ROOT = path.resolve(__dirname, "../..");
export const PLUGIN_WASM = path.join(ROOT, "build/ai-quota.wasm");

export const BASE_CONFIG = {
  admin_consumer: "admin",
  redis: { service_name: "redis.static", service_port: 6379 },
};

export type Headers = HeaderPairs;

export function request(method: string, p: string, consumer: string | null, extra: HeaderPairs = []): HeaderPairs {
  const h: HeaderPairs = [[":method", method], [":path", p], [":authority", "gateway.test"], [":scheme", "http"]];
  if (consumer !== null) h.push(["x-mse-consumer", consumer]);
  return [...h, ...extra];
}

export function openAiJson(prompt: number, completion: number, model = "gpt-4o"): string {
  return JSON.stringify({
    id: "chatcmpl-1", object: "chat.completion", model,
    choices: [{ index: 0, message: { role: "assistant", content: "hi" }, finish_reason: "stop" }],
    usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion },
  });
}

export function openAiSse(prompt: number, completion: number, model = "gpt-4o"): string {
  const chunk = (delta: object, usage: object | null = null) =>
    `data: ${JSON.stringify({ id: "c1", object: "chat.completion.chunk", model, choices: usage ? [] : [{ index: 0, delta }], usage })}\n\n`;
  return chunk({ role: "assistant" }) + chunk({ content: "Hello" }) + chunk({ content: " world" }) +
    chunk({}, { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion }) + "data: [DONE]\n\n";
}

export function jsonResponse(body: string | string[]): ResponseSpec {
  return { headers: [[":status", "200"], ["content-type", "application/json"]], body };
}

export function sseResponse(body: string | string[]): ResponseSpec {
  return { headers: [[":status", "200"], ["content-type", "text/event-stream"]], body };
}

/** One redis-server per test file, and VMs configured against it. */
export class QuotaFixture {
  private vms: PluginVm[] = [];

  private constructor(public readonly redis: RedisServer, public client: RedisClient, private readonly password?: string) {}

  /** A fresh test connection, after a restart of the server. */
  async reconnect(): Promise<void> {
    this.client.close();
    this.client = await RedisClient.connect(this.redis.port, { password: this.password });
  }

  static async start(options: { password?: string } = {}): Promise<QuotaFixture> {
    const redis = await startRedis({ password: options.password });
    const client = await RedisClient.connect(redis.port, { password: options.password });
    return new QuotaFixture(redis, client, options.password);
  }

  /** A started VM; `configure` false when the plugin refused the config (the VM is returned anyway). */
  async vm(config: object | string = BASE_CONFIG, options: Partial<PluginVmOptions> = {}): Promise<{ vm: PluginVm; configured: boolean }> {
    const redis = this.redis;
    const vm = await PluginVm.load({
      wasmPath: PLUGIN_WASM,
      redis: { resolve: (name) => (name.endsWith("||redis.static") || name.endsWith("||redis") ? { host: redis.host, port: redis.port } : undefined) },
      ...options,
    });
    this.vms.push(vm);
    const configured = await vm.start("", typeof config === "string" ? config : JSON.stringify(config));
    return { vm, configured };
  }

  async plugin(config: object = BASE_CONFIG, options: Partial<PluginVmOptions> = {}): Promise<PluginVm> {
    const { vm, configured } = await this.vm(config, options);
    if (!configured) throw new Error(`plugin refused its config:\n${vm.logText()}`);
    return vm;
  }

  async setBalance(consumer: string, value: number | string, prefix = "chat_quota:"): Promise<void> {
    await this.client.command("SET", prefix + consumer, String(value));
  }

  async balance(consumer: string, prefix = "chat_quota:"): Promise<string | null> {
    const v = await this.client.command("GET", prefix + consumer);
    return v === null ? null : String(v);
  }

  async flush(): Promise<void> {
    await this.client.command("FLUSHALL");
    await this.client.command("SCRIPT", "FLUSH");
  }

  async stop(): Promise<void> {
    for (const vm of this.vms) await vm.close();
    this.client.close();
    await this.redis.stop();
  }
}

/** Runs one chat call through a VM; the upstream answers with `response`. */
export async function chat(vm: PluginVm, consumer: string | null, response: ResponseSpec, options: { path?: string; filterState?: Record<string, string> } = {}): Promise<ExchangeResult> {
  const stream = vm.newStream({ filterState: options.filterState });
  return stream.run({
    request: { headers: request("POST", options.path ?? "/v1/chat/completions", consumer, [["content-type", "application/json"]]), body: '{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}' },
    response: () => response,
  });
}

export async function adminGet(vm: PluginVm, consumer: string | null, query: string): Promise<ExchangeResult> {
  return vm.newStream().run({ request: { headers: request("GET", "/v1/chat/completions/quota" + query, consumer) } });
}

export async function adminPost(vm: PluginVm, consumer: string | null, op: "refresh" | "delta", body: string | string[]): Promise<ExchangeResult> {
  const headers = request("POST", `/v1/chat/completions/quota/${op}`, consumer, [["content-type", "application/x-www-form-urlencoded"]]);
  return vm.newStream().run({ request: { headers, body } });
}

export function header(h: HeaderPairs | null, name: string): string | undefined {
  return h?.find(([k]) => k === name)?.[1];
}
