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


/** Which API a metered path speaks (what the request flow may do with its body and answer). */
export enum ApiKind {
  None,
  OpenAIChat,
  OpenAICompletions,
  OpenAIResponses,
  OpenAIEmbeddings,
  AnthropicMessages,
  GeminiGenerate,
  GeminiStream,
  Other,
}

export function apiOf(path: string): ApiKind {
  if (path.endsWith("/chat/completions")) return ApiKind.OpenAIChat;
  if (path.endsWith("/completions")) return ApiKind.OpenAICompletions;
  if (path.endsWith("/responses")) return ApiKind.OpenAIResponses;
  if (path.endsWith("/embeddings")) return ApiKind.OpenAIEmbeddings;
  if (path.endsWith("/messages")) return ApiKind.AnthropicMessages;
  if (path.endsWith(":generateContent")) return ApiKind.GeminiGenerate;
  if (path.endsWith(":streamGenerateContent")) return ApiKind.GeminiStream;
  return ApiKind.Other;
}
