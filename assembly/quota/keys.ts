// Every Redis key ai-quota derives, in one place.
//
// A consumer's balance is Higress's key, `redis_key_prefix + consumer`, byte for byte, for every
// name. Everything else the plugin keeps (window counters, settlement markers, anonymous clients'
// windows) lives outside the prefix, in two namespaces of its own, and is laid out as
//
//   ai_quota_state:{<tag>}:<kind>:<n>:<subject>:<unit>:<window>:<start>    a window counter
//   ai_quota_settled:{<tag>}:<kind>:<n>:<subject>:<id>                     a settlement marker
//   ai_quota_state:{<tag>}:<kind>:<n>:<subject>:usage:d:<YYYY-MM-DD>        spend history of a day
//   ai_quota_state:{<tag>}:<kind>:<n>:<subject>:usage:m:<YYYY-MM>           … and of a month
//
// where <kind> is `c` for a consumer (subject = its balance key) or `a` for an anonymous client
// (subject = prefix + "anonymous:<address>"), and <n> is the subject's length in UTF-8 bytes. The
// tag holds no `}`, and the length says where the subject ends, so a key names exactly one
// (kind, subject, window or marker): no consumer name reaches another consumer's keys, and an
// anonymous client never shares keys with a consumer literally named `anonymous:1.2.3.4`.
// A prefix that overlaps the two namespaces is refused at configure (prefixProblem), so no
// balance key can equal a derived key either.
//
// Redis Cluster: the tag puts every derived key in the slot Redis really uses for the balance key
// (Redis hashes the part between the first `{` and the first `}` after it when that part is not
// empty, else the whole key). So the tag is the balance key's own tag when it has one; else the
// whole balance key when that holds no `}`; else a computed 4-character tag whose CRC16 lands in
// the balance key's slot (tagForSlot). Anonymous clients' subjects contain a client-written
// address: their own braces are never honoured, the slot is always that of the whole subject.

import { nowNanos } from "../abi/clock";
import { addInt, addText, beginText, endText, textFrom, textLength } from "../util/text";

/** Where window counters live. */
export const STATE_NAMESPACE = "ai_quota_state:";
/** Where settlement markers live. */
export const SETTLED_NAMESPACE = "ai_quota_settled:";
/** Redis Cluster's hash slots. */
export const CLUSTER_SLOTS: i32 = 16384;

const OPEN_BRACE: i32 = 0x7b;
const CLOSE_BRACE: i32 = 0x7d;

/** A consumer's (or an anonymous client's) keys. */
export class ConsumerKeys {
  private stemText: string | null = null;

  constructor(
    /** Higress's balance key; for an anonymous client, a key in its slot that is never written. */
    public balance: string,
    /** The hash tag's content, the kind (`c` or `a`) and the subject the derived keys name. */
    private tag: string,
    private kind: string,
    private subject: string,
  ) {}

  /** `{<tag>}:<kind>:<n>:<subject>`, shared by every derived key of this subject (made when first asked). */
  get stem(): string {
    let s = this.stemText;
    if (s === null) {
      beginText();
      this.addStem();
      s = endText();
      this.stemText = s;
    }
    return s;
  }

  private addStem(): void {
    addText("{");
    addText(this.tag);
    addText("}:");
    addText(this.kind);
    addText(":");
    addInt(String.UTF8.byteLength(this.subject));
    addText(":");
    addText(this.subject);
  }

  /** The counter of one window: `unit` requests|tokens, `window` as configured, `start` epoch seconds. */
  window(unit: string, window: string, start: i64): string {
    return STATE_NAMESPACE + this.stem + ":" + unit + ":" + window + ":" + start.toString();
  }

  /** The spend history of one UTC day ("2026-12-07"), a hash of `<model>\n<i|o|u|r>` (spend_history.ts). */
  usageDay(date: string): string {
    return STATE_NAMESPACE + this.stem + ":usage:d:" + date;
  }

  /** The spend history of one UTC month ("2026-12"), as usageDay. */
  usageMonth(month: string): string {
    return STATE_NAMESPACE + this.stem + ":usage:m:" + month;
  }

  /** A settlement marker with this id (see newMarker). */
  marker(id: string): string {
    return SETTLED_NAMESPACE + this.stem + ":" + id;
  }

  /** A fresh marker key for one request (unique among every VM writing to this Redis), made in one go. */
  newMarker(contextId: u32, requestId: string): string {
    beginText();
    addText(SETTLED_NAMESPACE);
    this.addStem();
    addText(":");
    addSettlementId(contextId, requestId);
    return endText();
  }
}

/** A consumer's keys; the balance key is `prefix + consumer`. */
export function consumerKeys(prefix: string, consumer: string): ConsumerKeys {
  const balance = prefix + consumer;
  return new ConsumerKeys(balance, balanceTag(balance), "c", balance);
}

/** An anonymous client's keys (`client` is "anonymous:<address>"); it has no balance. */
export function anonymousKeys(prefix: string, client: string): ConsumerKeys {
  const subject = prefix + client;
  const keys = new ConsumerKeys("", wholeKeyTag(subject), "a", subject);
  keys.balance = STATE_NAMESPACE + keys.stem;
  return keys;
}

export function keysFor(prefix: string, name: string, anonymous: bool): ConsumerKeys {
  return anonymous ? anonymousKeys(prefix, name) : consumerKeys(prefix, name);
}

/** "" when `prefix` may be used as redis_key_prefix, else why not. */
export function prefixProblem(prefix: string): string {
  if (overlaps(prefix, STATE_NAMESPACE) || overlaps(prefix, SETTLED_NAMESPACE)) {
    return "redis_key_prefix must not overlap the plugin's own key namespaces " + STATE_NAMESPACE + " and " + SETTLED_NAMESPACE;
  }
  return "";
}

function overlaps(a: string, b: string): bool {
  return a.startsWith(b) || b.startsWith(a);
}

// ---- hash tags and slots ----

/**
 * The tag content that puts a derived key in `balance`'s slot: its own tag, else the whole key
 * when it holds no `}`, else a computed one.
 */
export function balanceTag(balance: string): string {
  const own = ownTag(balance);
  if (own !== null) return own;
  return wholeKeyTag(balance);
}

/** A tag content whose slot is that of the whole of `key`, whatever braces it holds. */
function wholeKeyTag(key: string): string {
  if (key.length > 0 && key.indexOf("}") < 0) return key;
  return tagForSlot(slotOfWhole(key));
}

/**
 * Redis's rule: the part between the first `{` and the first `}` after it, when not empty; else
 * null. `{` and `}` are single UTF-16 units that never occur inside a surrogate pair, so the
 * string's part encodes to exactly the bytes Redis sees between them.
 */
export function ownTag(key: string): string | null {
  const open = key.indexOf("{");
  if (open < 0) return null;
  const close = key.indexOf("}", open + 1);
  if (close <= open + 1) return null;
  return key.substring(open + 1, close);
}

/** The Redis Cluster slot of `key` (hash tags honoured), over the UTF-8 bytes the plugin sends. */
export function keySlot(key: string): i32 {
  const own = ownTag(key);
  return slotOfWhole(own !== null ? own : key);
}

function slotOfWhole(s: string): i32 {
  const bytes = String.UTF8.encode(s, false, String.UTF8.ErrorMode.REPLACE);
  return <i32>(crc16(changetype<usize>(bytes), bytes.byteLength) & <u32>(CLUSTER_SLOTS - 1));
}

let crcTable: StaticArray<u16> | null = null;

function table(): StaticArray<u16> {
  let t = crcTable;
  if (t !== null) return t;
  t = new StaticArray<u16>(256);
  for (let i = 0; i < 256; i++) {
    let c = <u32>i << 8;
    for (let k = 0; k < 8; k++) c = (c & 0x8000) != 0 ? (c << 1) ^ 0x1021 : c << 1;
    t[i] = <u16>(c & 0xffff);
  }
  crcTable = t;
  return t;
}

/** CRC16-CCITT (XMODEM: polynomial 0x1021, initial 0, no reflection), Redis Cluster's key hash. */
export function crc16(p: usize, len: i32): u32 {
  const t = table();
  let crc: u32 = 0;
  for (let i = 0; i < len; i++) {
    const b = <u32>load<u8>(p + <usize>i);
    crc = ((crc << 8) ^ <u32>t[((crc >> 8) ^ b) & 0xff]) & 0xffff;
  }
  return crc;
}

// A computed tag: TAG_LENGTH characters, each 0x40 plus 5 free bits ('@', 'A'..'Z', '[', '\\',
// ']', '^', '_': printable, never a brace). With an initial value of 0, CRC16 is linear over
// GF(2) in the message bits, so crc(base ^ x) = crc(base) ^ crc(x): the slot is an affine function
// of the 20 free bits, and a slot is reached by solving a 14×20 linear system. The solver keeps
// one reduced basis vector per slot bit (with the free bits that make it); the tests check that
// every one of the 16384 slots is reached.
const TAG_LENGTH: i32 = 4;
const FREE_BITS: i32 = 5;
const TAG_BASE: u32 = 0x40;
const SLOT_BITS: i32 = 14;

let basis: StaticArray<u32> | null = null;
let basisBits: StaticArray<u32> = new StaticArray<u32>(SLOT_BITS);
let baseSlot: u32 = 0;

function solver(): StaticArray<u32> {
  let b = basis;
  if (b !== null) return b;
  b = new StaticArray<u32>(SLOT_BITS);
  const msg = new StaticArray<u8>(TAG_LENGTH);
  const p = changetype<usize>(msg);
  for (let i = 0; i < TAG_LENGTH; i++) msg[i] = <u8>TAG_BASE;
  baseSlot = crc16(p, TAG_LENGTH) & <u32>(CLUSTER_SLOTS - 1);
  for (let i = 0; i < TAG_LENGTH; i++) {
    for (let j = 0; j < FREE_BITS; j++) {
      for (let k = 0; k < TAG_LENGTH; k++) msg[k] = 0;
      msg[i] = <u8>(<u32>1 << <u32>j);
      let v = crc16(p, TAG_LENGTH) & <u32>(CLUSTER_SLOTS - 1);
      let bits: u32 = 1 << <u32>(i * FREE_BITS + j);
      for (let bit = SLOT_BITS - 1; bit >= 0 && v != 0; bit--) {
        if ((v & (1 << <u32>bit)) == 0) continue;
        if (b[bit] == 0) {
          b[bit] = v;
          basisBits[bit] = bits;
          break;
        }
        v ^= b[bit];
        bits ^= basisBits[bit];
      }
    }
  }
  basis = b;
  return b;
}

/**
 * TAG_LENGTH printable characters without braces whose CRC16 lands in `slot` (0..16383); ""
 * for a slot out of range or (never, see the tests) one the system cannot reach.
 */
export function tagForSlot(slot: i32): string {
  if (slot < 0 || slot >= CLUSTER_SLOTS) return "";
  const b = solver();
  let target = (<u32>slot ^ baseSlot) & <u32>(CLUSTER_SLOTS - 1);
  let bits: u32 = 0;
  for (let bit = SLOT_BITS - 1; bit >= 0; bit--) {
    if ((target & (1 << <u32>bit)) == 0) continue;
    if (b[bit] == 0) return "";
    target ^= b[bit];
    bits ^= basisBits[bit];
  }
  let tag = "";
  for (let i = 0; i < TAG_LENGTH; i++) {
    tag += String.fromCharCode(<i32>(TAG_BASE | ((bits >> <u32>(i * FREE_BITS)) & ((1 << <u32>FREE_BITS) - 1))));
  }
  return tag;
}

// ---- settlement ids ----

let settlements: u64 = 0;
let vmStamp: string = "";

/**
 * Unique among every VM writing to this Redis: when this VM first settled, its stream, a counter,
 * and Envoy's x-request-id. Two VMs can start in the same clock tick, so the stamp alone is not
 * enough; a client-sent x-request-id alone is not either (it could repeat one to settle for free).
 */
function addSettlementId(contextId: u32, requestId: string): void {
  if (vmStamp.length == 0) {
    // (Made before anything is added: the text scratch is in use.)
    const t = nowNanos();
    const start = textLength();
    addInt(<i64>t, 36);
    vmStamp = textFrom(start);
  } else {
    addText(vmStamp);
  }
  settlements++;
  addText("-");
  addInt(<i64>contextId, 36);
  addText("-");
  addInt(<i64>settlements, 36);
  addText("-");
  addText(requestId);
}
