// The plugin's root context: one per configuration, holding the parsed config and the store
// that all of its streams share.
import { HttpContext, RootContext } from "../abi/context";
import { logError, logInfo, logWarn } from "../abi/log";
import { pluginConfiguration, tickEvery } from "../abi/plugin";
import { retryPendingSettlements } from "./settlement";
import { ADMIT_SCRIPT, SETTLE_SCRIPT, WINDOW_ADMIT_SCRIPT } from "./scripts";
import { StoreCallback } from "../store/store";
import { Store } from "../store/store";
import { QuotaConfig, ReservationMode, parseConfig } from "./config";
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
    // The tick sends again the settlements Redis could not be reached for.
    tickEvery(1000);
    preloadScripts(store, config);
    return true;
  }

  onTick(): void {
    retryPendingSettlements();
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

/**
 * Loads the scripts into Redis's cache now, so that the first admission and settlement are one
 * EVALSHA each, sent in order with the commands around them (a NOSCRIPT would add a round trip
 * and let a later command overtake). Best effort: the NOSCRIPT fallback still covers a restart.
 */
function preloadScripts(store: Store, c: QuotaConfig): void {
  const ignore = new StoreCallback(0);
  const windows = c.limits.length > 0 || c.anonymousLimits !== null;
  // Only what this config uses: with Higress's settings the wire stays GET and DECRBY alone.
  if (c.settlementRetrySeconds > 0 || windows) store.command(["SCRIPT", "LOAD", SETTLE_SCRIPT], ignore);
  if (c.policy.reservation != ReservationMode.None || c.policy.requireFullReservation) store.command(["SCRIPT", "LOAD", ADMIT_SCRIPT], ignore);
  if (windows) store.command(["SCRIPT", "LOAD", WINDOW_ADMIT_SCRIPT], ignore);
}
