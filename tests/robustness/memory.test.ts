// Linear memory stays flat over a long run: 100,000 mixed requests (chat JSON and streaming,
// admin query/refresh/delta, denied, cut mid-stream, refused identities, pass-through) through ONE
// VM against a real redis-server, with bounded concurrency. The wasm memory size after a warm-up
// of 5,000 requests must be the size at the end (wasm memory only ever grows, so any leak shows).
// Every charge is also accounted for at the end: nothing lost, nothing charged twice.
import { LogLevel, PluginVm, RedisClient } from "../../host";
import { FuzzEnv } from "../../fuzz/env";
import { CHAT_PATH, KEY_PREFIX, requestHeaders, usageJson } from "../../fuzz/http";

const TOTAL = Number(process.env.MEMORY_REQUESTS ?? 100_000);
const WARMUP = Math.min(5_000, Math.floor(TOTAL / 10));
const CONCURRENCY = 48;
const CONSUMERS = 40;
const FUNDS = 10n ** 12n;
const CONFIG = { admin_consumer: "admin", redis: { service_name: "redis.static" } };

type Kind = "chat-json" | "chat-sse" | "chat-cut" | "denied" | "query" | "refresh" | "delta" | "no-consumer" | "bad-consumer" | "other-path";
const MIX: Array<[Kind, number]> = [
  ["chat-json", 28], ["chat-sse", 20], ["chat-cut", 8], ["denied", 10], ["query", 8], ["refresh", 5], ["delta", 5],
  ["no-consumer", 5], ["bad-consumer", 5], ["other-path", 6],
];

function sse(prompt: number, completion: number): string[] {
  const ev = (o: object) => `data: ${JSON.stringify(o)}\n\n`;
  return [
    ev({ id: "c", object: "chat.completion.chunk", choices: [{ index: 0, delta: { role: "assistant" } }] }),
    ev({ id: "c", object: "chat.completion.chunk", choices: [{ index: 0, delta: { content: "Hello ".repeat(20) } }] }),
    ev({ id: "c", object: "chat.completion.chunk", choices: [], usage: { prompt_tokens: prompt, completion_tokens: completion } }),
    "data: [DONE]\n\n",
  ];
}

class Load {
  /** What each chat consumer must have been charged. */
  readonly charged = new Map<string, bigint>();
  readonly counts = new Map<Kind, number>();
  readonly unexpected: string[] = [];
  private next = 0;
  private readonly weights = MIX.reduce((n, [, w]) => n + w, 0);

  constructor(private readonly vm: PluginVm) {}

  private kindOf(i: number): Kind {
    // A fixed pseudo-random sequence (mulberry32 of the index), so that runs are comparable.
    let t = (i + 0x6d2b79f5) | 0;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    let x = Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * this.weights);
    for (const [k, w] of MIX) {
      if (x < w) return k;
      x -= w;
    }
    return "chat-json";
  }

  private note(i: number, kind: Kind, what: string): void {
    if (this.unexpected.length < 20) this.unexpected.push(`#${i} ${kind}: ${what}`);
  }

  private charge(consumer: string, n: number): void {
    this.charged.set(consumer, (this.charged.get(consumer) ?? 0n) + BigInt(n));
  }

  async one(i: number): Promise<void> {
    const vm = this.vm;
    const kind = this.kindOf(i);
    this.counts.set(kind, (this.counts.get(kind) ?? 0) + 1);
    const consumer = `user${i % CONSUMERS}`;
    const p = 1 + (i % 97);
    const c = 1 + (i % 13);
    switch (kind) {
      case "chat-json": {
        const r = await vm.newStream().run({
          request: { headers: requestHeaders("POST", CHAT_PATH, consumer, [["content-type", "application/json"]]), body: '{"model":"m","messages":[]}' },
          response: () => ({ headers: [[":status", "200"], ["content-type", "application/json"]], body: usageJson(p, c) }),
        });
        if (r.local !== null || r.status !== 200) return this.note(i, kind, `status ${r.status}`);
        return this.charge(consumer, p + c);
      }
      case "chat-sse": {
        const r = await vm.newStream().run({
          request: { headers: requestHeaders("POST", CHAT_PATH, consumer), body: '{"stream":true}' },
          response: () => ({ headers: [[":status", "200"], ["content-type", "text/event-stream"]], body: sse(p, c) }),
        });
        if (r.local !== null || r.status !== 200) return this.note(i, kind, `status ${r.status}`);
        return this.charge(consumer, p + c);
      }
      case "chat-cut": {
        // The client goes away after the usage event, before [DONE]: the usage seen is charged.
        const s = vm.newStream();
        s.requestHeaders(requestHeaders("POST", CHAT_PATH, consumer), false);
        s.requestBody("{}", true);
        await s.waitFor(() => s.upstream.ended || s.localResponse !== null || s.finished, "upstream");
        if (!s.upstream.ended) return this.note(i, kind, "not admitted");
        s.responseHeaders([[":status", "200"], ["content-type", "text/event-stream"]], false);
        for (const part of sse(p, c).slice(0, 3)) s.responseBody(part, false);
        s.finish("client went away");
        await s.settled();
        return this.charge(consumer, p + c);
      }
      case "denied": {
        const r = await vm.newStream().run({ request: { headers: requestHeaders("POST", CHAT_PATH, "broke"), body: "{}" } });
        if (r.local?.status !== 403) return this.note(i, kind, `status ${r.status}`);
        return;
      }
      case "query": {
        const r = await vm.newStream().run({ request: { headers: requestHeaders("GET", `${CHAT_PATH}/quota?consumer=${consumer}`, "admin") } });
        if (r.local?.status !== 200) return this.note(i, kind, `status ${r.status}`);
        return;
      }
      case "refresh":
      case "delta": {
        const op = kind;
        const body = op === "refresh" ? `consumer=adm${i % 7}&quota=${i}` : `consumer=adm${i % 7}&value=-${i % 50}`;
        const r = await vm.newStream().run({ request: { headers: requestHeaders("POST", `${CHAT_PATH}/quota/${op}`, "admin"), body } });
        if (r.local?.status !== 200) return this.note(i, kind, `status ${r.status}`);
        return;
      }
      case "no-consumer": {
        const r = await vm.newStream().run({ request: { headers: requestHeaders("POST", CHAT_PATH, null), body: "{}" } });
        if (r.local?.status !== 401) return this.note(i, kind, `status ${r.status}`);
        return;
      }
      case "bad-consumer": {
        const r = await vm.newStream().run({ request: { headers: requestHeaders("POST", CHAT_PATH, "a,b"), body: "{}" } });
        if (r.local?.status !== 401) return this.note(i, kind, `status ${r.status}`);
        return;
      }
      case "other-path": {
        // Half a listing other_paths allows (passes), half an endpoint it refuses (403).
        if (i % 2 === 1) {
          const refused = await vm.newStream().run({ request: { headers: requestHeaders("POST", "/v1/images/generations", consumer), body: "{}" } });
          if (refused.local?.details !== "ai-quota.path_not_metered") return this.note(i, kind, `status ${refused.status}`);
          return;
        }
        const r = await vm.newStream().run({
          request: { headers: requestHeaders("GET", "/v1/models", consumer) },
          response: () => ({ headers: [[":status", "200"]], body: usageJson(5, 5) }),
        });
        if (r.local !== null || r.status !== 200) return this.note(i, kind, `status ${r.status}`);
        return;
      }
    }
  }

  /** Runs requests [from, to) with at most CONCURRENCY in flight. */
  async run(to: number): Promise<void> {
    const worker = async () => {
      for (let i = this.next++; i < to; i = this.next++) await this.one(i);
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    this.next = Math.min(this.next, to);
  }
}

let env: FuzzEnv;
let client: RedisClient;
beforeAll(async () => {
  env = new FuzzEnv();
  client = (await env.redis()).client;
});
afterAll(async () => env.close());

test(`memory is flat over ${TOTAL} mixed requests on one VM`, async () => {
  await client.command("FLUSHALL");
  for (let k = 0; k < CONSUMERS; k++) await client.command("SET", `${KEY_PREFIX}user${k}`, FUNDS.toString());
  await client.command("SET", `${KEY_PREFIX}broke`, "0");
  // Info, as a gateway runs: debug lines are neither built nor kept.
  const { vm, configured } = await env.vm(CONFIG, "real", { logLevel: LogLevel.Info });
  expect(configured).toBe(true);
  const load = new Load(vm);
  const started = Date.now();
  const initial = vm.memoryBytes();

  await load.run(WARMUP);
  await vm.idle();
  const afterWarmup = vm.memoryBytes();
  const warmupMs = Date.now() - started;

  const samples: Array<[number, number]> = [[WARMUP, afterWarmup]];
  const step = Math.max(WARMUP, Math.floor(TOTAL / 10));
  for (let done = WARMUP; done < TOTAL;) {
    done = Math.min(TOTAL, done + step);
    await load.run(done);
    samples.push([done, vm.memoryBytes()]);
  }
  await vm.idle();
  const final = vm.memoryBytes();
  const ms = Date.now() - started;

  const kib = (n: number) => `${(n / 1024).toFixed(0)} KiB`;
  console.log([
    `${TOTAL} requests in ${(ms / 1000).toFixed(1)} s (${Math.round(TOTAL / (ms / 1000))}/s, concurrency ${CONCURRENCY}; warm-up of ${WARMUP} in ${(warmupMs / 1000).toFixed(1)} s)`,
    `wasm memory: ${kib(initial)} at start, ${kib(afterWarmup)} after warm-up, ${kib(final)} at the end`,
    `samples: ${samples.map(([n, b]) => `${n}: ${kib(b)}`).join(", ")}`,
    `mix: ${[...load.counts].map(([k, n]) => `${k} ${n}`).join(", ")}`,
  ].join("\n"));

  expect(vm.trapped).toBeNull();
  expect(load.unexpected).toEqual([]);
  expect(vm.logs.filter((l) => l.level >= LogLevel.Warn).map((l) => l.message).slice(0, 5)).toEqual([]);
  // Nothing lost, nothing twice: every chat consumer paid exactly its usage.
  for (let k = 0; k < CONSUMERS; k++) {
    const name = `user${k}`;
    const balance = BigInt(String(await client.command("GET", `${KEY_PREFIX}${name}`)));
    expect({ name, charged: FUNDS - balance }).toEqual({ name, charged: load.charged.get(name) ?? 0n });
  }
  expect(final).toBe(afterWarmup);
}, 240_000);
