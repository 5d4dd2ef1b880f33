// What every test-only entry shares (not an entry itself: build.mjs skips files starting with `_`):
// jest writes its input at `input_alloc(size)`, calls a `run_*` export with the input's length, and
// reads the returned number of bytes at `output_ptr()`.
import { decodeUtf8 } from "../util/utf8";

export let input = new Uint8Array(0);
let output = new Uint8Array(0);

/** Room for `size` input bytes (the buffer is reused when big enough: tests can watch memory). */
export function input_alloc(size: i32): usize {
  if (size > input.length) input = new Uint8Array(size);
  return input.dataStart;
}

export function output_ptr(): usize {
  return output.dataStart;
}

/** A length jest passed, kept within the input buffer. */
export function clamp(len: i32): i32 {
  return len < 0 ? 0 : (len > input.length ? input.length : len);
}

export function inputView(len: i32): Uint8Array {
  return input.subarray(0, clamp(len));
}

export function inputText(len: i32): string {
  return decodeUtf8(input.dataStart, clamp(len));
}

/** The input cut at NUL bytes, each field decoded as UTF-8. */
export function fields(len: i32): Array<string> {
  const n = clamp(len);
  const out = new Array<string>();
  let from = 0;
  for (let i = 0; i <= n; i++) {
    if (i == n || input[i] == 0) {
      out.push(decodeUtf8(input.dataStart + <usize>from, i - from));
      from = i + 1;
    }
  }
  return out;
}

export function emitBytes(b: ArrayBuffer): i32 {
  return emitView(Uint8Array.wrap(b));
}

/** Bytes already in a view (kept alive until the next emit). */
export function emitView(b: Uint8Array): i32 {
  output = b;
  return b.length;
}

export function emit(s: string): i32 {
  return emitBytes(String.UTF8.encode(s));
}
