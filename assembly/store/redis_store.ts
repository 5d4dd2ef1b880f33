// The Higress build's store: Redis through Higress's proxy_redis_* host calls.
import { RedisClient } from "../redis/client";
import { QuotaConfig } from "../quota/config";
import { StoreOpening } from "../quota/plugin";

export function openRedisStore(config: QuotaConfig): StoreOpening {
  const client = new RedisClient(config.redis);
  // A failure here is not fatal: the client initialises again on first use.
  client.init();
  return new StoreOpening(client, "");
}
