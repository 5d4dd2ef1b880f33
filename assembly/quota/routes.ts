// Which operation a request path asks for. Suffix matches on the path without its query string,
// in Higress's order: the admin paths are tried before the chat path they end with.

export enum Operation {
  /** Not ours: passes through untouched. */
  None,
  /** A metered model call. */
  Chat,
  AdminQuery,
  AdminRefresh,
  AdminDelta,
}

export const CHAT_PATH = "/v1/chat/completions";

export function operationOf(path: string, adminPath: string): Operation {
  const admin = CHAT_PATH + adminPath;
  if (path.endsWith(admin + "/refresh")) return Operation.AdminRefresh;
  if (path.endsWith(admin + "/delta")) return Operation.AdminDelta;
  if (path.endsWith(admin)) return Operation.AdminQuery;
  if (path.endsWith(CHAT_PATH)) return Operation.Chat;
  return Operation.None;
}

export function isAdmin(op: Operation): bool {
  return op == Operation.AdminQuery || op == Operation.AdminRefresh || op == Operation.AdminDelta;
}
