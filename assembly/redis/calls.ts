// A command sent and not answered yet, and what becomes of its reply. Both stores keep their
// commands as these (the Redis client, client.ts; the HTTP store, store/http_store.ts), so the
// NOSCRIPT fallback is written once, here, and costs no object of its own.
import { liveHttpContext } from "../abi/dispatcher";
import { isNoScript } from "./errors";
import { REDIS_UNREACHABLE, StoreCallback, StoreReply, deliver } from "./reply";
import { evalQueryFor } from "./resp";

export class PendingCall {
  /** TRYAGAIN answers so far, and the milliseconds waited for them (client.ts). */
  tries: i32 = 0;
  waitedMs: u32 = 0;
  constructor(
    public query: ArrayBuffer,
    public callback: StoreCallback,
    /** Sent again once already, after a NOAUTH (client.ts). */
    public retried: bool,
    /** An EVALSHA's script, sent as EVAL when the store answers NOSCRIPT; null for any other command. */
    public script: string | null,
  ) {}
}

/** What sends pending calls: the Redis client, and every store. */
export class CallSender {
  /** Sends the call; false when it could not be sent (then its callback never runs). */
  sendCall(call: PendingCall): bool { return false; }
}

/**
 * A call's reply goes to its stream (deliver), but NOSCRIPT for an EVALSHA: the store forgot the
 * script (a restart, SCRIPT FLUSH), so the same keys and arguments go once more as EVAL of it.
 */
export function answerCall(sender: CallSender, call: PendingCall, reply: StoreReply): void {
  const script = call.script;
  if (script !== null && isNoScript(reply) && streamLive(call.callback)) {
    const q = evalQueryFor(call.query, script);
    if (q !== null && sender.sendCall(new PendingCall(q, call.callback, false, null))) return;
    deliver(call.callback, new StoreReply(null, REDIS_UNREACHABLE));
    return;
  }
  deliver(call.callback, reply);
}

/** Whether a reply would reach the callback's stream (deliver's test, without switching context). */
function streamLive(callback: StoreCallback): bool {
  const id = callback.contextId;
  return id == 0 || liveHttpContext(id) !== null;
}
