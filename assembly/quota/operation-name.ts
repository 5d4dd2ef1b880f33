// An operation's name for debug logs (an enum prints as its number otherwise).
import { Operation } from "./routes";

export function operationName(op: Operation): string {
  switch (op) {
    case Operation.Chat: return "chat";
    case Operation.AdminQuery: return "admin-query";
    case Operation.AdminRefresh: return "admin-refresh";
    case Operation.AdminDelta: return "admin-delta";
    case Operation.AdminUsage: return "admin-usage";
    case Operation.Flat: return "flat-cost";
    default: return "pass-through";
  }
}
