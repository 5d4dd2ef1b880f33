// Entry of the plain-Envoy build (Envoy, Istio, Envoy Gateway): the standard proxy-wasm ABI v0.2.1
// only. No Higress Redis host calls are imported and no proxy_on_redis_call_response is exported,
// so Envoy loads the module; quotas live behind an Upstash-compatible Redis REST endpoint reached
// with proxy_http_call (store/http_store.ts). Nothing imported from here may reach
// abi/redis_imports.ts (tests/store check the module's import list).
export * from "./abi/exports";
export * from "./abi/abi_0_2_1";
import "./abi/abort";
import { setRootContextFactory } from "./abi/dispatcher";
import { setBufferLimitRaisable, setHeadersMayWaitForBody } from "./abi/host_traits";
import { newQuotaPlugin, setStoreFactory } from "./quota/plugin";
import { openHttpStore } from "./store/http_store";

setRootContextFactory(newQuotaPlugin);
// Stock cpp-host turns a request-header StopIteration into StopAll (no body callbacks).
setHeadersMayWaitForBody(false);
setBufferLimitRaisable(false);
setStoreFactory(openHttpStore);
