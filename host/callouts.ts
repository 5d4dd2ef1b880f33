// The plugin's asynchronous calls (Redis and HTTP): ids handed out at once, the count in flight
// per calling context (what `stream.settled()` waits on), and the answer delivered later to the
// root context's callback, with the reply visible to host calls only while that callback runs.
import { Status } from "./abi-types";
import { HeaderPairs } from "./header-map";
import { HttpBridge, HttpCallResult, HttpOptions } from "./http-bridge";
import { RedisBridge, RedisCallRecord, RedisResolver } from "./redis-bridge";

/** How an answer reaches the plugin: the VM runs the root callback (and what it defers). */
export interface CalloutSink {
  /** Runs `fn` as one top-level turn of the VM (nothing runs once the VM is closed). */
  turn(fn: () => void): void;
  callRoot(name: string, ...args: number[]): void;
}

const EMPTY = Buffer.alloc(0);

export class Callouts {
  readonly redis: RedisBridge;
  readonly http: HttpBridge;
  /** The Redis reply being delivered (buffer 9), or null outside its callback. */
  redisReply: Buffer | null = null;
  /** The HTTP answer being delivered (map 6/7, buffer 4): null for a failed call, undefined outside. */
  httpAnswer: HttpCallResult | null | undefined = undefined;
  private nextId = 1;
  private readonly inflightByContext = new Map<number, number>();

  constructor(options: { redis?: RedisResolver; http?: HttpOptions }, historyLimit: number, private readonly sink: CalloutSink, readsRedisBufferOptions = false) {
    this.redis = new RedisBridge(options.redis, (record) => this.answerRedis(record), historyLimit, readsRedisBufferOptions);
    this.http = new HttpBridge(options.http, (record) => this.answerHttp(record), historyLimit);
  }

  redisCall(cluster: string, query: Buffer, owner: number): { status: Status; calloutId: number } {
    return this.start(owner, (id) => this.redis.call(cluster, query, id, owner));
  }

  httpCall(cluster: string, headers: HeaderPairs, body: Buffer, trailers: HeaderPairs, timeoutMs: number, owner: number): { status: Status; calloutId: number } {
    return this.start(owner, (id) => this.http.call(cluster, headers, body, trailers, timeoutMs, id, owner));
  }

  inflight(contextId: number): number {
    return this.inflightByContext.get(contextId) ?? 0;
  }

  totalInflight(): number {
    let n = 0;
    for (const v of this.inflightByContext.values()) n += v;
    return n;
  }

  close(): void {
    this.redis.close();
    this.http.close();
  }

  private start(owner: number, send: (id: number) => Status): { status: Status; calloutId: number } {
    const id = this.nextId++;
    const status = send(id);
    if (status !== Status.Ok) return { status, calloutId: 0 };
    this.inflightByContext.set(owner, this.inflight(owner) + 1);
    return { status, calloutId: id };
  }

  /** Counted down inside the turn, before waiters are woken, so `settled()` sees the callback's effects. */
  private finished(owner: number): void {
    const n = this.inflight(owner) - 1;
    if (n > 0) this.inflightByContext.set(owner, n);
    else this.inflightByContext.delete(owner);
  }

  private answerRedis(record: RedisCallRecord): void {
    this.sink.turn(() => {
      const reply = record.reply ?? EMPTY;
      this.redisReply = reply;
      try {
        this.sink.callRoot("proxy_on_redis_call_response", record.calloutId, record.status ?? 1, reply.length);
      } finally {
        this.redisReply = null;
      }
      this.finished(record.contextId);
    });
  }

  private answerHttp(record: { calloutId: number; contextId: number; result?: HttpCallResult | null }): void {
    this.sink.turn(() => {
      const result = record.result ?? null;
      this.httpAnswer = result;
      try {
        if (result === null) this.sink.callRoot("proxy_on_http_call_response", record.calloutId, 0, 0, 0);
        else this.sink.callRoot("proxy_on_http_call_response", record.calloutId, result.headers.length, result.body.length, result.trailers.length);
      } finally {
        this.httpAnswer = undefined;
      }
      this.finished(record.contextId);
    });
  }
}
