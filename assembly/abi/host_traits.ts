// What the host the module was built for does with the plugin's answers, where hosts differ. The
// build's entry file sets it once; plugin code asks in its own words.

/**
 * Whether a request-header StopIteration keeps the body callbacks coming. Higress's fork does so
 * for modules declaring ABI 0.2.100 (higress-group/proxy-wasm-cpp-host src/context.cc); stock
 * proxy-wasm-cpp-host turns it into StopAllIterationAndWatermark for ABI 0.2.x (issue 143), after
 * which Envoy calls no body callback until the stream is resumed.
 */
let headersWaitForBody = false;

export function setHeadersMayWaitForBody(yes: bool): void {
  headersWaitForBody = yes;
}

/** True when the plugin may hold request headers and still read the body. */
export function headersMayWaitForBody(): bool {
  return headersWaitForBody;
}
