// Which config and store a request is metered by: the per-route rules (rules.ts) in order, each
// with its binding, and the global config for requests no rule matches. The root context fills
// it at configure time; each stream is given it and asks it once, when its request headers arrive.
import { requestHeader, streamProperty } from "../abi/stream";
import { Store } from "../store/store";
import { decodeUtf8 } from "../util/utf8";
import { QuotaConfig } from "./config";
import { QuotaRule, matchRule } from "./rules";

/** A config and the store it uses: what a stream is given when its request arrives. */
export class QuotaBinding {
  constructor(public config: QuotaConfig, public store: Store) {}
}

export class RuleBook {
  /** For requests no rule matches; null: they pass untouched. */
  global: QuotaBinding | null = null;
  /** `_rules_` in order, and each one's binding at the same index. */
  rules: Array<QuotaRule> = new Array<QuotaRule>();
  bindings: Array<QuotaBinding> = new Array<QuotaBinding>();
  needsRoute: bool = false;
  needsCluster: bool = false;
  needsAuthority: bool = false;

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
}

/** A string property of the stream; "" when the host has none. */
function propertyText(name: string): string {
  const v = streamProperty([name]);
  return v === null ? "" : decodeUtf8(v.dataStart, v.length);
}
