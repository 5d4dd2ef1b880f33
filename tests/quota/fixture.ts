// Shared setup for the plugin's behaviour tests: the real build/ai-quota.wasm in the host, wired to
// a real redis-server, and helpers that speak in requests and balances rather than ABI calls.
//
// With AI_QUOTA_STORE=http (jest project "envoy-build") the same tests run the plain-Envoy build,
// build/ai-quota-envoy.wasm, in a host without Higress's Redis calls: the fixture puts a Redis REST
// bridge in front of the same redis-server and gives every config with a `redis` block a `store`
// block pointing at it (cluster "quota_store"); `vm.redisCommands()` then lists the commands sent
// over HTTP. Tests of Redis-host-call details use `testWithRedisHostCalls` and are skipped there.
//
// With AI_QUOTA_HIGRESS_ENVOY=1.27 (jest project "higress-envoy-1.27") the Higress build runs in the
// host's Higress 2.0–2.1 profile (higress-group/envoy envoy-1.27) instead of Higress 2.2's envoy-1.36.
import * as path from "node:path";
import * as crypto from "node:crypto";
import { ExchangeResult, HeaderPairs, PluginVm, PluginVmOptions, RedisClient, RedisRestBridge, RedisServer, ResponseSpec, startRedis, startRedisRestBridge } from "../../host";

export const ROOT = path.resolve(__dirname, "../..");
/** True in the envoy-build project: the plain-Envoy build and an HTTP quota store. */
export const HTTP_STORE = process.env.AI_QUOTA_STORE === "http";
/** The Higress profile the Higress build runs under: the host's default (envoy-1.36, Higress 2.2) unless the project picks another. */
export const HIGRESS_ENVOY = process.env.AI_QUOTA_HIGRESS_ENVOY === "1.27" ? "1.27" as const : undefined;
export const PLUGIN_WASM = path.join(ROOT, HTTP_STORE ? "build/ai-quota-envoy.wasm" : "build/ai-quota.wasm");
/** The HTTP store's Envoy cluster name in http mode. */
export const STORE_CLUSTER = "quota_store";
/** What the plugin reports when the store cannot be reached (admin 503 body, logs). */
export const STORE_UNREACHABLE = HTTP_STORE ? "cannot connect to quota store" : "cannot connect to redis cluster";
const SKIPPED_IN_HTTP_MODE = " [skipped in the envoy build: needs Higress's Redis host calls]";

/** `test`, skipped in the envoy-build project: for what only Higress's Redis host calls have. */
export const testWithRedisHostCalls = (name: string, fn: jest.ProvidesCallback, timeout?: number): void =>
  HTTP_STORE ? test.skip(name + SKIPPED_IN_HTTP_MODE, fn, timeout) : test(name, fn, timeout);

/** In http mode: a config with a `redis` block (and no `store`) gets an HTTP store in front of that Redis. */
function withHttpStore(config: object | string, token: string): object | string {
  if (typeof config === "string" || config === null || Array.isArray(config)) return config;
  const c = config as Record<string, unknown>;
  if (!("redis" in c) || "store" in c) return config;
  const store: Record<string, unknown> = { type: "http", cluster: STORE_CLUSTER, token };
  const redis = c.redis;
  const timeout = typeof redis === "object" && redis !== null ? (redis as Record<string, unknown>).timeout : undefined;
  // A valid Redis timeout carries over; a bad one stays where the test put it, to be refused there.
  if (typeof timeout === "number" && Number.isInteger(timeout) && timeout > 0) store.timeout = timeout;
  return { ...c, store };
}

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

/**
 * Every VM a fixture made, and how many host-rule violations it had at the last check. A plugin
 * that breaks a rule the real hosts enforce (a continue inside its own callback followed by a stop,
 * a continue for a direction that is not stopped) fails the test in which it happened.
 */
const watched = new Map<PluginVm, number>();

/** Registers a VM made outside QuotaFixture for the same after-each host-rule check. */
export function watchVm(vm: PluginVm): void {
  if (!watched.has(vm)) watched.set(vm, 0);
}

afterEach(() => {
  const found: string[] = [];
  for (const [vm, seen] of watched) {
    if (vm.violations.length > seen) found.push(...vm.violations.slice(seen));
    watched.set(vm, vm.violations.length);
  }
  if (found.length > 0) throw new Error(`the plugin broke host rules:\n${found.join("\n")}`);
});

/** One redis-server per test file, and VMs configured against it. */
export class QuotaFixture {
  private vms: PluginVm[] = [];

  private constructor(
    public readonly redis: RedisServer,
    public client: RedisClient,
    private readonly password?: string,
    /** http mode: the REST endpoint in front of `redis`, and its token. */
    public readonly bridge: RedisRestBridge | null = null,
    public readonly storeToken = "",
  ) {}

  /** A fresh test connection, after a restart of the server. */
  async reconnect(): Promise<void> {
    this.client.close();
    this.client = await RedisClient.connect(this.redis.port, { password: this.password });
  }

  static async start(options: { password?: string } = {}): Promise<QuotaFixture> {
    const redis = await startRedis({ password: options.password });
    const client = await RedisClient.connect(redis.port, { password: options.password });
    if (!HTTP_STORE) return new QuotaFixture(redis, client, options.password);
    const token = "test-" + crypto.randomBytes(8).toString("hex");
    const bridge = await startRedisRestBridge({ redisPort: redis.port, redisPassword: options.password, token });
    return new QuotaFixture(redis, client, options.password, bridge, token);
  }

  /** A started VM; `configure` false when the plugin refused the config (the VM is returned anyway). */
  async vm(config: object | string = BASE_CONFIG, options: Partial<PluginVmOptions> = {}): Promise<{ vm: PluginVm; configured: boolean }> {
    const redis = this.redis;
    const bridge = this.bridge;
    const vm = bridge === null
      ? await PluginVm.load({
        wasmPath: PLUGIN_WASM,
        redis: { resolve: (name) => (name.endsWith("||redis.static") || name.endsWith("||redis") ? { host: redis.host, port: redis.port } : undefined) },
        ...(HIGRESS_ENVOY !== undefined && options.flavour !== "envoy" && options.withRedisImports !== false ? { higressEnvoy: HIGRESS_ENVOY } : {}),
        ...options,
      })
      : await PluginVm.load({
        wasmPath: PLUGIN_WASM,
        withRedisImports: false,
        http: { resolve: (name) => (name === STORE_CLUSTER ? bridge.url : undefined) },
        ...options,
      });
    if (bridge !== null) {
      // The commands the plugin sent, as the Redis build's tests read them.
      vm.redisCommands = () => vm.httpCalls.filter((c) => c.cluster === STORE_CLUSTER).map((c) => JSON.parse(c.body.toString("utf8")) as string[]);
      config = withHttpStore(config, this.storeToken);
    }
    this.vms.push(vm);
    watched.set(vm, 0);
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
    await this.bridge?.close();
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

/** Starts a chat and leaves it waiting for the upstream's answer (or refused by the plugin). */
export async function openChat(vm: PluginVm, consumer: string, body = '{"messages":[{"role":"user","content":"hi"}]}') {
  const s = vm.newStream();
  s.requestHeaders(request("POST", "/v1/chat/completions", consumer, [["content-type", "application/json"]]), false);
  s.requestBody(body, true);
  await s.waitFor(() => s.upstream.ended || s.localResponse !== null, "admission");
  return s;
}
