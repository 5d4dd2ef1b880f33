// Higress's Redis host calls, wrapped like the others in hostcalls.ts.
import { proxy_redis_call, proxy_redis_init } from "./redis_imports";
import { BufferType, Status } from "./types";
import { RETURN_PTR } from "./memory";
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
  const c = String.UTF8.encode(cluster);
  store<u32>(RETURN_PTR, 0);
  const st = proxy_redis_call(changetype<usize>(c), <usize>c.byteLength, changetype<usize>(query), <usize>query.byteLength, RETURN_PTR);
  return new CalloutResult(<Status>st, load<u32>(RETURN_PTR));
}

/** The reply of the Redis callout being delivered; at most maxSize bytes are read. */
export function redisReply(size: u32): ArrayBuffer | null {
  return getBufferBytes(BufferType.RedisCallResponse, 0, size);
}
