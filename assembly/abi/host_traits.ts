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

/**
 * Whether the plugin can raise the stream's buffer limit (Higress's set_decoder_buffer_limit
 * property: higress-group/envoy context.cc Context::setProperty). Plain Envoy keeps the
 * connection's per_connection_buffer_limit_bytes (1 MiB by default).
 */
let raisableBufferLimit = false;

export function setBufferLimitRaisable(yes: bool): void {
  raisableBufferLimit = yes;
}

export function bufferLimitRaisable(): bool {
  return raisableBufferLimit;
}

/** How much request body the plugin holds by default: what the host's buffers allow without 413 or a stall. */
export function defaultHeldBodyLimit(): u32 {
  return raisableBufferLimit ? 8 * 1024 * 1024 : 1024 * 1024 - 16 * 1024;
}

/**
 * How response bytes the plugin held back can still reach the client once the upstream's body is
 * over and its trailers are being read: no host call outside a body callback reaches the body
 * (after a body Continue, Envoy's Context::getBuffer answers no buffer: BadArgument), so only a
 * host that can inject data downstream can send them (Higress: abi/inject_response.ts). Answers
 * false when it cannot.
 */
let responseInjector: (p: usize, n: i32) => bool = cannotInject;

function cannotInject(p: usize, n: i32): bool {
  return n <= 0;
}

export function setResponseInjector(f: (p: usize, n: i32) => bool): void {
  responseInjector = f;
}

/** Sends the n bytes at p to the client now (before the response trailers); false if impossible. */
export function injectHeldResponse(p: usize, n: i32): bool {
  return responseInjector(p, n);
}
