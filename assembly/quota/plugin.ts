// The plugin's root context: one per configuration. It holds the global config and the per-route
// rules (rules.ts), one store for each distinct store they name, and picks a stream's config and
// store when its request headers arrive.
import { HttpContext, RootContext } from "../abi/context";
import { logError, logInfo, logWarn } from "../abi/log";
import { pluginConfiguration, tickEvery } from "../abi/plugin";
import { requestHeader, streamProperty } from "../abi/stream";
import { retryPendingSettlements } from "./settlement";
import { Store } from "../store/store";
import { decodeUtf8 } from "../util/utf8";
import { QuotaConfig } from "./config";
import { QuotaRule, matchRule, parseRules } from "./rules";
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

/** A config and the store it uses: what a stream is given when its request arrives. */
export class QuotaBinding {
  constructor(public config: QuotaConfig, public store: Store) {}
}

export class QuotaPlugin extends RootContext {
  /** For requests no rule matches; null: they pass untouched. */
  global: QuotaBinding | null = null;
  /** `_rules_` in order, and each one's binding at the same index. */
  rules: Array<QuotaRule> = new Array<QuotaRule>();
  bindings: Array<QuotaBinding> = new Array<QuotaBinding>();
  /** Every distinct store, each once (callout replies are offered to each; only the owner acts). */
  stores: Array<Store> = new Array<Store>();
  private storeKeys: Array<string> = new Array<string>();
  private needsRoute: bool = false;
  private needsCluster: bool = false;
  private needsAuthority: bool = false;
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
      this.global = binding;
    }
    this.rules = result.rules;
    this.bindings = bindings;
    this.needsRoute = result.needsRouteName();
    this.needsCluster = result.needsClusterName();
    this.needsAuthority = result.needsAuthority();
    this.configured = true;
    logInfo("ai-quota: configured, " + this.describe());
    // The tick sends again the settlements Redis could not be reached for.
    tickEvery(1000);
    return true;
  }

  /** The config and store for `config`, sharing a store already open for the same endpoint. */
  private bind(config: QuotaConfig, where: string): QuotaBinding | null {
    const key = storeKey(config);
    const i = this.storeKeys.indexOf(key);
    if (i >= 0) return new QuotaBinding(config, this.stores[i]);
    const opening = openStore!(config);
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
    let s = this.rules.length == 0 ? "" : this.rules.length.toString() + " route rule(s), ";
    s += this.global === null ? "no global config, " : "";
    for (let i = 0; i < this.stores.length; i++) s += (i > 0 ? "; " : "") + this.stores[i].describe();
    return s;
  }

  /**
   * The binding for the stream whose request headers are being handled: the first rule it matches
   * (wasm-go's GetMatchConfig), else the global config, else null. The route, cluster and
   * :authority cost a host call each, so only what some rule looks at is read.
   */
  bindingForRequest(): QuotaBinding | null {
    const rules = this.rules;
    if (rules.length == 0) return this.global;
    const route = this.needsRoute ? propertyText("route_name") : "";
    const cluster = this.needsCluster ? propertyText("cluster_name") : "";
    let authority = "";
    if (this.needsAuthority) {
      const h = requestHeader(":authority");
      if (h !== null) authority = h;
    }
    const i = matchRule(rules, route, cluster, authority);
    return i >= 0 ? this.bindings[i] : this.global;
  }

  onTick(): void {
    retryPendingSettlements();
  }

  newHttpContext(id: u32): HttpContext | null {
    if (!this.configured) return null;
    return new QuotaStream(id, this);
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

/** What makes two stores the same: the endpoint and everything sent with each command. */
function storeKey(c: QuotaConfig): string {
  const h = c.httpStore;
  if (h !== null) return "http\n" + h.cluster + "\n" + h.path + "\n" + h.authority + "\n" + h.token + "\n" + h.timeoutMs.toString();
  const r = c.redis;
  return "redis\n" + r.clusterName() + "\n" + r.username + "\n" + r.password + "\n" + r.timeoutMs.toString();
}

/** A string property of the stream; "" when the host has none. */
function propertyText(name: string): string {
  const v = streamProperty([name]);
  return v === null ? "" : decodeUtf8(v.dataStart, v.length);
}

export function newQuotaPlugin(id: u32): RootContext {
  return new QuotaPlugin(id);
}
