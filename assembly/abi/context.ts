// Root and HTTP contexts with do-nothing defaults; the plugin overrides what it handles.
import { Action, DataAction } from "./types";

/** One per plugin configuration: holds the parsed config and what is shared by its streams. */
export class RootContext {
  constructor(public readonly id: u32) {}
  onVmStart(vmConfigSize: u32): bool { return true; }
  onConfigure(pluginConfigSize: u32): bool { return true; }
  onTick(): void {}
  /** A context for a new stream, or null to let the stream pass untouched. */
  newHttpContext(id: u32): HttpContext | null { return null; }
  onHttpCallResponse(calloutId: u32, numHeaders: u32, bodySize: u32, numTrailers: u32): void {}
  onRedisCallResponse(calloutId: u32, status: u32, responseSize: u32): void {}
  onDone(): bool { return true; }
  onLog(): void {}
  onDelete(): void {}
}

/** One per HTTP stream. */
export class HttpContext {
  /**
   * The stream has ended (on_done, on_log or on_delete ran). The host may still know the context
   * for a while (Envoy deletes it later), so a late callout reply asks this, not the host.
   */
  ended: bool = false;
  constructor(public readonly id: u32, public readonly root: RootContext) {}
  onRequestHeaders(numHeaders: u32, endOfStream: bool): Action { return Action.Continue; }
  onRequestBody(bodySize: u32, endOfStream: bool): DataAction { return DataAction.Continue; }
  onRequestTrailers(numTrailers: u32): Action { return Action.Continue; }
  onResponseHeaders(numHeaders: u32, endOfStream: bool): Action { return Action.Continue; }
  onResponseBody(bodySize: u32, endOfStream: bool): DataAction { return DataAction.Continue; }
  onResponseTrailers(numTrailers: u32): Action { return Action.Continue; }
  onDone(): bool { return true; }
  onLog(): void {}
  onDelete(): void {}
}

export type RootContextFactory = (id: u32) => RootContext;
