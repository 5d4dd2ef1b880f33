// Higress's Redis callback, exported only by the build that imports the Redis host calls.
import * as d from "./dispatcher";
import { enter, leave } from "./gc";

export function proxy_on_redis_call_response(rootContextId: u32, calloutId: u32, status: u32, responseSize: u32): void {
  enter();
  const root = d.rootContext(rootContextId);
  if (root !== null) root.onRedisCallResponse(calloutId, status, responseSize);
  leave();
}
