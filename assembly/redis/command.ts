// RESP commands written straight into one scratch buffer (`*N\r\n` then `$len\r\n<bytes>\r\n` per
// argument), then copied once into the ArrayBuffer that is sent and kept for a resend: no string or
// array per argument, numbers written as digits, names written as bytes made once.
//
//   beginCommand(); argString("GET"); argString(key); const query = endCommand();
//
// One command at a time (callbacks never nest); the scratch grows to the largest command written
// (Lua scripts: a few KiB) and is reused.

/** Room kept at the front for `*N\r\n`, written last. */
const HEADER_ROOM: usize = 16;

let buf: usize = heap.alloc(1024);
let cap: usize = 1024;
let len: usize = HEADER_ROOM;
let count: i32 = 0;

export function beginCommand(): void {
  len = HEADER_ROOM;
  count = 0;
}

function reserve(n: usize): void {
  const need = len + n;
  if (need <= cap) return;
  let size = cap << 1;
  if (size < need) size = need;
  buf = heap.realloc(buf, size);
  cap = size;
}

/** Writes v's decimal digits at p (room for 20); returns the end. */
function digits(p: usize, v: u64): usize {
  let n: usize = 1;
  for (let t = v; t >= 10; t /= 10) n++;
  let q = p + n;
  let t = v;
  do {
    q--;
    store<u8>(q, <u8>(0x30 + <u32>(t % 10)));
    t /= 10;
  } while (t > 0);
  return p + n;
}

/** `$n\r\n`, and room for n bytes and the final CRLF. */
function bulkHeader(n: usize): usize {
  reserve(n + 26);
  let p = buf + len;
  store<u8>(p, 0x24);
  p = digits(p + 1, <u64>n);
  store<u16>(p, 0x0a0d);
  count++;
  return p + 2;
}

function bulkEnd(p: usize): void {
  store<u16>(p, 0x0a0d);
  len = p + 2 - buf;
}

/** An argument: the string's UTF-8 bytes (lone surrogates as U+FFFD). */
export function argString(s: string): void {
  const units = <usize>s.length;
  const src = changetype<usize>(s);
  // ASCII first, as every key, number and command name the plugin sends: a byte per unit, copied
  // while checked; the first unit beyond ASCII undoes the argument and writes it the UTF-8 way.
  const p = bulkHeader(units);
  for (let k: usize = 0; k < units; k++) {
    const c = load<u16>(src + (k << 1));
    if (c >= 0x80) {
      count--;
      argUtf8(src, s.length);
      return;
    }
    store<u8>(p + k, <u8>c);
  }
  bulkEnd(p + units);
}

function argUtf8(src: usize, units: i32): void {
  const n = <usize>String.UTF8.byteLength(changetype<string>(src));
  const p = bulkHeader(n);
  String.UTF8.encodeUnsafe(src, units, p, false, String.UTF8.ErrorMode.REPLACE);
  bulkEnd(p + n);
}

/** An argument: n bytes at src. */
export function argBytes(src: usize, n: usize): void {
  const p = bulkHeader(n);
  memory.copy(p, src, n);
  bulkEnd(p + n);
}

/** An argument: bytes made once (a name, a script's SHA). */
export function argBuffer(b: ArrayBuffer): void {
  argBytes(changetype<usize>(b), <usize>b.byteLength);
}

/** An argument: an integer in decimal. */
export function argInt(v: i64): void {
  reserve(48);
  const p = buf + len;
  store<u8>(p, 0x24);
  // The digits first (sign included), then their count in front.
  const scratch = p + 24;
  let q = scratch;
  if (v < 0) {
    store<u8>(q, 0x2d);
    q = digits(q + 1, <u64>0 - <u64>v);
  } else {
    q = digits(q, <u64>v);
  }
  const n = q - scratch;
  let h = digits(p + 1, <u64>n);
  store<u16>(h, 0x0a0d);
  h += 2;
  memory.copy(h, scratch, n);
  count++;
  bulkEnd(h + n);
}

/** The command written since beginCommand, as the bytes to send. */
export function endCommand(): ArrayBuffer {
  // `*N\r\n`, right before the first argument.
  const tmp = buf; // the header room is free: write the digits there, then move them into place
  const end = digits(tmp, <u64>count);
  const nd = end - tmp;
  const start = HEADER_ROOM - nd - 3;
  memory.copy(buf + start + 1, tmp, nd);
  store<u8>(buf + start, 0x2a);
  store<u16>(buf + start + 1 + nd, 0x0a0d);
  const size = len - start;
  const out = new ArrayBuffer(<i32>size);
  memory.copy(changetype<usize>(out), buf + start, size);
  return out;
}
