// The plugin's root context: one per configuration. It parses the config into a rule book
// (rule_book.ts: the per-route rules and the global config, each bound to its store), opens one
// store for each distinct store they name, and gives each stream the book.
import { HttpContext, RootContext } from "../abi/context";
import { logError, logInfo, logWarn } from "../abi/log";
import { pluginConfiguration, tickEvery } from "../abi/plugin";
import { retryPendingSettlements } from "./settlement";
import { BASE_TICK_MS, onTick as runDelayedCommands } from "../redis/retry";
import { Store } from "../store/store";
import { StoreFactory } from "../store/settings";
import { QuotaConfig } from "./config";
import { parseRules } from "./rules";
import { QuotaBinding, RuleBook } from "./rule_book";
import { QuotaStream } from "./stream";

let openStore: StoreFactory | null = null;

export function setStoreFactory(factory: StoreFactory): void {
  openStore = factory;
}

export class QuotaPlugin extends RootContext {
  /** The rules and global config streams are bound by (rule_book.ts). */
  book: RuleBook = new RuleBook();
  /** Every distinct store, each once (callout replies are offered to each; only the owner acts). */
  stores: Array<Store> = new Array<Store>();
  private storeKeys: Array<string> = new Array<string>();
  configured: bool = false;

  onConfigure(size: u32): bool {
    const result = parseRules(pluginConfiguration(size));
    for (let i = 0; i < result.warnings.length; i++) logWarn("ai-quota: " + result.warnings[i]);
    if (result.error.length > 0) {
      logError("ai-quota: invalid config: " + result.error);
      return false;
    }
    if (openStore === null) {
      logError("ai-quota: this build has no quota store");
      return false;
    }
    const bindings = new Array<QuotaBinding>();
    for (let i = 0; i < result.rules.length; i++) {
      const binding = this.bind(result.rules[i].config, "_rules_[" + i.toString() + "]: ");
      if (binding === null) return false;
      bindings.push(binding);
    }
    const global = result.global;
    if (global !== null) {
      const binding = this.bind(global, "");
      if (binding === null) return false;
      this.book.global = binding;
    }
    const book = this.book;
    book.rules = result.rules;
    book.bindings = bindings;
    book.needsRoute = result.needsRouteName();
    book.needsCluster = result.needsClusterName();
    book.needsAuthority = result.needsAuthority();
    this.configured = true;
    logInfo("ai-quota: configured, " + this.describe());
    // The tick sends again the settlements Redis could not be reached for (and, faster while
    // there are any, commands a Redis Cluster answered TRYAGAIN: redis/retry.ts).
    tickEvery(BASE_TICK_MS);
    return true;
  }

  /** The config and store for `config`, sharing a store already open for the same endpoint. */
  private bind(config: QuotaConfig, where: string): QuotaBinding | null {
    const key = config.store.key();
    const i = this.storeKeys.indexOf(key);
    if (i >= 0) return new QuotaBinding(config, this.stores[i]);
    const opening = openStore!(config.store);
    const store = opening.store;
    if (store === null) {
      logError("ai-quota: invalid config: " + where + opening.error);
      return null;
    }
    this.storeKeys.push(key);
    this.stores.push(store);
    return new QuotaBinding(config, store);
  }

  private describe(): string {
    const book = this.book;
    let s = book.rules.length == 0 ? "" : book.rules.length.toString() + " route rule(s), ";
    s += book.global === null ? "no global config, " : "";
    for (let i = 0; i < this.stores.length; i++) s += (i > 0 ? "; " : "") + this.stores[i].describe();
    return s;
  }

  onTick(): void {
    if (runDelayedCommands()) retryPendingSettlements();
  }

  newHttpContext(id: u32): HttpContext | null {
    if (!this.configured) return null;
    return new QuotaStream(id, this, this.book);
  }

  onRedisCallResponse(calloutId: u32, status: u32, size: u32): void {
    const stores = this.stores;
    for (let i = 0; i < stores.length; i++) stores[i].onRedisCallResponse(calloutId, status, size);
  }

  onHttpCallResponse(calloutId: u32, numHeaders: u32, bodySize: u32, numTrailers: u32): void {
    const stores = this.stores;
    for (let i = 0; i < stores.length; i++) stores[i].onHttpCallResponse(calloutId, numHeaders, bodySize, numTrailers);
  }
}

export function newQuotaPlugin(id: u32): RootContext {
  return new QuotaPlugin(id);
}
