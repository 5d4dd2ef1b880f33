// What a store is opened from, as a config states it, and what opening one gives. The quota config
// (quota/config.ts) reads these keys; the stores depend on nothing above store/.
import { RedisEndpoint } from "../redis/endpoint";
import { Store } from "./store";

/** `store: {type: http, …}`: an Upstash-compatible Redis REST endpoint behind an Envoy cluster. */
export class HttpStoreSettings {
  constructor(
    public cluster: string,
    public path: string,
    public authority: string,
    public token: string,
    public timeoutMs: u32,
  ) {}
}

/** Where a config's balances live: Higress's `redis` block, or the HTTP store that replaces it. */
export class StoreSettings {
  redis: RedisEndpoint = new RedisEndpoint("", 6379, "", "", 1000, 0);
  /** Set when `store.type` is http; then `redis` is not used. */
  http: HttpStoreSettings | null = null;

  /** What makes two stores the same: the endpoint and everything sent with each command. */
  key(): string {
    const h = this.http;
    if (h !== null) return "http\n" + h.cluster + "\n" + h.path + "\n" + h.authority + "\n" + h.token + "\n" + h.timeoutMs.toString();
    const r = this.redis;
    return "redis\n" + r.clusterName() + "\n" + r.username + "\n" + r.password + "\n" + r.timeoutMs.toString();
  }
}

/** Opens the store a config names, or says why it cannot; each build's entry file provides one. */
export class StoreOpening {
  constructor(public store: Store | null, public error: string) {}
}
export type StoreFactory = (settings: StoreSettings) => StoreOpening;
