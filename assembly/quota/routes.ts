// Which operation a request path asks for. Suffix matches on the path without its query string,
// in Higress's order: every admin path is tried before the metered paths it ends with.

export enum Operation {
  /** Not ours: passes through untouched. */
  None,
  /** A metered model call. */
  Chat,
  AdminQuery,
  AdminRefresh,
  AdminDelta,
}

/** Higress meters this path only; `paths` in the config can name more. */
export const CHAT_PATH = "/v1/chat/completions";

export function operationOf(path: string, meteredPaths: Array<string>, adminPath: string): Operation {
  for (let i = 0; i < meteredPaths.length; i++) {
    const admin = meteredPaths[i] + adminPath;
    if (path.endsWith(admin + "/refresh")) return Operation.AdminRefresh;
    if (path.endsWith(admin + "/delta")) return Operation.AdminDelta;
    if (path.endsWith(admin)) return Operation.AdminQuery;
  }
  for (let i = 0; i < meteredPaths.length; i++) {
    if (path.endsWith(meteredPaths[i])) return Operation.Chat;
  }
  return Operation.None;
}

