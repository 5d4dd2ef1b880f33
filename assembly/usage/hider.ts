// Hides from the client what asking for usage added to an OpenAI stream (chat/completions), when
// the plugin asked (stream_options.include_usage) and the client had not: the client then sees the
// stream it would have seen without us. With include_usage the upstream adds
//   - one event before `data: [DONE]` whose `choices` is `[]` and whose `usage` holds the counts:
//     removed whole (its lines and the blank line that ends it);
//   - a `"usage":null` member to every other chunk's top-level object: removed from that event's
//     data line (with the comma that joined it), when the event's data is on one line.
// (OpenAI's API reference, ChatCompletionStreamOptions.include_usage: "an additional chunk will be
// streamed before the data: [DONE] message ... the choices field will always be an empty array.
// All other chunks will also include a usage field, but with a null value." vLLM and SGLang write
// the usage chunk with choices=[] too; vLLM's OpenAI server sets usage=None on the other chunks
// under include_usage, which its serializer then writes as null.)
//
// Everything else goes out byte for byte. An SSE block (lines up to a blank line) can only be judged
// once complete, so the bytes of an incomplete block at the end of a chunk are held back and go out
// with the chunk that completes it. At most MAX_HELD_BYTES are held: a block that grows past it is
// sent as it is, unfiltered, from then on. At the end of the body everything held is sent.
//
// Driven by ResponseReader: begin(chunk) → the scanner's blockEnd() calls while it reads the chunk →
// end(). Positions are pointers into the chunk being fed; held bytes are the hider's own (at most
// MAX_HELD_BYTES, let go once sent past KEEP_BYTES); the output is in a buffer all hiders share,
// valid until any hider's next chunk — the caller sends it before then.
import { BLOCK_KEEP, BLOCK_USAGE_NULL, BLOCK_USAGE_ONLY, SseBlockSink } from "./scanner";
import { quick } from "./fast_path";

// What to do with an LF that follows a block's closing CR in the next chunk (the CR LF is one line end).
const LF_NONE: u8 = 0;
const LF_KEEP: u8 = 1; // the block went out: so does the LF
const LF_DROP: u8 = 2; // the block was removed: so is the LF

/** The most bytes of an incomplete SSE block held back between chunks. */
export const MAX_HELD_BYTES: i32 = 65536;

/** A growable byte buffer: grows to the content it holds, doubling up to `cap` (never past `cap` unless the content needs it). */
class Bytes {
  data: Uint8Array = new Uint8Array(0);
  length: i32 = 0;

  constructor(private readonly cap: i32 = i32.MAX_VALUE) {}

  append(p: usize, n: i32): void {
    if (n <= 0) return;
    const need = this.length + n;
    if (need > this.data.length) {
      let size = this.data.length * 2;
      if (size < 256) size = 256;
      if (size > this.cap) size = this.cap;
      if (size < need) size = need;
      const grown = new Uint8Array(size);
      memory.copy(grown.dataStart, this.data.dataStart, <usize>this.length);
      this.data = grown;
    }
    memory.copy(this.data.dataStart + <usize>this.length, p, <usize>n);
    this.length = need;
  }

  @inline
  get ptr(): usize {
    return this.data.dataStart;
  }

  /** Empty; a buffer grown past `keep` bytes is let go (a live stream between big events, or a pooled hider, keeps little). */
  clear(keep: i32): void {
    this.length = 0;
    if (this.data.length > keep) this.data = new Uint8Array(0);
    this.shown = null;
  }

  private shown: Uint8Array | null = null;

  /**
   * The content as a Uint8Array valid until the next change: one view object per buffer, its length
   * set in place, so a rewritten chunk costs no allocation (the view never reaches past the buffer).
   */
  view(): Uint8Array {
    const buffer = this.data.buffer;
    let v = this.shown;
    if (v === null || v.buffer !== buffer) {
      v = Uint8Array.wrap(buffer, 0, this.length);
      this.shown = v;
    } else {
      store<i32>(changetype<usize>(v), this.length, offsetof<Uint8Array>("byteLength"));
    }
    return v;
  }
}

/** What a hider's held buffer may keep once empty (between blocks, and in the pool between responses). */
const KEEP_BYTES: i32 = 16384;

// A block being edited, and a chunk's output, live only within one call of one hider (the output is
// sent before the callback returns): one pair for the whole VM, so that a live stream keeps nothing
// but its held bytes (at most MAX_HELD_BYTES), whatever the size of the events it has seen.
const sharedOut: Bytes = new Bytes();
const sharedScratch: Bytes = new Bytes();

export class UsageEventHider extends SseBlockSink {
  /** Usage-only events removed, and `"usage":null` members removed. */
  removedEvents: i32 = 0;
  removedNulls: i32 = 0;
  /** Blocks sent unfiltered because they grew past MAX_HELD_BYTES while incomplete. */
  oversizedBlocks: i32 = 0;

  private held: Bytes = new Bytes(MAX_HELD_BYTES); // the start of the current block, from earlier chunks
  private out: Bytes = sharedOut; // this chunk's output, once it differs from the chunk (shared: see above)
  private scratch: Bytes = sharedScratch; // a whole block being edited (shared)
  private chunk: usize = 0;
  private chunkEnd: usize = 0;
  private copying: bool = false; // the output is in `out` (else: it is the chunk's prefix up to `same`)
  private same: usize = 0;
  private blockStart: usize = 0; // where the current block starts in this chunk
  private passthrough: bool = false; // the current block is going out unfiltered
  private lfAfterCR: u8 = LF_NONE; // a block ended with CR at the end of the last chunk: an LF first in this one is its

  /** As new, keeping small buffers: for a pooled reader. */
  recycle(): void {
    this.removedEvents = 0;
    this.removedNulls = 0;
    this.oversizedBlocks = 0;
    this.held.clear(KEEP_BYTES);
    this.chunk = 0;
    this.chunkEnd = 0;
    this.copying = false;
    this.same = 0;
    this.blockStart = 0;
    this.passthrough = false;
    this.lfAfterCR = LF_NONE;
  }

  /** A chunk [ptr, ptr + len) is about to be read. */
  begin(ptr: usize, len: usize): void {
    this.chunk = ptr;
    this.chunkEnd = ptr + len;
    this.copying = false;
    this.same = ptr;
    this.blockStart = ptr;
    this.out.length = 0;
    const lf = this.lfAfterCR;
    if (lf != LF_NONE && len > 0) {
      this.lfAfterCR = LF_NONE;
      if (load<u8>(ptr) == 0x0a) {
        if (lf == LF_KEEP) this.keep(ptr, ptr + 1);
        this.blockStart = ptr + 1;
      }
    }
  }

  blockEnd(at: usize, kind: u8, cr: bool): void {
    const from = this.blockStart;
    if (cr) {
      // A CR LF line end: the LF is this block's too.
      if (at < this.chunkEnd) {
        if (load<u8>(at) == 0x0a) at++;
      } else {
        this.lfAfterCR = kind == BLOCK_USAGE_ONLY && !this.passthrough ? LF_DROP : LF_KEEP;
      }
    }
    this.blockStart = at;
    if (this.passthrough) {
      this.passthrough = false;
      this.keep(from, at);
      return;
    }
    if (kind == BLOCK_USAGE_ONLY) {
      this.diverge();
      this.held.clear(KEEP_BYTES);
      this.removedEvents++;
      return;
    }
    if (kind == BLOCK_USAGE_NULL) {
      const s = this.scratch;
      s.length = 0;
      s.append(this.held.ptr, this.held.length);
      s.append(from, <i32>(at - from));
      const n = removeNullUsage(s.ptr, s.length);
      if (n >= 0) {
        this.diverge();
        this.held.clear(KEEP_BYTES);
        this.out.append(s.ptr, n);
        this.removedNulls++;
        return;
      }
    }
    this.flushHeld();
    this.keep(from, at);
  }

  quickBlockEnd(at: usize, kind: u8): void {
    // The quick path validated the event and knows where its one `usage` member is: cut it there
    // instead of walking the block again (same cut as removeNullUsage's).
    const q = quick;
    const from = this.blockStart;
    if (kind != BLOCK_USAGE_NULL || this.passthrough || this.held.length > 0 || q.usageMembers != 1 || q.usageSep < from || q.usageValueEnd > at) {
      this.blockEnd(at, kind, false);
      return;
    }
    if (!memberCut(at, q.usageSep, q.usageKeyAt, q.usageValueEnd)) {
      this.blockEnd(at, kind, false);
      return;
    }
    // The block goes out around the cut, straight from the chunk (no copy to edit in place).
    this.blockStart = at;
    this.keep(from, cutFrom);
    this.keep(cutTo, at);
    this.removedNulls++;
  }

  /**
   * The chunk has been read. last: the body ends here, and what is left is a block of `lastKind`
   * (the event the scanner's finish() dispatched). hold: what is left may be held back (an SSE body;
   * false while the format is undecided or for JSON, which then goes out as it comes). Returns the
   * bytes to send instead of the chunk, or null when they are the chunk itself.
   */
  end(last: bool, lastKind: u8, hold: bool): Uint8Array | null {
    const rest = this.blockStart;
    const end = this.chunkEnd;
    if (last) {
      if (this.held.length > 0 || rest < end) this.blockEnd(end, lastKind, false);
    } else if (!hold || this.passthrough) {
      this.flushHeld();
      this.keep(rest, end);
    } else if (this.held.length + <i32>(end - rest) > MAX_HELD_BYTES) {
      this.passthrough = true;
      this.oversizedBlocks++;
      this.flushHeld();
      this.keep(rest, end);
    } else if (rest < end) {
      this.diverge();
      this.held.append(rest, <i32>(end - rest));
    }
    if (!this.copying && this.same == end) return null;
    this.diverge();
    return this.out.view();
  }

  /** The output goes on with chunk bytes [from, to). */
  private keep(from: usize, to: usize): void {
    if (from >= to) return;
    if (!this.copying && from == this.same) {
      this.same = to;
      return;
    }
    this.diverge();
    this.out.append(from, <i32>(to - from));
  }

  /** The output stops being the chunk's prefix: copy that prefix into `out`. */
  private diverge(): void {
    if (this.copying) return;
    this.copying = true;
    this.out.length = 0;
    this.out.append(this.chunk, <i32>(this.same - this.chunk));
  }

  private flushHeld(): void {
    const h = this.held;
    if (h.length == 0) return;
    this.diverge();
    this.out.append(h.ptr, h.length);
    h.clear(KEEP_BYTES);
  }
}

@inline
function isSpace(c: u32): bool {
  return c == 0x20 || c == 0x09 || c == 0x0a || c == 0x0d;
}

/**
 * In the SSE block [p, p + n) whose one data line holds a valid JSON object: removes the top-level
 * member `"usage": null` with the comma that joins it to its neighbour. Returns the block's new
 * length, or -1 when there is no such member written plainly (an escaped key is left alone).
 */
export function removeNullUsage(p: usize, n: i32): i32 {
  const end = p + <usize>n;
  // The data line: the first line that starts with "data:".
  let line = p;
  let js: usize = 0;
  while (line < end) {
    if (line + 5 <= end && load<u8>(line) == 0x64 && load<u8>(line + 1) == 0x61 && load<u8>(line + 2) == 0x74 && load<u8>(line + 3) == 0x61 && load<u8>(line + 4) == 0x3a) {
      js = line + 5;
      if (js < end && load<u8>(js) == 0x20) js++;
      break;
    }
    while (line < end && load<u8>(line) != 0x0a && load<u8>(line) != 0x0d) line++;
    while (line < end && (load<u8>(line) == 0x0a || load<u8>(line) == 0x0d)) line++;
  }
  if (js == 0) return -1;
  let je = js;
  while (je < end && load<u8>(je) != 0x0a && load<u8>(je) != 0x0d) je++;
  // Walk the JSON text: depth, strings, and at depth 1 where each member starts.
  let depth = 0;
  let sep: usize = 0; // the '{' or ',' before the current top-level member
  let expectKey = false;
  let q = js;
  while (q < je) {
    const c = <u32>load<u8>(q);
    if (c == 0x22) {
      const keyAt = q;
      const isKey = depth == 1 && expectKey;
      expectKey = false;
      q++;
      while (q < je) {
        const b = <u32>load<u8>(q);
        if (b == 0x5c) { q += 2; continue; }
        if (b == 0x22) break;
        q++;
      }
      if (q >= je) return -1;
      q++; // after the closing quote
      if (isKey && q - keyAt == 7 && load<u8>(keyAt + 1) == 0x75 && load<u8>(keyAt + 2) == 0x73 && load<u8>(keyAt + 3) == 0x61 && load<u8>(keyAt + 4) == 0x67 && load<u8>(keyAt + 5) == 0x65) {
        let v = q;
        while (v < je && isSpace(load<u8>(v))) v++;
        if (v >= je || load<u8>(v) != 0x3a) return -1;
        v++;
        while (v < je && isSpace(load<u8>(v))) v++;
        if (v + 4 > je || load<u32>(v) != 0x6c6c756e) continue; // not null: look further ("null" little-endian)
        if (!memberCut(je, sep, keyAt, v + 4)) return -1;
        memory.copy(cutFrom, cutTo, end - cutTo);
        return n - <i32>(cutTo - cutFrom);
      }
      continue;
    }
    if (c == 0x7b || c == 0x5b) {
      depth++;
      if (depth == 1 && c == 0x7b) { expectKey = true; sep = q; }
    } else if (c == 0x7d || c == 0x5d) {
      depth--;
    } else if (c == 0x2c && depth == 1) {
      expectKey = true;
      sep = q;
    }
    q++;
  }
  return -1;
}

// The bytes memberCut() chose to remove: [cutFrom, cutTo).
let cutFrom: usize = 0;
let cutTo: usize = 0;

/**
 * The bytes to remove with the top-level member whose key starts at keyAt and whose value ends at
 * valueEnd (on a data line ending at je; `sep`: the '{' or ',' before the member), with the comma
 * that joins it: sets [cutFrom, cutTo); false when no ',' or '}' follows the value.
 */
function memberCut(je: usize, sep: usize, keyAt: usize, valueEnd: usize): bool {
  let after = valueEnd;
  while (after < je && isSpace(load<u8>(after))) after++;
  if (after >= je || (load<u8>(after) != 0x2c && load<u8>(after) != 0x7d)) return false;
  if (load<u8>(sep) == 0x2c) {
    cutFrom = sep; // ',"usage":null', and the blanks after it (those before the comma stay)
    cutTo = after;
  } else {
    // The first member: take the comma after it (and the blanks up to the next key) instead.
    cutFrom = keyAt;
    let to = load<u8>(after) == 0x2c ? after + 1 : valueEnd;
    if (to != valueEnd) while (to < je && isSpace(load<u8>(to))) to++;
    cutTo = to;
  }
  return true;
}
