// The plain-Envoy build's store: Redis commands sent with `proxy_http_call` to an Upstash-compatible
// Redis REST endpoint. One command per call: `POST <path>` with the command as a JSON array of
// strings (`["GET","chat_quota:alice"]`, EVAL and EVALSHA alike), answered `{"result": …}` or
// `{"error": "…"}`. Plain Envoy and Istio provide proxy_http_call; nothing here needs Higress.
//
// What a reply becomes:
//   200 {"result": v}           → v as RESP: string → BulkString, integer → Integer, null → Null,
//                                 array → Array (nesting bounded); anything else is an error reply
//   200 or 400 {"error": "msg"} → an error reply with Redis's text (NOSCRIPT, WRONGTYPE, … pass through;
//                                 Upstash answers command errors with 400)
//   anything else (other status, no answer, timeout, malformed JSON, body over 64 KiB)
//                               → "cannot connect to quota store", so the failure policy applies.
import { HeaderPair } from "../abi/headers";
import { httpCall } from "../abi/hostcalls";
import { httpCallResponseBody, httpCallResponseStatus } from "../abi/http_callout";
import { logError, logWarn } from "../abi/log";
import { Status } from "../abi/types";
import { JsonType, JsonValue, parseJson } from "../json/parser";
import { quoteJsonString } from "../json/quote";
import { RespType, RespValue, commandArgs } from "../redis/resp";
import { decodeUtf8 } from "../util/utf8";
import { StoreCallback, StoreReply } from "../redis/reply";
import { PendingCall, answerCall } from "../redis/calls";
import { Store } from "./store";
import { HttpStoreSettings, StoreOpening, StoreSettings } from "./settings";

/** Replies larger than this are refused: a quota plugin never needs more. */
export const MAX_HTTP_REPLY_BYTES: u32 = 64 * 1024;
/** How deep a reply's JSON may nest (the object, then arrays in the result). */
const MAX_REPLY_DEPTH: i32 = 16;
/** The error every unusable answer becomes; the quota code then applies its failure policy. */
export const STORE_UNREACHABLE = "cannot connect to quota store";
/** What the plain-Envoy build says when a config names no HTTP store. */
export const NO_REDIS_HOST_CALLS = "this build has no Redis host calls: set store.type to http (see README)";

/** The RESP query of a command sent from its arguments (command()): not a script, never sent again. */
const NO_QUERY = new ArrayBuffer(0);
const HTTP_OK = 200;
const HTTP_BAD_REQUEST = 400;

export class HttpStore extends Store {
  private readonly headers: Array<HeaderPair>;
  private pending: Map<u32, PendingCall> = new Map<u32, PendingCall>();

  constructor(public settings: HttpStoreSettings) {
    super();
    const h = new Array<HeaderPair>();
    h.push(new HeaderPair(":method", "POST"));
    h.push(new HeaderPair(":path", settings.path));
    h.push(new HeaderPair(":authority", settings.authority));
    h.push(new HeaderPair("content-type", "application/json"));
    if (settings.token.length > 0) h.push(new HeaderPair("authorization", "Bearer " + settings.token));
    this.headers = h;
  }

  describe(): string {
    return "http quota store " + this.settings.cluster + " (POST " + this.settings.path + ")";
  }

  /** Sends a command; false when it could not be sent (then the callback never runs). */
  command(args: Array<string>, callback: StoreCallback): bool {
    return this.post(encodeCommandJson(args), new PendingCall(NO_QUERY, callback, false, null));
  }

  /** A call's RESP-encoded command (redis/command.ts) goes out as the same JSON array. */
  sendCall(call: PendingCall): bool {
    const args = commandArgs(call.query);
    if (args === null) return false;
    return this.post(encodeCommandJson(args), call);
  }

  private post(json: string, call: PendingCall): bool {
    const body = String.UTF8.encode(json);
    const r = httpCall(this.settings.cluster, this.headers, body, this.settings.timeoutMs);
    if (r.status != Status.Ok) {
      logError("ai-quota: call to quota store " + this.settings.cluster + " could not be sent (status " + (<i32>r.status).toString() + ")");
      return false;
    }
    this.pending.set(r.calloutId, call);
    return true;
  }

  /** Called by the root context for every `proxy_on_http_call_response`. */
  onHttpCallResponse(calloutId: u32, numHeaders: u32, bodySize: u32, numTrailers: u32): void {
    if (!this.pending.has(calloutId)) return;
    const call = this.pending.get(calloutId);
    this.pending.delete(calloutId);
    // The answer is readable only now, so it is read before switching to the stream.
    const reply = this.readReply(numHeaders, bodySize);
    answerCall(this, call, reply);
  }

  private readReply(numHeaders: u32, bodySize: u32): StoreReply {
    const where = "ai-quota: quota store " + this.settings.cluster;
    if (numHeaders == 0) return unreachable(where + " did not answer (connection failure or timeout)");
    const status = httpCallResponseStatus();
    if (bodySize > MAX_HTTP_REPLY_BYTES) return unreachable(where + " answered " + status.toString() + " with " + bodySize.toString() + " bytes, over the limit");
    if (status != HTTP_OK && status != HTTP_BAD_REQUEST) {
      const body = httpCallResponseBody(bodySize < 200 ? bodySize : 200);
      return unreachable(where + " answered HTTP " + status.toString() + (body === null ? "" : ": " + decodeUtf8(body.dataStart, body.length)));
    }
    const body = httpCallResponseBody(bodySize);
    if (body === null) return unreachable(where + " answered " + status.toString() + " but its body could not be read");
    const parsed = parseJson(body, MAX_REPLY_DEPTH);
    const root = parsed.value;
    if (root === null) return unreachable(where + " answered " + status.toString() + " with malformed JSON: " + parsed.error);
    return readEnvelope(root, status, where);
  }
}

/** `["GET","key"]`: every argument a JSON string (lone surrogates become U+FFFD). */
export function encodeCommandJson(args: Array<string>): string {
  const parts = new Array<string>(args.length);
  for (let i = 0; i < args.length; i++) parts[i] = quoteJsonString(args[i]);
  return "[" + parts.join(",") + "]";
}

/** An error the store answered with (like a Redis error reply): it carries a value. */
function errorReply(text: string): StoreReply {
  return new StoreReply(new RespValue(RespType.Error, text), text.length > 0 ? text : "ERR (empty error reply)");
}

/** No usable answer (value null, as for an unreachable Redis): the failure policy applies. */
function unreachable(logLine: string): StoreReply {
  logWarn(logLine);
  return new StoreReply(null, STORE_UNREACHABLE);
}

/** `{"result": …}` or `{"error": "…"}`; a result only with 200. */
function readEnvelope(root: JsonValue, status: i32, where: string): StoreReply {
  if (root.type != JsonType.Object) return unreachable(where + " answered " + status.toString() + " with JSON that is not an object");
  const err = root.get("error");
  if (err !== null && err.type != JsonType.Null) {
    if (err.type != JsonType.String) return unreachable(where + " answered an error that is not a string");
    return errorReply(err.stringValue.length > 0 ? err.stringValue : "ERR quota store error without a message");
  }
  if (status != HTTP_OK) return unreachable(where + " answered " + status.toString() + " without an error");
  const result = root.get("result");
  if (result === null) return unreachable(where + " answered without a result");
  const converted = new Conversion();
  const value = converted.toResp(result);
  // The store did answer: an error with a value, so that nothing is sent again for it.
  if (value === null) return errorReply("unexpected quota store reply: " + converted.error);
  return new StoreReply(value, "");
}

/** A JSON result as the RESP value Redis would have sent. Depth is bounded by parseJson. */
class Conversion {
  error: string = "";

  toResp(v: JsonValue): RespValue | null {
    switch (v.type) {
      case JsonType.Null: return new RespValue(RespType.Null);
      case JsonType.String: return new RespValue(RespType.BulkString, v.stringValue);
      case JsonType.Number: {
        if (!v.isInteger()) {
          this.error = "number " + v.numberText + " is not a 64-bit integer";
          return null;
        }
        return new RespValue(RespType.Integer, "", v.asI64());
      }
      case JsonType.Array: {
        const items = new Array<RespValue>(v.items.length);
        for (let i = 0; i < v.items.length; i++) {
          const item = this.toResp(v.items[i]);
          if (item === null) return null;
          items[i] = item;
        }
        return new RespValue(RespType.Array, "", 0, items);
      }
      case JsonType.Bool:
        this.error = "a boolean";
        return null;
      default:
        this.error = "an object";
        return null;
    }
  }
}

/** The plain-Envoy build's store factory: an HTTP store, or a refusal naming the fix. */
export function openHttpStore(settings: StoreSettings): StoreOpening {
  const http = settings.http;
  if (http === null) return new StoreOpening(null, NO_REDIS_HOST_CALLS);
  return new StoreOpening(new HttpStore(http), "");
}
