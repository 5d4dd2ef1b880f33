// The Higress build's store: Redis through Higress's proxy_redis_* host calls (redis/client.ts).
// The client knows Redis and the host calls; this is the quota logic's face of it (store.ts).
import { RedisClient } from "../redis/client";
import { PendingCall } from "../redis/calls";
import { Store } from "./store";
import { StoreOpening, StoreSettings } from "./settings";

export class RedisStore extends Store {
  constructor(public client: RedisClient) { super(); }

  sendCall(call: PendingCall): bool {
    return this.client.sendCall(call);
  }

  describe(): string {
    return this.client.describe();
  }

  onRedisCallResponse(calloutId: u32, status: u32, size: u32): void {
    this.client.onRedisCallResponse(calloutId, status, size);
  }
}

export function openRedisStore(settings: StoreSettings): StoreOpening {
  const client = new RedisClient(settings.redis);
  // A failure here is not fatal: the client initialises again on first use.
  client.init();
  return new StoreOpening(new RedisStore(client), "");
}
