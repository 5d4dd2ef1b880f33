// Entry of the plain-Envoy build (Envoy, Istio, Envoy Gateway): the standard proxy-wasm ABI v0.2.1
// only. No Higress Redis host calls are imported and no proxy_on_redis_call_response is exported,
// so Envoy loads the module; quotas live behind an Upstash-compatible Redis REST endpoint reached
// with proxy_http_call (store/http_store.ts). Nothing imported from here may reach
// abi/redis_imports.ts (tests/store check the module's import list).
export * from "./abi/exports";
import "./abi/abort";
import { setRootContextFactory } from "./abi/dispatcher";
import { newQuotaPlugin, setStoreFactory } from "./quota/plugin";
import { openHttpStore } from "./store/http_store";

setRootContextFactory(newQuotaPlugin);
setStoreFactory(openHttpStore);
