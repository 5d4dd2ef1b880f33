// The callbacks the host calls, exported under their ABI names. Each one only finds its context
// and forwards; an id the plugin does not know is answered with the host's default. Each is
// bracketed by gc.enter()/gc.leave(): garbage is collected only between callbacks (gc.ts).
import { allocateForHost } from "./memory";
import { enter, leave } from "./gc";
import * as d from "./dispatcher";
import { Action, DataAction } from "./types";

export function proxy_on_memory_allocate(size: usize): usize {
  return allocateForHost(size);
}

export function proxy_on_context_create(contextId: u32, parentContextId: u32): void {
  enter();
  d.createContext(contextId, parentContextId);
  leave();
}

export function proxy_on_vm_start(rootContextId: u32, vmConfigSize: u32): bool {
  enter();
  const root = d.rootContext(rootContextId);
  const result: bool = root === null ? true : root.onVmStart(vmConfigSize);
  leave();
  return result;
}

export function proxy_on_configure(rootContextId: u32, pluginConfigSize: u32): bool {
  enter();
  const root = d.rootContext(rootContextId);
  const result: bool = root === null ? false : root.onConfigure(pluginConfigSize);
  leave();
  return result;
}

export function proxy_on_tick(rootContextId: u32): void {
  enter();
  const root = d.rootContext(rootContextId);
  if (root !== null) root.onTick();
  leave();
}

export function proxy_on_request_headers(contextId: u32, numHeaders: u32, endOfStream: bool): Action {
  enter();
  const s = d.httpContext(contextId);
  const result: Action = s === null ? Action.Continue : s.onRequestHeaders(numHeaders, endOfStream);
  leave();
  return result;
}

export function proxy_on_request_body(contextId: u32, bodySize: u32, endOfStream: bool): DataAction {
  enter();
  const s = d.httpContext(contextId);
  const result: DataAction = s === null ? DataAction.Continue : s.onRequestBody(bodySize, endOfStream);
  leave();
  return result;
}

export function proxy_on_request_trailers(contextId: u32, numTrailers: u32): Action {
  enter();
  const s = d.httpContext(contextId);
  const result: Action = s === null ? Action.Continue : s.onRequestTrailers(numTrailers);
  leave();
  return result;
}

export function proxy_on_response_headers(contextId: u32, numHeaders: u32, endOfStream: bool): Action {
  enter();
  const s = d.httpContext(contextId);
  const result: Action = s === null ? Action.Continue : s.onResponseHeaders(numHeaders, endOfStream);
  leave();
  return result;
}

export function proxy_on_response_body(contextId: u32, bodySize: u32, endOfStream: bool): DataAction {
  enter();
  const s = d.httpContext(contextId);
  const result: DataAction = s === null ? DataAction.Continue : s.onResponseBody(bodySize, endOfStream);
  leave();
  return result;
}

export function proxy_on_response_trailers(contextId: u32, numTrailers: u32): Action {
  enter();
  const s = d.httpContext(contextId);
  const result: Action = s === null ? Action.Continue : s.onResponseTrailers(numTrailers);
  leave();
  return result;
}

export function proxy_on_done(contextId: u32): bool {
  enter();
  const result: bool = d.onDone(contextId);
  leave();
  return result;
}

export function proxy_on_log(contextId: u32): void {
  enter();
  d.onLog(contextId);
  leave();
}

export function proxy_on_delete(contextId: u32): void {
  enter();
  d.onDelete(contextId);
  leave();
}

export function proxy_on_http_call_response(rootContextId: u32, calloutId: u32, numHeaders: u32, bodySize: u32, numTrailers: u32): void {
  enter();
  const root = d.rootContext(rootContextId);
  if (root !== null) root.onHttpCallResponse(calloutId, numHeaders, bodySize, numTrailers);
  leave();
}
