// A Redis client over Higress's host calls: builds the cluster name the way Higress's wrapper
// does, sends RESP commands, and runs each reply's continuation in the stream it belongs to.
// Its calls are redis/calls.ts's, whose reply handling (the NOSCRIPT fallback) both stores share.
// A command answered TRYAGAIN (a Redis Cluster moving its slot) is sent again a little later,
// as cluster clients do, while the waits add up to less than `redis.timeout` (see retry.ts).
import { Status } from "../abi/types";
import { logError, logWarn } from "../abi/log";
import { lastCalloutId, readRedisReply, redisInit, redisSend, replyBlock } from "../abi/redis_hostcalls";
import { hostBlockBytes } from "../abi/memory";
import { RespType, decodeError, decodeReplyAt } from "./resp";
import { REDIS_UNREACHABLE, StoreReply, deliver } from "./reply";
import { CallSender, PendingCall, answerCall } from "./calls";
import { RedisEndpoint } from "./endpoint";
import { Delayed, FAST_TICK_MS, delayTicks, runLater } from "./retry";
import { isTryAgain } from "./errors";
import { count, metrics } from "../metrics/metrics";

/** Replies larger than this are refused: a quota plugin never needs more. */
const MAX_REPLY_BYTES: u32 = 64 * 1024;

/** A command answered TRYAGAIN, sent again from the tick. */
class SendAgain extends Delayed {
  constructor(public client: RedisClient, public call: PendingCall) { super(); }
  run(): void {
    this.client.sendAgain(this.call);
  }
}

export class RedisClient extends CallSender {
  readonly cluster: string;
  /** The cluster name's bytes, made once (every command names it). */
  private clusterBytes: ArrayBuffer = new ArrayBuffer(0);
  private ready: bool = false;
  private pending: Map<u32, PendingCall> = new Map<u32, PendingCall>();

  constructor(public endpoint: RedisEndpoint) {
    super();
    this.cluster = endpoint.clusterName();
    this.clusterBytes = String.UTF8.encode(this.cluster);
  }

  describe(): string {
    return "redis cluster " + this.cluster;
  }

  /** Initialises the host's client. A failure is not fatal: the next command tries again. */
  init(): bool {
    const e = this.endpoint;
    const st = redisInit(this.cluster, e.username, e.password, e.timeoutMs);
    this.ready = st == Status.Ok;
    if (!this.ready) logWarn("ai-quota: redis init failed for " + this.cluster + " (status " + (<i32>st).toString() + "), will retry on use");
    return this.ready;
  }

  /** Sends a call's RESP-encoded command; false when it could not be sent (then the callback never runs). */
  sendCall(call: PendingCall): bool {
    if (!this.ready && !this.init()) return false;
    const st = redisSend(this.clusterBytes, call.query);
    if (st != Status.Ok) {
      logError("ai-quota: redis call to " + this.cluster + " could not be sent (status " + (<i32>st).toString() + ")");
      return false;
    }
    this.pending.set(lastCalloutId(), call);
    return true;
  }

  /** From the tick: the command waited after a TRYAGAIN; a send that fails is its answer. */
  sendAgain(call: PendingCall): void {
    count(metrics().redisTryAgain);
    if (!this.sendCall(call)) deliver(call.callback, new StoreReply(null, REDIS_UNREACHABLE));
  }

  /** Queues a TRYAGAIN'd command to be sent again; false when its time (redis.timeout) is up. */
  private tryAgainLater(call: PendingCall): bool {
    const ticks = delayTicks(call.tries + 1);
    const waited = call.waitedMs + <u32>ticks * FAST_TICK_MS;
    if (waited >= this.endpoint.timeoutMs) return false;
    if (!runLater(new SendAgain(this, call), ticks)) return false;
    call.tries++;
    call.waitedMs = waited;
    return true;
  }

  /** Called by the root context for every `proxy_on_redis_call_response`. */
  onRedisCallResponse(calloutId: u32, status: u32, size: u32): void {
    if (!this.pending.has(calloutId)) return;
    const call = this.pending.get(calloutId);
    this.pending.delete(calloutId);
    const reply = readReply(status, size);
    if (reply.isError() && !call.retried && reply.error.includes("NOAUTH")) {
      // Redis restarted with a password, or the host's connection lost its AUTH: authenticate once more.
      logWarn("ai-quota: redis answered NOAUTH, re-authenticating and retrying once");
      this.ready = false;
      if (this.sendCall(new PendingCall(call.query, call.callback, true, call.script))) return;
    }
    if (isTryAgain(reply) && this.tryAgainLater(call)) return;
    answerCall(this, call, reply);
  }
}

function readReply(status: u32, size: u32): StoreReply {
  if (status != 0) return new StoreReply(null, REDIS_UNREACHABLE);
  if (size > MAX_REPLY_BYTES) return new StoreReply(null, "redis reply too large");
  if (!readRedisReply(size)) return new StoreReply(null, "cannot get redis response");
  // Decoded where the host wrote it.
  const block = replyBlock;
  const value = decodeReplyAt(block, block == 0 ? 0 : hostBlockBytes());
  if (block != 0) heap.free(block);
  if (value === null) return new StoreReply(null, "cannot read redis response: " + decodeError);
  // An error reply is an error even when Redis sends no text ("-\r\n").
  if (value.type == RespType.Error) return new StoreReply(value, value.text.length > 0 ? value.text : "ERR (empty error reply)");
  return new StoreReply(value, "");
}
