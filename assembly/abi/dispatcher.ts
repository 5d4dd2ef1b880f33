// Routes each exported callback to the context it names, by context id.
import { HttpContext, RootContext, RootContextFactory } from "./context";
import { refreshLogLevel } from "./hostcalls";

let rootFactory: RootContextFactory | null = null;
const roots = new Map<u32, RootContext>();
const streams = new Map<u32, HttpContext>();

/** Called once from the plugin's entry file, before the host creates any context. */
export function setRootContextFactory(factory: RootContextFactory): void {
  rootFactory = factory;
}

export function createContext(id: u32, parentId: u32): void {
  if (parentId == 0) {
    const factory = rootFactory;
    if (factory !== null) roots.set(id, factory(id));
    return;
  }
  if (!roots.has(parentId)) return;
  refreshLogLevel();
  const stream = roots.get(parentId).newHttpContext(id);
  if (stream !== null) streams.set(id, stream);
}

export function rootContext(id: u32): RootContext | null {
  return roots.has(id) ? roots.get(id) : null;
}

export function httpContext(id: u32): HttpContext | null {
  return streams.has(id) ? streams.get(id) : null;
}


/** A stream that is still going (not ended, not deleted), or null. */
export function liveHttpContext(id: u32): HttpContext | null {
  if (!streams.has(id)) return null;
  const s = streams.get(id);
  return s.ended ? null : s;
}

export function onDone(id: u32): bool {
  if (streams.has(id)) {
    const s = streams.get(id);
    s.ended = true;
    return s.onDone();
  }
  if (roots.has(id)) return roots.get(id).onDone();
  return true;
}

export function onLog(id: u32): void {
  if (streams.has(id)) {
    const s = streams.get(id);
    s.ended = true;
    s.onLog();
  }
  else if (roots.has(id)) roots.get(id).onLog();
}

export function onDelete(id: u32): void {
  if (streams.has(id)) {
    const s = streams.get(id);
    s.ended = true;
    s.onDelete();
    streams.delete(id);
  } else if (roots.has(id)) {
    roots.get(id).onDelete();
    roots.delete(id);
  }
}
