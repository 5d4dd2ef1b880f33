// Reads the binary AWS event-stream framing (Bedrock runtime's `invoke-with-response-stream` and
// `converse-stream` answers: content type application/vnd.amazon.eventstream) as it streams by,
// split at any byte. A message is
//   total length u32 BE | headers length u32 BE | prelude CRC32 (of the 8 bytes before) u32 BE |
//   headers | payload | message CRC32 (of every byte before it) u32 BE
// and a header is name length u8, name, value type u8, value (type 0/1 bool: no bytes; 2 byte: 1;
// 3 short: 2; 4 int: 4; 5 long: 8; 6 bytes and 7 string: u16 BE length then the bytes; 8 timestamp:
// 8; 9 uuid: 16). Facts from @smithy/eventstream-codec (EventStreamCodec, HeaderMarshaller) and
// botocore's eventstream.py (_PRELUDE_LENGTH 12, _MAX_HEADERS_LENGTH 128 KiB).
//
// Memory is bounded: one message is held at a time and never more than maxMessageBytes; a larger
// one, a bad CRC or lengths that cannot be a message make the reader fail, and it reads nothing
// more: a stream whose framing cannot be trusted cannot be trusted for usage (the caller estimates).
// Each message whose CRCs hold is handed to the sink with its `:event-type` and `:message-type`.
import { CRC32_START, crc32, crc32Final, crc32Update } from "../util/crc32";

const PRELUDE_BYTES: u32 = 12;
/** Prelude, no headers, no payload, message CRC. */
const MIN_MESSAGE_BYTES: u32 = 16;
/** botocore's limit on the headers of one message. */
const MAX_HEADERS_BYTES: u32 = 131072;

/** Why the reader stopped trusting the stream (ES_OK: it has not). */
export const ES_OK: i32 = 0;
export const ES_BAD_PRELUDE_CRC: i32 = 1;
export const ES_BAD_MESSAGE_CRC: i32 = 2;
/** A message longer than maxMessageBytes (never buffered). */
export const ES_TOO_LARGE: i32 = 3;
/** Lengths or headers that no encoder writes. */
export const ES_MALFORMED: i32 = 4;

/** Told of every message whose CRCs hold; payload and header values are valid during the call only. */
export class EventStreamSink {
  message(reader: EventStreamReader, payload: usize, payloadLen: usize): void {}
}

export class EventStreamReader {
  /** ES_OK, or why nothing more is read. */
  failure: i32 = ES_OK;
  /** Messages delivered. */
  messages: i32 = 0;
  sink: EventStreamSink;
  readonly maxMessageBytes: u32;

  private buf: Uint8Array = new Uint8Array(256);
  private got: u32 = 0; // bytes of the current message held
  private total: u32 = 0; // its length, once the prelude is read (0 before)
  private eventTypeAt: usize = 0;
  private eventTypeLen: usize = 0;
  private messageTypeAt: usize = 0;
  private messageTypeLen: usize = 0;

  constructor(sink: EventStreamSink, maxMessageBytes: u32 = 262144) {
    this.sink = sink;
    this.maxMessageBytes = maxMessageBytes < MIN_MESSAGE_BYTES ? MIN_MESSAGE_BYTES : maxMessageBytes;
  }

  /** As new, keeping the buffer unless it grew past spareBytes (then back to its first size). */
  recycle(spareBytes: i32 = i32.MAX_VALUE): void {
    if (this.buf.length > spareBytes) this.buf = new Uint8Array(256);
    this.failure = ES_OK;
    this.messages = 0;
    this.got = 0;
    this.total = 0;
  }

  get failed(): bool {
    return this.failure != ES_OK;
  }

  /** Bytes of a message begun and not ended (after the last chunk: the stream was cut mid-message). */
  get partialBytes(): u32 {
    return this.got;
  }

  /** The current message's `:event-type` is s (ASCII). */
  eventTypeIs(s: string): bool {
    return asciiIs(this.eventTypeAt, this.eventTypeLen, s);
  }

  /** The current message's `:message-type` is s ("event", "exception", "error"). */
  messageTypeIs(s: string): bool {
    return asciiIs(this.messageTypeAt, this.messageTypeLen, s);
  }

  /** The len bytes at p, read during the call only. */
  feed(p: usize, len: usize): void {
    let i: usize = 0;
    while (i < len && this.failure == ES_OK) {
      if (this.total == 0) {
        const want = <usize>(PRELUDE_BYTES - this.got);
        const n = len - i < want ? len - i : want;
        this.hold(p + i, n);
        i += n;
        if (this.got == PRELUDE_BYTES) this.readPrelude();
        continue;
      }
      const want = <usize>(this.total - this.got);
      const n = len - i < want ? len - i : want;
      this.hold(p + i, n);
      i += n;
      if (this.got == this.total) this.readMessage();
    }
  }

  private hold(p: usize, n: usize): void {
    memory.copy(this.buf.dataStart + <usize>this.got, p, n);
    this.got += <u32>n;
  }

  private readPrelude(): void {
    const b = this.buf.dataStart;
    const total = bigEndian32(b);
    const headers = bigEndian32(b + 4);
    if (crc32(b, 8) != bigEndian32(b + 8)) { this.fail(ES_BAD_PRELUDE_CRC); return; }
    if (total < MIN_MESSAGE_BYTES || headers > MAX_HEADERS_BYTES || headers > total - MIN_MESSAGE_BYTES) { this.fail(ES_MALFORMED); return; }
    if (total > this.maxMessageBytes) { this.fail(ES_TOO_LARGE); return; }
    if (<u32>this.buf.length < total) {
      // Grown to the largest message seen, bounded by maxMessageBytes.
      let size = <u32>this.buf.length;
      while (size < total) size <<= 1;
      if (size > this.maxMessageBytes) size = this.maxMessageBytes;
      const grown = new Uint8Array(<i32>size);
      memory.copy(grown.dataStart, b, PRELUDE_BYTES);
      this.buf = grown;
    }
    this.total = total;
  }

  private readMessage(): void {
    const b = this.buf.dataStart;
    const total = this.total;
    const crc = crc32Final(crc32Update(CRC32_START, b, <usize>(total - 4)));
    if (crc != bigEndian32(b + <usize>(total - 4))) { this.fail(ES_BAD_MESSAGE_CRC); return; }
    const headersLen = bigEndian32(b + 4);
    if (!this.readHeaders(b + <usize>PRELUDE_BYTES, <usize>headersLen)) { this.fail(ES_MALFORMED); return; }
    const payload = b + <usize>(PRELUDE_BYTES + headersLen);
    const payloadLen = <usize>(total - PRELUDE_BYTES - headersLen - 4);
    this.got = 0;
    this.total = 0;
    this.messages++;
    this.sink.message(this, payload, payloadLen);
  }

  /** Walks the headers, noting `:event-type` and `:message-type`; false: they run past their length. */
  private readHeaders(p: usize, n: usize): bool {
    this.eventTypeLen = 0;
    this.messageTypeLen = 0;
    let i: usize = 0;
    while (i < n) {
      const nameLen = <usize>load<u8>(p + i);
      i++;
      if (nameLen == 0 || i + nameLen + 1 > n) return false;
      const name = p + i;
      i += nameLen;
      const type = load<u8>(p + i);
      i++;
      let valueLen: usize = 0;
      let value = p + i;
      switch (type) {
        case 0: case 1: valueLen = 0; break;
        case 2: valueLen = 1; break;
        case 3: valueLen = 2; break;
        case 4: valueLen = 4; break;
        case 5: case 8: valueLen = 8; break;
        case 9: valueLen = 16; break;
        case 6: case 7: {
          if (i + 2 > n) return false;
          valueLen = (<usize>load<u8>(p + i) << 8) | <usize>load<u8>(p + i + 1);
          i += 2;
          value = p + i;
          break;
        }
        default: return false;
      }
      if (i + valueLen > n) return false;
      i += valueLen;
      if (type == 7 && asciiIs(name, nameLen, ":event-type")) { this.eventTypeAt = value; this.eventTypeLen = valueLen; }
      else if (type == 7 && asciiIs(name, nameLen, ":message-type")) { this.messageTypeAt = value; this.messageTypeLen = valueLen; }
    }
    return true;
  }

  private fail(why: i32): void {
    this.failure = why;
    this.got = 0;
    this.total = 0;
  }
}

@inline
function bigEndian32(p: usize): u32 {
  return bswap<u32>(load<u32>(p));
}

function asciiIs(p: usize, n: usize, s: string): bool {
  if (<usize>s.length != n) return false;
  for (let i: usize = 0; i < n; i++) {
    if (<u32>load<u8>(p + i) != <u32>s.charCodeAt(<i32>i)) return false;
  }
  return true;
}
