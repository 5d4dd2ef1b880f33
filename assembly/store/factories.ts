// Store factories for the Higress build, which has both Redis host calls and proxy_http_call:
// `store.type: http` opens the HTTP store, anything else Redis through Higress's host calls.
// The plain-Envoy build (index_envoy.ts) must not import this file: it pulls in the Redis imports.
import { openHttpStore } from "./http_store";
import { openRedisStore } from "./redis_store";
import { StoreOpening, StoreSettings } from "./settings";

export function openHigressStore(settings: StoreSettings): StoreOpening {
  return settings.http !== null ? openHttpStore(settings) : openRedisStore(settings);
}
