// Strings built in one scratch buffer and made once, instead of a concatenation per part (each of
// which allocates an intermediate string): beginText(); addText(a); addInt(n); const s = endText();
// One string at a time (callbacks never nest); the scratch grows to the longest string built.

let units = new StaticArray<u16>(256);
let length: i32 = 0;

export function beginText(): void {
  length = 0;
}

function room(n: i32): usize {
  const need = length + n;
  if (need > units.length) {
    let size = units.length << 1;
    if (size < need) size = need;
    const grown = new StaticArray<u16>(size);
    memory.copy(changetype<usize>(grown), changetype<usize>(units), <usize>length << 1);
    units = grown;
  }
  return changetype<usize>(units) + (<usize>length << 1);
}

export function addText(s: string): void {
  const n = s.length;
  const p = room(n);
  memory.copy(p, changetype<usize>(s), <usize>n << 1);
  length += n;
}

/** v in `radix` (2..36, lower-case letters), as toString(radix) writes it. */
export function addInt(v: i64, radix: i32 = 10): void {
  const p = room(66);
  let u: u64 = v < 0 ? <u64>0 - <u64>v : <u64>v;
  let n = 0;
  if (v < 0) {
    store<u16>(p, 0x2d);
    n = 1;
  }
  let digits = 1;
  for (let t = u; t >= <u64>radix; t /= <u64>radix) digits++;
  let q = p + (<usize>(n + digits) << 1);
  do {
    q -= 2;
    const d = <u32>(u % <u64>radix);
    store<u16>(q, <u16>(d < 10 ? 0x30 + d : 0x57 + d));
    u /= <u64>radix;
  } while (u > 0);
  length += n + digits;
}

export function endText(): string {
  return String.UTF16.decodeUnsafe(changetype<usize>(units), <usize>length << 1);
}

/** How many units have been added since beginText (a mark for textFrom). */
export function textLength(): i32 {
  return length;
}

/** The units added since a mark, as a string (what was added stays). */
export function textFrom(start: i32): string {
  return String.UTF16.decodeUnsafe(changetype<usize>(units) + (<usize>start << 1), <usize>(length - start) << 1);
}

/**
 * s with ASCII A–Z lowered and every other unit kept (what "without regard to ASCII case" means in
 * the docs; the runtime's toLowerCase would also fold non-ASCII letters, and its tables cost size).
 */
export function asciiLower(s: string): string {
  const n = s.length;
  let i = 0;
  while (i < n) {
    const c = s.charCodeAt(i);
    if (c >= 0x41 && c <= 0x5a) break;
    i++;
  }
  if (i == n) return s;
  const out = changetype<string>(__new(<usize>n << 1, idof<string>()));
  const src = changetype<usize>(s);
  const dst = changetype<usize>(out);
  memory.copy(dst, src, <usize>i << 1);
  for (; i < n; i++) {
    const c = load<u16>(src + (<usize>i << 1));
    store<u16>(dst + (<usize>i << 1), c >= 0x41 && c <= 0x5a ? c | 0x20 : c);
  }
  return out;
}
