// The plugin configuration: Higress ai-quota's keys with its defaults, validated strictly.
// Every error names the field and what is wrong with it, because that line is all an operator sees
// when the plugin refuses to start.
import { JsonType, JsonValue, parseJson } from "../json/parser";
import { RedisEndpoint } from "../redis/endpoint";
import { HttpStoreSettings, StoreSettings } from "../store/settings";
import { parseInt64Strict } from "../util/int64";
import { asciiLower } from "../util/text";
import { DEFAULT_RESERVATION_CAP, RESERVATION_LIMIT } from "./estimate";
import { Routes, parseRoutes } from "./routes";
import { Weights, parseWeights } from "./weights";
import { Limit, parseLimits } from "./windows";
import { prefixProblem } from "./keys";
import { Tiers, parseTiers } from "./tiers";
import { OtherPaths, parseOtherPaths } from "./other_paths";
import { SpendHistory, parseSpendHistory } from "./spend_history";

export enum ReservationMode {
  /** Higress: check the balance, charge after the answer. */
  None,
  /** Reserve a fixed number of tokens at admission. */
  Fixed,
  /** Reserve the request's max_tokens plus an estimate of its prompt. */
  MaxTokens,
}

/** Opt-in behaviour beyond Higress's; every default is Higress's. */
export class Policy {
  reservation: ReservationMode = ReservationMode.None;
  /** Fixed: the reservation. MaxTokens: the output tokens assumed when the request names none. */
  reservationTokens: i64 = 0;
  /** Deny when the balance is below the reservation, not only when it is <= 0. */
  requireFullReservation: bool = false;
  /** The most any reservation may be (`reservation.cap`); what an unreadable body reserves in max_tokens mode. */
  reservationCap: i64 = DEFAULT_RESERVATION_CAP;
  /** A stream that ends without usage gives its reservation back (else the reservation is the charge). */
  releaseIncomplete: bool = true;
  /** Admit requests when Redis fails on the request path (Higress denies). */
  allowOnRedisFailure: bool = false;
  /** Response header carrying the balance after admission; "" when off. */
  remainingHeader: string = "";
  /** What an answer that reports no usage (or a cut one) costs. */
  missingUsage: MissingUsage = MissingUsage.Estimate;
  /** Add stream_options.include_usage to OpenAI streaming requests that did not ask for usage. */
  injectStreamUsage: bool = true;
  /** Responses API `background: true`: refused, or admitted and charged an estimate. */
  allowBackground: bool = false;
  /** The most request body the plugin holds where it must read all of it first (413 above); 0: the host's default. */
  maxRequestBodyBytes: u32 = 0;
  /** The least input an estimated stateful Responses request (previous_response_id, conversation) is charged. */
  statefulInputTokens: i64 = DEFAULT_STATEFUL_INPUT_TOKENS;
  /** Evaluate the balance and windows, count and log what they would refuse, and admit it anyway. */
  shadow: bool = false;
}

/** `stateful_input_tokens` when not configured (see docs/metering.md, "Stateful requests"). */
export const DEFAULT_STATEFUL_INPUT_TOKENS: i64 = 8192;

export enum MissingUsage {
  /** The usage seen plus an estimate of what was not reported (never below what was reported). */
  Estimate,
  /** The reservation is the charge (with no reservation: what was reported, else nothing). */
  Reservation,
  /** Higress: what was reported, else nothing. */
  None,
}

export class QuotaConfig {
  adminConsumer: string = "";
  adminPath: string = "/quota";
  redisKeyPrefix: string = "chat_quota:";
  /** Where the balances live: the `redis` block, or `store` (store/settings.ts). */
  store: StoreSettings = new StoreSettings();
  policy: Policy = new Policy();
  /** The metered path suffixes and the admin paths (routes.ts); set by parseConfig. */
  routes: Routes = new Routes();
  weights: Weights = new Weights();
  /** Windowed limits for consumers, and for anonymous clients (null: Higress's 401 stays). */
  limits: Array<Limit> = new Array<Limit>();
  anonymousLimits: Array<Limit> | null = null;
  /** Named tiers of limits and who is in which (tiers.ts); empty: everyone has `limits`. */
  tiers: Tiers = new Tiers();
  /**
   * Whether `x-mse-consumer` names the caller: always without `anonymous` (Higress); with it only
   * when the operator declares an auth stage that sets or strips the header.
   */
  trustConsumerHeader: bool = true;
  /** Proxies in front of Envoy whose x-forwarded-for entries are trusted (0: the peer address). */
  xffNumTrustedHops: i32 = 0;
  /** Whether the Higress balance key is checked and charged (false: windows only). */
  useBalance: bool = true;
  /** How a spent balance is refused: Higress's 403 text, or a status with an OpenAI-style JSON error. */
  noQuotaStatus: u32 = 403;
  noQuotaJson: bool = false;
  /** How long a settlement Redis could not be reached for is retried (0: once, Higress's commands). */
  settlementRetrySeconds: i32 = 300;
  /** What a request to a path that is neither metered nor admin gets (other_paths.ts). */
  otherPaths: OtherPaths = new OtherPaths();
  /** Spend per model and day, written by the settlement (spend_history.ts); null: off. */
  spendHistory: SpendHistory | null = null;

  /** Whether the request's and the answer's model are read: for weights, or for the spend history. */
  wantsModel(): bool {
    return !this.weights.isIdentity() || this.spendHistory !== null;
  }
}

export class ConfigResult {
  constructor(public config: QuotaConfig | null, public error: string, public warnings: Array<string>) {}
}

const TOP_LEVEL_KEYS: Array<string> = [
  "admin_consumer", "admin_path", "redis_key_prefix", "redis",
  "reservation", "on_incomplete", "redis_failure", "remaining_header", "enable_path_suffixes", "paths", "weights", "store",
  "limits", "anonymous", "balance", "balance_rejection", "settlement_retry_seconds",
  "missing_usage", "stream_usage", "responses_background", "max_request_body_bytes", "stateful_input_tokens",
  "tiers", "consumers", "default_tier", "tier_header", "other_paths", "shadow",
  "spend_history",
];
const STORE_KEYS: Array<string> = ["type", "cluster", "path", "authority", "token", "timeout"];
const RESERVATION_KEYS: Array<string> = ["mode", "tokens", "require_full", "cap"];
const DEFAULT_REMAINING_HEADER = "x-ai-quota-remaining";
const REDIS_KEYS: Array<string> = ["service_name", "service_port", "username", "password", "timeout", "database"];

/** Reads the fields of one JSON object, remembering the first error. */
class FieldReader {
  error: string = "";
  constructor(public obj: JsonValue, public prefix: string) {}

  private fail(key: string, what: string): void {
    if (this.error.length == 0) this.error = this.prefix + key + " " + what;
  }

  /** A string field; "" when absent or null. */
  str(key: string): string {
    const v = this.obj.get(key);
    if (v === null || v.type == JsonType.Null) return "";
    if (v.type != JsonType.String) {
      this.fail(key, "must be a string");
      return "";
    }
    return v.stringValue;
  }

  /**
   * An integer field in [min, max]; `absent` when missing or null. Higress reads numbers leniently,
   * so an integer written as a string ("6379") is accepted too; anything else is an error.
   */
  int(key: string, min: i64, max: i64, absent: i64): i64 {
    const v = this.obj.get(key);
    if (v === null || v.type == JsonType.Null) return absent;
    let ok = false;
    let n: i64 = 0;
    if (v.type == JsonType.Number && v.isInteger()) {
      ok = true;
      n = v.asI64();
    } else if (v.type == JsonType.String) {
      const p = parseInt64Strict(v.stringValue);
      ok = p.ok;
      n = p.value;
    }
    if (!ok) {
      this.fail(key, "must be an integer");
      return absent;
    }
    if (n < min || n > max) {
      this.fail(key, "must be between " + min.toString() + " and " + max.toString() + ", got " + n.toString());
      return absent;
    }
    return n;
  }

  bool(key: string, absent: bool): bool {
    const v = this.obj.get(key);
    if (v === null || v.type == JsonType.Null) return absent;
    if (v.type != JsonType.Bool) {
      this.fail(key, "must be true or false");
      return absent;
    }
    return v.boolValue;
  }

  /** A string field that must be one of `choices`; `absent` when missing. */
  choice(key: string, choices: Array<string>, absent: string): string {
    const v = this.obj.get(key);
    if (v === null || v.type == JsonType.Null) return absent;
    if (v.type != JsonType.String || !choices.includes(v.stringValue)) {
      this.fail(key, "must be one of " + choices.join(", "));
      return absent;
    }
    return v.stringValue;
  }

  unknownKeys(known: Array<string>, warnings: Array<string>): void {
    const keys = this.obj.keys;
    for (let i = 0; i < keys.length; i++) {
      if (!known.includes(keys[i])) warnings.push("unknown config key " + this.prefix + keys[i] + " is ignored");
    }
  }
}

export function parseConfig(data: Uint8Array): ConfigResult {
  const warnings = new Array<string>();
  const parsed = parseJson(data);
  const root = parsed.value;
  if (root === null) return new ConfigResult(null, "config is not valid JSON: " + parsed.error, warnings);
  if (root.type != JsonType.Object) return new ConfigResult(null, "config must be a JSON object", warnings);

  const c = new QuotaConfig();
  const top = new FieldReader(root, "");
  c.adminConsumer = top.str("admin_consumer");
  const adminPath = top.str("admin_path");
  if (adminPath.length > 0) c.adminPath = adminPath;
  const prefix = top.str("redis_key_prefix");
  if (prefix.length > 0) c.redisKeyPrefix = prefix;
  if (top.error.length > 0) return new ConfigResult(null, top.error, warnings);
  const prefixError = prefixProblem(c.redisKeyPrefix);
  if (prefixError.length > 0) return new ConfigResult(null, prefixError, warnings);
  if (c.adminConsumer.length == 0) return new ConfigResult(null, "admin_consumer is required", warnings);
  top.unknownKeys(TOP_LEVEL_KEYS, warnings);

  const storeError = readStore(root, c, warnings);
  if (storeError.length > 0) return new ConfigResult(null, storeError, warnings);
  const redisValue = root.get("redis");
  if (c.store.http !== null && (redisValue === null || redisValue.type == JsonType.Null)) return finish(root, top, c, warnings);
  if (redisValue === null || redisValue.type == JsonType.Null) return new ConfigResult(null, "redis is required", warnings);
  if (redisValue.type != JsonType.Object) return new ConfigResult(null, "redis must be an object", warnings);
  const r = new FieldReader(redisValue, "redis.");
  const serviceName = r.str("service_name");
  // 0 means "not set" in Higress, so it takes the default like an absent key.
  let port = <i32>r.int("service_port", 0, 65535, 0);
  const username = r.str("username");
  const password = r.str("password");
  let timeout = <i32>r.int("timeout", 0, 3600000, 0);
  const database = <i32>r.int("database", 0, 1 << 30, 0);
  if (r.error.length > 0) return new ConfigResult(null, r.error, warnings);
  if (serviceName.length == 0) return new ConfigResult(null, "redis.service_name is required", warnings);
  r.unknownKeys(REDIS_KEYS, warnings);
  if (port == 0) port = serviceName.endsWith(".static") ? 80 : 6379;
  if (timeout == 0) timeout = 1000;
  c.store.redis = new RedisEndpoint(serviceName, port, username, password, <u32>timeout, database);
  return finish(root, top, c, warnings);
}

/** The keys beyond Higress's, read once the store is known. */
function finish(root: JsonValue, top: FieldReader, c: QuotaConfig, warnings: Array<string>): ConfigResult {
  const policyError = readPolicy(root, top, c.policy, warnings);
  if (policyError.length > 0) return new ConfigResult(null, policyError, warnings);
  const pathsError = readPaths(root, c, warnings);
  if (pathsError.length > 0) return new ConfigResult(null, pathsError, warnings);
  const windowsError = readWindows(root, top, c, warnings);
  if (windowsError.length > 0) return new ConfigResult(null, windowsError, warnings);
  const tiersError = parseTiers(root, c.useBalance, c.tiers, warnings);
  if (tiersError.length > 0) return new ConfigResult(null, tiersError, warnings);
  const other = parseOtherPaths(root, warnings);
  if (other.value === null) return new ConfigResult(null, other.error, warnings);
  c.otherPaths = other.value!;
  const weights = root.get("weights");
  if (weights !== null && weights.type != JsonType.Null) {
    const w = parseWeights(weights);
    if (w.weights === null) return new ConfigResult(null, w.error, warnings);
    c.weights = w.weights!;
  }
  const history = parseSpendHistory(root.get("spend_history"), warnings);
  if (history.error.length > 0) return new ConfigResult(null, history.error, warnings);
  c.spendHistory = history.value;
  return new ConfigResult(c, "", warnings);
}

/** The opt-in keys of exact accounting; "" or the first error. */
function readPolicy(root: JsonValue, top: FieldReader, p: Policy, warnings: Array<string>): string {
  p.releaseIncomplete = top.choice("on_incomplete", ["release", "charge_reserved"], "release") == "release";
  p.allowOnRedisFailure = top.choice("redis_failure", ["deny", "allow"], "deny") == "allow";
  const header = root.get("remaining_header");
  if (header !== null && header.type == JsonType.Bool) {
    p.remainingHeader = header.boolValue ? DEFAULT_REMAINING_HEADER : "";
  } else {
    p.remainingHeader = asciiLower(top.str("remaining_header"));
  }
  const missing = top.choice("missing_usage", ["estimate", "reservation", "none"], "estimate");
  p.missingUsage = missing == "estimate" ? MissingUsage.Estimate : missing == "reservation" ? MissingUsage.Reservation : MissingUsage.None;
  p.injectStreamUsage = top.choice("stream_usage", ["inject", "off"], "inject") == "inject";
  p.allowBackground = top.choice("responses_background", ["deny", "estimate"], "deny") == "estimate";
  p.maxRequestBodyBytes = <u32>top.int("max_request_body_bytes", 1024, 256 * 1024 * 1024, 0);
  p.statefulInputTokens = top.int("stateful_input_tokens", 0, 1_000_000_000, DEFAULT_STATEFUL_INPUT_TOKENS);
  p.shadow = top.bool("shadow", false);
  if (top.error.length > 0) return top.error;

  const res = root.get("reservation");
  if (res === null || res.type == JsonType.Null) return "";
  if (res.type != JsonType.Object) return "reservation must be an object";
  const r = new FieldReader(res, "reservation.");
  const mode = r.choice("mode", ["none", "fixed", "max_tokens"], "none");
  p.reservation = mode == "fixed" ? ReservationMode.Fixed : mode == "max_tokens" ? ReservationMode.MaxTokens : ReservationMode.None;
  p.reservationTokens = r.int("tokens", 0, 1_000_000_000_000, mode == "max_tokens" ? 1024 : 0);
  p.requireFullReservation = r.bool("require_full", false);
  p.reservationCap = readReservationCap(r);
  if (r.error.length > 0) return r.error;
  if (p.reservation == ReservationMode.Fixed && p.reservationTokens <= 0) return "reservation.tokens must be above 0 with mode fixed";
  r.unknownKeys(RESERVATION_KEYS, warnings);
  return "";
}

/** `reservation.cap`: the most a reservation may be, up to what the admission scripts accept. */
function readReservationCap(r: FieldReader): i64 {
  return r.int("cap", 1, RESERVATION_LIMIT, DEFAULT_RESERVATION_CAP);
}

/** `enable_path_suffixes` (Higress's key), or `paths`, its deprecated alias; the admin paths. */
function readPaths(root: JsonValue, c: QuotaConfig, warnings: Array<string>): string {
  let v = root.get("enable_path_suffixes");
  let key = "enable_path_suffixes";
  const alias = root.get("paths");
  if (alias !== null && alias.type != JsonType.Null) {
    if (v !== null && v.type != JsonType.Null) return "paths is the deprecated name of enable_path_suffixes: set only enable_path_suffixes";
    warnings.push("paths is deprecated: name it enable_path_suffixes (the admin API now lives only under /v1/chat/completions)");
    v = alias;
    key = "paths";
  }
  const r = parseRoutes(v, key, c.adminPath);
  if (r.routes === null) return r.error;
  c.routes = r.routes!;
  return "";
}

/** `store`: absent or `{type: redis}` keeps Higress's `redis` block; `{type: http, …}` replaces it. */
function readStore(root: JsonValue, c: QuotaConfig, warnings: Array<string>): string {
  const v = root.get("store");
  if (v === null || v.type == JsonType.Null) return "";
  if (v.type != JsonType.Object) return "store must be an object";
  const r = new FieldReader(v, "store.");
  const type = r.choice("type", ["redis", "http"], "");
  if (r.error.length > 0) return r.error;
  if (type.length == 0) return "store.type is required (redis or http)";
  if (type == "redis") return "";
  const cluster = r.str("cluster");
  const path = r.str("path");
  const authority = r.str("authority");
  const token = r.str("token");
  const timeout = r.int("timeout", 0, 3600000, 0);
  if (r.error.length > 0) return r.error;
  if (cluster.length == 0) return "store.cluster is required with store.type http";
  if (path.length > 0 && !path.startsWith("/")) return "store.path must start with '/'";
  r.unknownKeys(STORE_KEYS, warnings);
  c.store.http = new HttpStoreSettings(cluster, path.length == 0 ? "/" : path, authority.length == 0 ? cluster : authority, token, timeout == 0 ? 1000 : <u32>timeout);
  return "";
}

/** `limits`, `anonymous`, `balance`, `balance_rejection`: the windowed limits and how refusals look. */
function readWindows(root: JsonValue, top: FieldReader, c: QuotaConfig, warnings: Array<string>): string {
  const limits = root.get("limits");
  if (limits !== null && limits.type != JsonType.Null) {
    const r = parseLimits(limits, "limits");
    if (r.limits === null) return r.error;
    c.limits = r.limits!;
  }
  const anon = root.get("anonymous");
  if (anon !== null && anon.type != JsonType.Null) {
    if (anon.type != JsonType.Object) return "anonymous must be an object";
    const a = new FieldReader(anon, "anonymous.");
    const list = anon.get("limits");
    if (list === null || list.type == JsonType.Null) return "anonymous.limits is required";
    const r = parseLimits(list, "anonymous.limits");
    if (r.limits === null) return r.error;
    if (r.limits!.length == 0) return "anonymous.limits must not be empty";
    c.anonymousLimits = r.limits;
    const identityError = readAnonymousIdentity(a, c, warnings);
    if (identityError.length > 0) return identityError;
  }
  c.settlementRetrySeconds = <i32>top.int("settlement_retry_seconds", 0, 3600, 300);
  c.useBalance = top.bool("balance", true);
  if (top.error.length > 0) return top.error;
  if (!c.useBalance && c.limits.length == 0) return "balance: false needs limits (otherwise nothing is enforced)";
  const rej = root.get("balance_rejection");
  if (rej !== null && rej.type != JsonType.Null) {
    if (rej.type != JsonType.Object) return "balance_rejection must be an object";
    const r = new FieldReader(rej, "balance_rejection.");
    c.noQuotaStatus = <u32>r.int("status", 400, 599, 403);
    c.noQuotaJson = r.choice("format", ["text", "openai"], "text") == "openai";
    if (r.error.length > 0) return r.error;
  }
  return "";
}

const ANONYMOUS_KEYS: Array<string> = ["limits", "trust_consumer_header", "xff_num_trusted_hops", "trust_forwarded_for"];

/** `anonymous.trust_consumer_header`, `anonymous.xff_num_trusted_hops` (identity.ts says why). */
function readAnonymousIdentity(a: FieldReader, c: QuotaConfig, warnings: Array<string>): string {
  c.trustConsumerHeader = a.bool("trust_consumer_header", false);
  c.xffNumTrustedHops = <i32>a.int("xff_num_trusted_hops", 0, 64, 0);
  const trustedFirstHop = a.bool("trust_forwarded_for", false);
  if (a.error.length > 0) return a.error;
  if (trustedFirstHop) {
    return "anonymous.trust_forwarded_for was removed: it keyed clients by the x-forwarded-for entry they write themselves; " +
      "set anonymous.xff_num_trusted_hops to the number of proxies in front of the gateway instead";
  }
  const old = a.obj.get("trust_forwarded_for");
  if (old !== null && old.type != JsonType.Null) warnings.push("anonymous.trust_forwarded_for is deprecated and ignored; see anonymous.xff_num_trusted_hops");
  a.unknownKeys(ANONYMOUS_KEYS, warnings);
  return "";
}
