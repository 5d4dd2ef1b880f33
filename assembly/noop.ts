// The benchmark's baseline: a plugin built from the same ABI layer as ai-quota (same exports, same
// dispatcher, same allocator and abort handler) whose root accepts any configuration and whose
// streams answer Continue to every callback. It does no work at all (no header reads, no body
// reads, no host calls): what it costs is the floor of the ABI layer, the cost of being a filter.
export * from "./abi/exports";
export * from "./abi/abi_0_2_1";
export * from "./abi/redis_exports";
import "./abi/abort";
import { HttpContext, RootContext } from "./abi/context";
import { setRootContextFactory } from "./abi/dispatcher";

class NoopRoot extends RootContext {
  newHttpContext(id: u32): HttpContext | null {
    // A real stream context, so that every callback is dispatched to it as ai-quota's are.
    return new HttpContext(id, this);
  }
}

function newNoopRoot(id: u32): RootContext {
  return new NoopRoot(id);
}

setRootContextFactory(newNoopRoot);
