// The plugin's root context: one per configuration, holding the parsed config and the store
// that all of its streams share.
import { HttpContext, RootContext } from "../abi/context";
import { logError, logInfo, logWarn } from "../abi/log";
import { pluginConfiguration, tickEvery } from "../abi/plugin";
import { retryPendingSettlements } from "./settlement";
import { BASE_TICK_MS, onTick as runDelayedCommands } from "../redis/retry";
import { Store } from "../store/store";
import { QuotaConfig, parseConfig } from "./config";
import { QuotaStream } from "./stream";

/** Opens the store a config names, or says why it cannot; each build's entry file provides one. */
export class StoreOpening {
  constructor(public store: Store | null, public error: string) {}
}
export type StoreFactory = (config: QuotaConfig) => StoreOpening;

let openStore: StoreFactory | null = null;

export function setStoreFactory(factory: StoreFactory): void {
  openStore = factory;
}

export class QuotaPlugin extends RootContext {
  config: QuotaConfig | null = null;
  store: Store | null = null;

  onConfigure(size: u32): bool {
    const result = parseConfig(pluginConfiguration(size));
    for (let i = 0; i < result.warnings.length; i++) logWarn("ai-quota: " + result.warnings[i]);
    const config = result.config;
    if (config === null) {
      logError("ai-quota: invalid config: " + result.error);
      return false;
    }
    const factory = openStore;
    if (factory === null) {
      logError("ai-quota: this build has no quota store");
      return false;
    }
    const opening = factory(config);
    const store = opening.store;
    if (store === null) {
      logError("ai-quota: invalid config: " + opening.error);
      return false;
    }
    this.config = config;
    this.store = store;
    logInfo("ai-quota: configured, " + store.describe());
    // The tick sends again the settlements Redis could not be reached for (and, faster while
    // there are any, commands a Redis Cluster answered TRYAGAIN: redis/retry.ts).
    tickEvery(BASE_TICK_MS);
    return true;
  }

  onTick(): void {
    if (runDelayedCommands()) retryPendingSettlements();
  }

  newHttpContext(id: u32): HttpContext | null {
    const config = this.config;
    const store = this.store;
    if (config === null || store === null) return null;
    return new QuotaStream(id, this, config, store);
  }

  onRedisCallResponse(calloutId: u32, status: u32, size: u32): void {
    const store = this.store;
    if (store !== null) store.onRedisCallResponse(calloutId, status, size);
  }

  onHttpCallResponse(calloutId: u32, numHeaders: u32, bodySize: u32, numTrailers: u32): void {
    const store = this.store;
    if (store !== null) store.onHttpCallResponse(calloutId, numHeaders, bodySize, numTrailers);
  }
}

export function newQuotaPlugin(id: u32): RootContext {
  return new QuotaPlugin(id);
}
