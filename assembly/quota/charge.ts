// Charging a consumer for what a model answer used: DECRBY prefix+consumer (input + output).
import { logError } from "../abi/log";
import { RedisCallback, RedisClient, RedisReply } from "../redis/client";

/** A charge is not tied to its stream: it must land even when the client is gone. */
class ChargeReply extends RedisCallback {
  constructor(public key: string, public amount: i64) { super(0); }

  onReply(reply: RedisReply): void {
    if (reply.isError()) logChargeLost(this.key, this.amount, reply.error);
  }
}

function logChargeLost(key: string, amount: i64, reason: string): void {
  logError("ai-quota: charge of " + amount.toString() + " tokens to " + key + " failed: " + reason);
}

export function charge(redis: RedisClient, key: string, amount: i64): void {
  if (amount <= 0) return;
  if (!redis.command(["DECRBY", key, amount.toString()], new ChargeReply(key, amount))) {
    logChargeLost(key, amount, "cannot connect to redis cluster");
  }
}
