// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320, initial and final XOR 0xFFFFFFFF): the
// checksum of the AWS event-stream framing's prelude and message (the same CRC as zlib's crc32).
// Incremental: crc32Update(crc32Update(CRC32_START, a), b) then crc32Final equals the CRC of a ++ b.

/** The running value before any byte. */
export const CRC32_START: u32 = 0xffffffff;

let table: StaticArray<u32> | null = null;

function crcTable(): StaticArray<u32> {
  let t = table;
  if (t !== null) return t;
  t = new StaticArray<u32>(256);
  for (let i: u32 = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    unchecked(t[i] = c);
  }
  table = t;
  return t;
}

/** The running value after the n bytes at p. */
export function crc32Update(crc: u32, p: usize, n: usize): u32 {
  const t = crcTable();
  let c = crc;
  for (let i: usize = 0; i < n; i++) {
    c = unchecked(t[(c ^ <u32>load<u8>(p + i)) & 0xff]) ^ (c >>> 8);
  }
  return c;
}

/** The CRC of everything fed to a running value. */
@inline
export function crc32Final(crc: u32): u32 {
  return crc ^ 0xffffffff;
}

/** The CRC-32 of the n bytes at p. */
export function crc32(p: usize, n: usize): u32 {
  return crc32Final(crc32Update(CRC32_START, p, n));
}
