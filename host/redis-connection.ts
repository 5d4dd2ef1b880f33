// One TCP connection to a Redis server, as Envoy's Redis client keeps per upstream host. Higress's
// proxy_redis_call goes through AsyncClientImpl (higress-group/envoy source/common/redis/
// async_client_impl.cc, threadLocalActiveClient / send), which makes one RawClientImpl per host
// (source/extensions/filters/network/common/redis/raw_client_impl.cc, the raw-bytes twin of
// ClientImpl in client_impl.cc; the timing code of the two is line for line the same):
// connected on first use, AUTH and SELECT sent first as ordinary pending requests
// (RawClientImpl::initialize), commands pipelined, replies matched to requests first-in first-out.
// Any failure (refused, closed, or the operation timer firing, on which Envoy closes the
// connection) fails everything still waiting (RawClientImpl::onEvent), and the connection is
// dead: the owner dials a new one for the next command.
//
// Timing, as RawClientImpl / ClientImpl keep it:
// - One connect_or_op_timer per connection, not a deadline per command. Armed with the cluster's
//   connect timeout when the client is made (constructor); with the op timeout when the connection
//   is up (onEvent Connected) and when a request is made while it is the only one pending
//   (makeRawRequest, `connected_ && pending_requests_.size() == 1`); re-armed with the op timeout
//   on every reply while requests remain pending and disabled when none remain (onRawResponse /
//   onRespValue). When it fires (onConnectOrOpTimeout) the connection is closed and every pending
//   request fails. So "no reply within N ms" means N ms without any reply while something waits.
// - Writes are buffered (encoder_buffer_): after a request is encoded, the buffer is written at
//   once when it holds at least max_buffer_size_before_flush bytes; otherwise, when the buffer was
//   empty before this request, flush_timer_ is started for buffer_flush_timeout
//   (makeRawRequest, flushBufferAndResetTimer).
import * as net from "node:net";
import { RespFramer, encodeCommand } from "./resp";
import { parseUint32Like } from "./stoul";

export interface RedisEndpoint {
  host: string;
  port: number;
  username: string;
  password: string;
  db: number;
}

export interface RedisTiming {
  /** The operation timeout (Config::opTimeout): the plugin's proxy_redis_init timeout. */
  opTimeoutMs: number;
  /**
   * Flush at once when this many bytes are buffered (Config::maxBufferSizeBeforeFlush): Higress's
   * AsyncClientConfig::max_buffer_size_before_flush_ (see higressRedisTiming); 0 flushes every
   * request at once (Envoy's redis_proxy ConnPoolSettings default).
   */
  maxBufferSizeBeforeFlush?: number;
  /** How long a partly filled buffer waits (Config::bufferFlushTimeoutInMs): Higress's buffer_flush_timeout_ (see higressRedisTiming). */
  bufferFlushTimeoutMs?: number;
  /**
   * The cluster's connect timeout (host->cluster().connectTimeout(), armed in the RawClientImpl
   * constructor until the connection is up). Envoy's Cluster.connect_timeout defaults to 5 s
   * (api/envoy/config/cluster/v3/cluster.proto).
   */
  connectTimeoutMs?: number;
}

/** Higress's values when the name gives none (envoy/redis/async_client.h, AsyncClientConfig): 1024 bytes, 3 ms. */
export const HIGRESS_MAX_BUFFER_SIZE_BEFORE_FLUSH = 1024;
export const HIGRESS_BUFFER_FLUSH_TIMEOUT_MS = 3;
const DEFAULT_CONNECT_TIMEOUT_MS = 5000;

/**
 * The Redis client's timing for a cluster the plugin initialised. Higress's redisInit
 * (higress-group/envoy source/extensions/common/wasm/context.cc, Context::redisInit) builds
 * Redis::AsyncClientConfig(username, password, timeout_milliseconds, parseQueryString(cluster)):
 * the op timeout is the plugin's timeout, and the query's parameters go to params_ (`db` is read by
 * RawClientImpl::initialize). What the buffer options become depends on the release:
 * - envoy-1.36 (Higress 2.2; `options` given): AsyncClientConfig reads `max_buffer_size_before_flush`
 *   and `buffer_flush_timeout` from params_ (parseUint32FromParams: std::stoul, the default 1024 / 3
 *   when absent, unparsable or above 32 bits; envoy/redis/async_client.h at johnlanni/envoy
 *   3fe314c698, the commit Higress v2.1.9 pins, alibaba/higress PR 3126);
 * - envoy-1.27 as in the e9302f5574 snapshot (`options` null): fixed at 1024 bytes and 3 ms
 *   (envoy/redis/async_client.h there), whatever the name says.
 * ConfigImpl(const AsyncClientConfig&) copies them to the client (source/common/redis/async_client_impl.h).
 */
export function higressRedisTiming(opTimeoutMs: number, options: Record<string, string> | null = null): RedisTiming {
  const read = (key: string, fallback: number) => {
    const value = options?.[key];
    return value === undefined ? fallback : parseUint32Like(value) ?? fallback;
  };
  return {
    opTimeoutMs,
    maxBufferSizeBeforeFlush: read("max_buffer_size_before_flush", HIGRESS_MAX_BUFFER_SIZE_BEFORE_FLUSH),
    bufferFlushTimeoutMs: read("buffer_flush_timeout", HIGRESS_BUFFER_FLUSH_TIMEOUT_MS),
  };
}

/** ok: the raw reply bytes; failed: the reason, for records. */
export type RedisOutcome = { ok: true; reply: Buffer } | { ok: false; reason: string };

interface Waiting {
  /** Set for the AUTH/SELECT the connection sends itself; their replies are only noted. */
  setup?: string;
  settle(outcome: RedisOutcome): void;
}

export class RedisConnection {
  private readonly socket: net.Socket;
  private readonly framer = new RespFramer();
  /** pending_requests_: every request written or buffered and not yet answered, setup ones included. */
  private readonly waiting: Waiting[] = [];
  private dead = false;
  /** connected_: set on the connect event (RawClientImpl::onEvent, Connected). */
  private connected = false;
  private readonly opTimeoutMs: number;
  private readonly maxBufferSizeBeforeFlush: number;
  private readonly bufferFlushTimeoutMs: number;
  private readonly connectTimeoutMs: number;
  /** connect_or_op_timer_, and the duration it was last armed with (for refresh and the reason). */
  private timer: NodeJS.Timeout | null = null;
  private timerMs = 0;
  /** encoder_buffer_ and its length. */
  private buffer: Buffer[] = [];
  private buffered = 0;
  /** flush_timer_. */
  private flushTimer: NodeJS.Timeout | null = null;

  constructor(
    endpoint: RedisEndpoint,
    timing: RedisTiming,
    /** Called once when the connection dies, so the owner can forget it. */
    private readonly onDead: (reason: string) => void,
    /** Notes about the setup commands (e.g. a refused AUTH), for the records. */
    private readonly onNote: (note: string) => void,
  ) {
    this.opTimeoutMs = timing.opTimeoutMs;
    this.maxBufferSizeBeforeFlush = timing.maxBufferSizeBeforeFlush ?? HIGRESS_MAX_BUFFER_SIZE_BEFORE_FLUSH;
    this.bufferFlushTimeoutMs = timing.bufferFlushTimeoutMs ?? HIGRESS_BUFFER_FLUSH_TIMEOUT_MS;
    this.connectTimeoutMs = timing.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    // RawClientImpl::create: connect, noDelay(true).
    this.socket = net.createConnection({ host: endpoint.host, port: endpoint.port });
    this.socket.setNoDelay(true);
    this.socket.on("connect", () => this.onConnected());
    this.socket.on("data", (chunk) => this.onData(chunk));
    this.socket.on("error", (err) => this.fail(`connection error: ${err.message}`));
    this.socket.on("end", () => this.fail("connection closed by server"));
    this.socket.on("close", () => this.fail("connection closed"));
    // RawClientImpl constructor: connect_or_op_timer_->enableTimer(connectTimeout()).
    this.armTimer(this.connectTimeoutMs);
    // RawClientImpl::initialize (called by RawClientFactoryImpl::create before any command): AUTH
    // with the username when there is one, else with the password alone; SELECT when the cluster
    // name's query has `db` (params.find("db")). Both are makeRawRequest calls, so they are pending
    // requests like any other and their replies go to a do-nothing callback. (The READONLY it sends
    // for a non-primary read policy never applies: AsyncClientConfig leaves read_policy Primary.)
    if (endpoint.username !== "") this.sendSetup("AUTH", encodeCommand(["AUTH", endpoint.username, endpoint.password]));
    else if (endpoint.password !== "") this.sendSetup("AUTH", encodeCommand(["AUTH", endpoint.password]));
    if (endpoint.db !== 0) this.sendSetup("SELECT", encodeCommand(["SELECT", endpoint.db]));
  }

  get alive(): boolean {
    return !this.dead;
  }

  private sendSetup(name: string, query: Buffer): void {
    this.makeRequest(query, {
      setup: name,
      settle: (o) => {
        if (!o.ok) return;
        if (o.reply[0] === 0x2d /* '-' */) this.onNote(`${name} refused: ${o.reply.toString("utf8").trim()}`);
      },
    });
  }

  /** Sends one command; `settle` is called exactly once, asynchronously. */
  send(query: Buffer, settle: (outcome: RedisOutcome) => void): void {
    if (this.dead) {
      setImmediate(() => settle({ ok: false, reason: "connection is dead" }));
      return;
    }
    this.makeRequest(query, { settle });
  }

  /** RawClientImpl::makeRawRequest. */
  private makeRequest(query: Buffer, w: Waiting): void {
    const emptyBuffer = this.buffered === 0;
    this.waiting.push(w);
    this.buffer.push(query);
    this.buffered += query.length;
    // "If buffer is full, flush. If the buffer was empty before the request, start the timer."
    if (this.buffered >= this.maxBufferSizeBeforeFlush) this.flushBufferAndResetTimer();
    else if (emptyBuffer) this.flushTimer = setTimeout(() => this.flushBufferAndResetTimer(), this.bufferFlushTimeoutMs);
    // Only the first request of the pipeline starts the op timeout, and only once connected
    // (before that the connect timeout governs, and the connect event arms the op timeout).
    if (this.connected && this.waiting.length === 1) this.armTimer(this.opTimeoutMs);
  }

  /** RawClientImpl::flushBufferAndResetTimer: the whole buffer in one write. */
  private flushBufferAndResetTimer(): void {
    if (this.flushTimer !== null) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    if (this.dead || this.buffered === 0) return;
    const bytes = this.buffer.length === 1 ? this.buffer[0] : Buffer.concat(this.buffer, this.buffered);
    this.buffer = [];
    this.buffered = 0;
    // Before the connect completes Node queues the write, as Envoy's connection buffers it.
    this.socket.write(bytes);
  }

  /** connect_or_op_timer_->enableTimer(ms): restarts the one timer (refresh when the duration is the same). */
  private armTimer(ms: number): void {
    if (this.timer !== null && this.timerMs === ms) {
      this.timer.refresh();
      return;
    }
    if (this.timer !== null) clearTimeout(this.timer);
    this.timerMs = ms;
    this.timer = setTimeout(() => this.onConnectOrOpTimeout(), Math.max(0, ms));
  }

  private disableTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  /** RawClientImpl::onConnectOrOpTimeout: close the connection, failing everything pending. */
  private onConnectOrOpTimeout(): void {
    this.timer = null;
    this.fail(this.connected ? `no reply within ${this.timerMs} ms` : `no connection within ${this.timerMs} ms`);
  }

  /** RawClientImpl::onEvent(Connected): the op timeout replaces the connect timeout. */
  private onConnected(): void {
    if (this.dead) return;
    this.connected = true;
    // Envoy asserts a request is pending here (one is always made right after the client).
    if (this.waiting.length > 0) this.armTimer(this.opTimeoutMs);
    else this.disableTimer();
  }

  private onData(chunk: Buffer): void {
    let replies: Buffer[];
    try {
      replies = this.framer.push(chunk);
    } catch (err) {
      // RawClientImpl::onData: a protocol error closes the connection.
      this.fail(`unreadable reply: ${(err as Error).message}`);
      return;
    }
    for (const reply of replies) {
      if (this.dead) return;
      this.onRawResponse(reply);
    }
  }

  /** RawClientImpl::onRawResponse. */
  private onRawResponse(reply: Buffer): void {
    const w = this.waiting.shift();
    if (w === undefined) {
      this.fail("reply without a request");
      return;
    }
    // Popped before the callback, which may make another request or close the connection.
    w.settle({ ok: true, reply: Buffer.from(reply) });
    if (this.dead) return;
    // "If there are no remaining ops in the pipeline we need to disable the timer. Otherwise we
    // boost the timer since we are receiving responses and there are more to flush out."
    if (this.waiting.length === 0) this.disableTimer();
    else this.armTimer(this.opTimeoutMs);
  }

  private fail(reason: string): void {
    if (this.dead) return;
    this.dead = true;
    this.socket.destroy();
    this.disableTimer();
    if (this.flushTimer !== null) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    this.buffer = [];
    this.buffered = 0;
    for (const w of this.waiting.splice(0)) w.settle({ ok: false, reason });
    this.onDead(reason);
  }

  close(): void {
    this.fail("closed by host");
  }
}
