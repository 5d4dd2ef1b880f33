// Entry of the Higress build: the ABI callbacks, Higress's Redis callback, the plugin's root, and
// Redis through Higress's host calls (or an HTTP store, when the config names one) as the quota store.
export * from "./abi/exports";
// Higress's ABI marker (see abi_0_2_100.ts): header StopIteration keeps body callbacks coming.
export * from "./abi/abi_0_2_100";
export * from "./abi/redis_exports";
import "./abi/abort";
import { setRootContextFactory } from "./abi/dispatcher";
import { setBufferLimitRaisable, setHeadersMayWaitForBody, setResponseInjector } from "./abi/host_traits";
import { injectResponseBody } from "./abi/inject_response";
import { newQuotaPlugin, setStoreFactory } from "./quota/plugin";
import { openHigressStore } from "./store/factories";

setRootContextFactory(newQuotaPlugin);
// Higress's fork keeps body callbacks coming after a header StopIteration for ABI 0.2.100 modules.
setHeadersMayWaitForBody(true);
setBufferLimitRaisable(true);
setStoreFactory(openHigressStore);
// Bytes the hider holds when trailers end the answer go out through Higress's injection.
setResponseInjector(injectResponseBody);
