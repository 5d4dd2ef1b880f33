// RESP on the Node side: finding where one reply ends in a byte stream (so pipelined replies can
// be matched to their callouts), encoding a command, and decoding commands and replies into JS
// values for records and tests. RESP3 types are framed too, in case a server speaks them.

/** Offset just past the CRLF-terminated line starting at `pos`, or -1 when it is incomplete. */
function lineEnd(buf: Buffer, pos: number): number {
  const cr = buf.indexOf("\r\n", pos, "latin1");
  return cr < 0 ? -1 : cr + 2;
}

function headerNumber(buf: Buffer, pos: number, end: number): number {
  return Number(buf.toString("latin1", pos + 1, end - 2));
}

/**
 * The end offset of the complete RESP value starting at `start`, -1 when more bytes are needed,
 * or throws on bytes that are not RESP. Iterative (a count of values still owed), so nesting depth
 * costs nothing.
 */
export function scanValue(buf: Buffer, start: number): number {
  let pos = start;
  let owed = 1;
  while (owed > 0) {
    if (pos >= buf.length) return -1;
    const end = lineEnd(buf, pos);
    if (end < 0) return -1;
    const type = String.fromCharCode(buf[pos]);
    owed--;
    switch (type) {
      case "+": case "-": case ":": case "_": case "#": case ",": case "(":
        pos = end;
        break;
      case "$": case "!": case "=": {
        const n = headerNumber(buf, pos, end);
        if (!Number.isInteger(n)) throw new Error("RESP: bad bulk length");
        if (n < 0) { pos = end; break; }
        if (end + n + 2 > buf.length) return -1;
        pos = end + n + 2;
        break;
      }
      case "*": case "~": case ">": case "%": case "|": {
        const n = headerNumber(buf, pos, end);
        if (!Number.isInteger(n)) throw new Error("RESP: bad aggregate length");
        if (n > 0) owed += type === "%" || type === "|" ? 2 * n : n;
        if (type === "|") owed++; // an attribute is followed by the value it describes
        pos = end;
        break;
      }
      default:
        throw new Error(`RESP: unexpected type byte 0x${buf[pos].toString(16)}`);
    }
  }
  return pos;
}

/** Splits a byte stream into whole replies; keeps what is left over for the next chunk. */
export class RespFramer {
  private pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Buffer[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const replies: Buffer[] = [];
    let start = 0;
    for (;;) {
      const end = scanValue(this.pending, start);
      if (end < 0) break;
      replies.push(this.pending.subarray(start, end));
      start = end;
    }
    this.pending = this.pending.subarray(start);
    return replies;
  }
}

/** How many complete top-level values `buf` holds, or -1 when it ends mid-value or is not RESP. */
export function countValues(buf: Buffer): number {
  let count = 0;
  let pos = 0;
  try {
    while (pos < buf.length) {
      const end = scanValue(buf, pos);
      if (end < 0) return -1;
      pos = end;
      count++;
    }
  } catch {
    return -1;
  }
  return count;
}

export function encodeCommand(args: Array<string | number | Buffer>): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`, "latin1")];
  for (const a of args) {
    const b = Buffer.isBuffer(a) ? a : Buffer.from(String(a), "utf8");
    parts.push(Buffer.from(`$${b.length}\r\n`, "latin1"), b, Buffer.from("\r\n", "latin1"));
  }
  return Buffer.concat(parts);
}

export type RespValue = string | number | bigint | null | RespError | RespValue[];

export class RespError extends Error {}

/** Decodes one value at `pos`; the caller has framed it already (see scanValue). */
export function decodeValue(buf: Buffer, pos = 0): { value: RespValue; end: number } {
  const end = lineEnd(buf, pos);
  if (end < 0) throw new Error("RESP: incomplete value");
  const type = String.fromCharCode(buf[pos]);
  const line = buf.toString("utf8", pos + 1, end - 2);
  switch (type) {
    case "+": return { value: line, end };
    case "-": return { value: new RespError(line), end };
    case ":": {
      const n = BigInt(line);
      return { value: n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n, end };
    }
    case "_": return { value: null, end };
    case "$": {
      const n = Number(line);
      if (n < 0) return { value: null, end };
      return { value: buf.toString("utf8", end, end + n), end: end + n + 2 };
    }
    case "*": {
      const n = Number(line);
      if (n < 0) return { value: null, end };
      const items: RespValue[] = [];
      let p = end;
      for (let i = 0; i < n; i++) {
        const d = decodeValue(buf, p);
        items.push(d.value);
        p = d.end;
      }
      return { value: items, end: p };
    }
    default:
      throw new Error(`RESP: cannot decode type '${type}'`);
  }
}

/**
 * Whether `query` is one array of bulk strings, each closed by CRLF, and nothing else: checked on
 * the bytes, without decoding (a query this accepts, decodeCommand accepts too; for the rest, ask
 * decodeCommand).
 */
export function isPlainCommand(query: Buffer): boolean {
  if (query.length < 4 || query[0] !== 0x2a) return false;
  const head = lineEnd(query, 0);
  if (head < 0) return false;
  const n = headerNumber(query, 0, head);
  if (!Number.isInteger(n) || n < 0) return false;
  let pos = head;
  for (let i = 0; i < n; i++) {
    if (pos >= query.length || query[pos] !== 0x24) return false;
    const end = lineEnd(query, pos);
    if (end < 0) return false;
    const len = headerNumber(query, pos, end);
    if (!Number.isInteger(len) || len < 0 || end + len + 2 > query.length) return false;
    if (query[end + len] !== 0x0d || query[end + len + 1] !== 0x0a) return false;
    pos = end + len + 2;
  }
  return pos === query.length;
}

/** A command as its arguments, or null when `query` is not exactly one array of bulk strings. */
export function decodeCommand(query: Buffer): string[] | null {
  if (countValues(query) !== 1) return null;
  try {
    const { value } = decodeValue(query, 0);
    if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) return null;
    return value as string[];
  } catch {
    return null;
  }
}
