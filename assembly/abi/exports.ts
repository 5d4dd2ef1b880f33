// The callbacks the host calls, exported under their ABI names. Each one only finds its context
// and forwards; an id the plugin does not know is answered with the host's default.
import { allocateForHost } from "./memory";
import * as d from "./dispatcher";
import { Action, DataAction } from "./types";

export function proxy_on_memory_allocate(size: usize): usize {
  return allocateForHost(size);
}

export function proxy_on_context_create(contextId: u32, parentContextId: u32): void {
  d.createContext(contextId, parentContextId);
}

export function proxy_on_vm_start(rootContextId: u32, vmConfigSize: u32): bool {
  const root = d.rootContext(rootContextId);
  return root === null ? true : root.onVmStart(vmConfigSize);
}

export function proxy_on_configure(rootContextId: u32, pluginConfigSize: u32): bool {
  const root = d.rootContext(rootContextId);
  return root === null ? false : root.onConfigure(pluginConfigSize);
}

export function proxy_on_tick(rootContextId: u32): void {
  const root = d.rootContext(rootContextId);
  if (root !== null) root.onTick();
}

export function proxy_on_request_headers(contextId: u32, numHeaders: u32, endOfStream: bool): Action {
  const s = d.httpContext(contextId);
  return s === null ? Action.Continue : s.onRequestHeaders(numHeaders, endOfStream);
}

export function proxy_on_request_body(contextId: u32, bodySize: u32, endOfStream: bool): DataAction {
  const s = d.httpContext(contextId);
  return s === null ? DataAction.Continue : s.onRequestBody(bodySize, endOfStream);
}

export function proxy_on_request_trailers(contextId: u32, numTrailers: u32): Action {
  const s = d.httpContext(contextId);
  return s === null ? Action.Continue : s.onRequestTrailers(numTrailers);
}

export function proxy_on_response_headers(contextId: u32, numHeaders: u32, endOfStream: bool): Action {
  const s = d.httpContext(contextId);
  return s === null ? Action.Continue : s.onResponseHeaders(numHeaders, endOfStream);
}

export function proxy_on_response_body(contextId: u32, bodySize: u32, endOfStream: bool): DataAction {
  const s = d.httpContext(contextId);
  return s === null ? DataAction.Continue : s.onResponseBody(bodySize, endOfStream);
}

export function proxy_on_response_trailers(contextId: u32, numTrailers: u32): Action {
  const s = d.httpContext(contextId);
  return s === null ? Action.Continue : s.onResponseTrailers(numTrailers);
}

export function proxy_on_done(contextId: u32): bool {
  return d.onDone(contextId);
}

export function proxy_on_log(contextId: u32): void {
  d.onLog(contextId);
}

export function proxy_on_delete(contextId: u32): void {
  d.onDelete(contextId);
}

export function proxy_on_http_call_response(rootContextId: u32, calloutId: u32, numHeaders: u32, bodySize: u32, numTrailers: u32): void {
  const root = d.rootContext(rootContextId);
  if (root !== null) root.onHttpCallResponse(calloutId, numHeaders, bodySize, numTrailers);
}
