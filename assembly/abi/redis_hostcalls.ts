// Higress's Redis host calls, wrapped like the others in hostcalls.ts.
import { proxy_redis_call, proxy_redis_init } from "./redis_imports";
import { BufferType, Status } from "./types";
import { RETURN_PTR, RETURN_SIZE, takeHostBlock } from "./memory";
import * as raw from "./imports";
import { CalloutResult, getBufferBytes } from "./hostcalls";

export function redisInit(cluster: string, username: string, password: string, timeoutMs: u32): Status {
  const c = String.UTF8.encode(cluster);
  const u = String.UTF8.encode(username);
  const p = String.UTF8.encode(password);
  return <Status>proxy_redis_init(
    changetype<usize>(c), <usize>c.byteLength,
    changetype<usize>(u), <usize>u.byteLength,
    changetype<usize>(p), <usize>p.byteLength,
    timeoutMs,
  );
}

/** Sends one RESP-encoded command; the reply arrives through proxy_on_redis_call_response. */
export function redisCall(cluster: string, query: ArrayBuffer): CalloutResult {
  const st = redisSend(String.UTF8.encode(cluster), query);
  return new CalloutResult(st, lastCalloutId());
}

/** redisCall with the cluster name's bytes made once, and no result object: the id is lastCalloutId(). */
export function redisSend(cluster: ArrayBuffer, query: ArrayBuffer): Status {
  store<u32>(RETURN_PTR, 0);
  return <Status>proxy_redis_call(changetype<usize>(cluster), <usize>cluster.byteLength, changetype<usize>(query), <usize>query.byteLength, RETURN_PTR);
}

export function lastCalloutId(): u32 {
  return load<u32>(RETURN_PTR);
}

/** The reply of the Redis callout being delivered; at most maxSize bytes are read. */
export function redisReply(size: u32): ArrayBuffer | null {
  return getBufferBytes(BufferType.RedisCallResponse, 0, size);
}

/**
 * The same, to be read in place: false when the host refused; else the reply is in the host block
 * replyBlock (0 when empty; free it with heap.free), its size hostBlockBytes().
 */
export function readRedisReply(size: u32): bool {
  store<u32>(RETURN_PTR, 0);
  store<u32>(RETURN_SIZE, 0);
  replyBlock = 0;
  if (raw.proxy_get_buffer_bytes(BufferType.RedisCallResponse, 0, size, RETURN_PTR, RETURN_SIZE) != Status.Ok) return false;
  replyBlock = takeHostBlock();
  return true;
}

export let replyBlock: usize = 0;
