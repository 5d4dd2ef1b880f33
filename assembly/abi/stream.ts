// What an HTTP stream's code needs from the host, in its own words: no map types, buffer types
// or stream types above this file.
import { BufferType, MapType, Status, StreamType } from "./types";
import { bufferBytes, continueStream, getHeader, getProperty, headerMapBlock, propertyBlock, propertyPathBytes, removeHeaderNamed, replaceHeader, setProperty } from "./hostcalls";
import { hostBlockBytes } from "./memory";

/**
 * The request headers serialized in a host block, to be read in place (abi/headers.ts
 * HeaderMapReader): its pointer (0: none; free it with heap.free), its size hostBlockBytes().
 */
export function requestHeaderBlock(): usize {
  return headerMapBlock(MapType.HttpRequestHeaders);
}

/** The response headers the same way. */
export function responseHeaderBlock(): usize {
  return headerMapBlock(MapType.HttpResponseHeaders);
}

/** The size of the block the last *Block() call answered. */
export function blockBytes(): usize {
  return hostBlockBytes();
}

/** Removes a request header named by bytes made once (abi/headers.ts nameBytes). */
export function removeRequestHeaderNamed(name: ArrayBuffer): void {
  removeHeaderNamed(MapType.HttpRequestHeaders, name);
}

export function removeResponseHeaderNamed(name: ArrayBuffer): void {
  removeHeaderNamed(MapType.HttpResponseHeaders, name);
}

/** A property path made once, for streamPropertyBlock. */
export function propertyPath(segments: Array<string>): ArrayBuffer {
  return propertyPathBytes(segments);
}

/** A property in a host block (0: none; free it with heap.free), its size blockBytes(). */
export function streamPropertyBlock(path: ArrayBuffer): usize {
  return propertyBlock(path);
}

/** One request header (the first value when repeated). */
export function requestHeader(name: string): string | null {
  return getHeader(MapType.HttpRequestHeaders, name);
}

export function setResponseHeader(name: string, value: string): void {
  replaceHeader(MapType.HttpResponseHeaders, name, value);
}

/** The request body the host holds for this callback (all of it when the plugin buffered). */
export function requestBody(size: u32): Uint8Array {
  return bufferBytes(BufferType.HttpRequestBody, size);
}

export function resumeRequest(): bool {
  return continueStream(StreamType.HttpRequest) == Status.Ok;
}

/**
 * Sets a property of the stream. Envoy keeps it as filter state; Higress also acts on a few names
 * (higress-group/envoy context.cc Context::setProperty, e.g. set_decoder_buffer_limit).
 */
export function setStreamProperty(name: string, value: string): bool {
  return setProperty([name], String.UTF8.encode(value)) == Status.Ok;
}

/** A property of the stream, e.g. ["ai_log"] (filter state written by another wasm plugin). */
export function streamProperty(path: Array<string>): Uint8Array | null {
  const b = getProperty(path);
  if (b === null) return null;
  return Uint8Array.wrap(b);
}
