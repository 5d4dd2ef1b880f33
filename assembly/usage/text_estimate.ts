// The input estimate from the text a request carries, counted as its body streams (never held):
// every byte of every JSON string — keys included, so that tool schemas' property names, system
// prompts, Responses `input` arrays, Gemini `parts[].text`, image URLs and base64 all count — and
// of every bare value (numbers, literals) is put in a class by script; JSON's own structure outside
// strings (whitespace, `[]:,}`) is not text and costs nothing, and each `{` stands for the framing
// an upstream wraps around a message or a schema object. Nothing a client sends can be left out:
// there is no list of fields to hide text from. Tokens are the classes' bytes times a per-class
// rate (TEXT_RATES, milli-tokens per byte or per character), fitted on the corpus of real requests
// (tests/unit/estimate_corpus.ts; docs/metering.md has the measured error).
//
// Classes: ASCII letters, digits, spaces, other ASCII (punctuation, symbols, controls, and the
// backslash of an escape), characters of 2-, 3- and 4-byte UTF-8 (counted at their lead byte:
// Latin accents, Greek, Cyrillic, Hebrew, Arabic are 2 bytes; CJK, kana, Hangul, Indic scripts are
// 3; emoji are 4), and objects. A byte that is no UTF-8 lead or continuation counts as "other
// ASCII" (one token each, the most any byte can cost). State between chunks: two bits.

/** Number of classes (TextCounts.counts' length). */
export const TEXT_CLASSES: i32 = 9;
export const C_LETTER: i32 = 0;
export const C_DIGIT: i32 = 1;
export const C_SPACE: i32 = 2;
export const C_OTHER: i32 = 3;
export const C_UTF8_2: i32 = 4;
export const C_UTF8_3: i32 = 5;
export const C_UTF8_4: i32 = 6;
const C_CONTINUATION: i32 = 7; // not counted: part of the character its lead byte counted
export const C_OBJECT: i32 = 8;
// In the class table only (never counted): the bytes that end a run of string text.
const C_QUOTE: u32 = 9;
const C_BACKSLASH: u32 = 10;

/**
 * Milli-tokens per unit of each class (letters, digits, spaces, other ASCII bytes; 2-, 3-, 4-byte
 * characters; continuation bytes; objects). Each errs towards more tokens: digits as tokenizers
 * that split numbers into 1-3 digit pieces, punctuation nearly one token a byte, a CJK character
 * one token, an emoji two.
 */
const TEXT_RATES: StaticArray<i64> = [225, 333, 50, 400, 500, 1000, 2000, 0, 0];

// What an upstream adds that the body does not show, per API family and whether the request
// declares tools (a `"tools"` key anywhere): message framing and, with tools, the tool-use system
// prompt (Anthropic documents one of 313-346 tokens for its current models; Groq's and others' are
// larger). Fitted on the corpus as the 85th percentile of what each group's text falls short by,
// on half of its rows (split by a hash of their source) and checked on the other half
// (scripts/input-fit.ts; docs/metering.md has both figures).
export const API_CHAT: i32 = 0; // OpenAI chat and completions, and any other metered path
export const API_MESSAGES: i32 = 1;
export const API_RESPONSES: i32 = 2;
export const API_GEMINI: i32 = 3;
/** Tokens added per API family (index api × 2, + 1 with tools). */
const OVERHEAD: StaticArray<i64> = [64, 645, 145, 665, 41, 0, 0, 0];

/** The class of each byte value outside the quote and backslash rules. */
const CLASS_OF: StaticArray<u8> = buildClasses();

function buildClasses(): StaticArray<u8> {
  const t = new StaticArray<u8>(256);
  for (let b = 0; b < 256; b++) {
    let c = C_OTHER;
    if ((b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a)) c = C_LETTER;
    else if (b >= 0x30 && b <= 0x39) c = C_DIGIT;
    else if (b == 0x20) c = C_SPACE;
    else if (b >= 0x80 && b <= 0xbf) c = C_CONTINUATION;
    else if (b >= 0xc2 && b <= 0xdf) c = C_UTF8_2;
    else if (b >= 0xe0 && b <= 0xef) c = C_UTF8_3;
    else if (b >= 0xf0 && b <= 0xf4) c = C_UTF8_4;
    if (b == 0x22) c = <i32>C_QUOTE;
    if (b == 0x5c) c = <i32>C_BACKSLASH;
    t[b] = <u8>c;
  }
  return t;
}

@inline
function isWhitespace(b: u32): bool {
  return b == 0x20 || b == 0x0a || b == 0x0d || b == 0x09;
}

/** One more of class c. */
@inline
function bump(counts: usize, c: u32): void {
  const at = counts + (<usize>c << 3);
  store<i64>(at, load<i64>(at) + 1);
}

/** The class of b as plain text (a quote or backslash is other ASCII). */
@inline
function plainClass(classes: usize, b: u32): u32 {
  const c = <u32>load<u8>(classes + <usize>b);
  return c >= C_QUOTE ? <u32>C_OTHER : c;
}

/** A request body's text by class, counted chunk by chunk. */
export class TextCounts {
  counts: StaticArray<i64> = new StaticArray<i64>(TEXT_CLASSES);
  /** A key `"tools"` was seen. */
  tools: bool = false;
  private inString: bool = false;
  private escaped: bool = false;
  /** How much of `tools` the current string has matched (TOOLS_LEN + 1: not it). */
  private match: i32 = 0;
  /** A string that is `tools` just closed: a `:` next makes it a key. */
  private toolsString: bool = false;

  clear(): void {
    for (let i = 0; i < TEXT_CLASSES; i++) unchecked(this.counts[i] = 0);
    this.tools = false;
    this.inString = false;
    this.escaped = false;
    this.match = 0;
    this.toolsString = false;
  }

  /** Counts the bytes [p, p + len) that follow those already counted. */
  add(p: usize, len: usize): void {
    const end = p + len;
    const counts = changetype<usize>(this.counts);
    const classes = changetype<usize>(CLASS_OF);
    let inString = this.inString;
    let match = this.match;
    if (this.escaped && p < end) {
      // the byte after a backslash that ended the last chunk: counted as itself
      this.escaped = false;
      bump(counts, plainClass(classes, <u32>load<u8>(p)));
      p++;
    }
    while (p < end) {
      if (inString) {
        // A run of string bytes: the hot loop (a class lookup and a count per byte).
        while (p < end) {
          const b = <u32>load<u8>(p);
          const c = <u32>load<u8>(classes + <usize>b);
          if (c >= C_QUOTE) break;
          if (match <= TOOLS_LEN) match = match < TOOLS_LEN && (b | 0x20) == <u32>load<u8>(TOOLS + <usize>match) ? match + 1 : TOOLS_LEN + 1;
          bump(counts, c);
          p++;
        }
        if (p >= end) break;
        const b = <u32>load<u8>(p);
        p++;
        if (b == 0x22) {
          inString = false;
          this.toolsString = match == TOOLS_LEN;
          continue;
        }
        // A backslash (other ASCII), then the escaped byte as itself. An escaped spelling of
        // "tools" is not matched (it costs the tool prompt's tokens at most).
        bump(counts, C_OTHER);
        match = TOOLS_LEN + 1;
        if (p >= end) { this.escaped = true; break; }
        bump(counts, plainClass(classes, <u32>load<u8>(p)));
        p++;
        continue;
      }
      const b = <u32>load<u8>(p);
      p++;
      if (b == 0x22) {
        inString = true;
        match = 0;
        this.toolsString = false;
        continue;
      }
      if (isWhitespace(b)) continue;
      if (this.toolsString) {
        // ASCII case ignored (Go upstreams match keys so)
        if (b == 0x3a) this.tools = true;
        this.toolsString = false;
      }
      if (b == 0x7b) { bump(counts, C_OBJECT); continue; }
      if (b == 0x5b || b == 0x5d || b == 0x3a || b == 0x2c || b == 0x7d) continue;
      bump(counts, plainClass(classes, b));
    }
    this.inString = inString;
    this.match = match;
  }

  /** The input tokens of a request to an API of this family (API_*): its text and what the upstream adds. */
  tokens(api: i32): i64 {
    return inputTokens(this.counts, this.tools, api);
  }
}

/** The input estimate: the text's tokens plus the upstream's additions (OVERHEAD). */
export function inputTokens(counts: StaticArray<i64>, tools: bool, api: i32): i64 {
  const family = api >= API_CHAT && api <= API_GEMINI ? api : API_CHAT;
  return textTokens(counts) + unchecked(OVERHEAD[family * 2 + (tools ? 1 : 0)]);
}

const TOOLS = memory.data<u8>([0x74, 0x6f, 0x6f, 0x6c, 0x73]); // tools
const TOOLS_LEN: i32 = 5;

/** Tokens for class counts (TEXT_CLASSES of them), rounded up; saturates far above any real body. */
export function textTokens(counts: StaticArray<i64>): i64 {
  const LIMIT: i64 = (<i64>1) << 40; // 9 classes × 2^40 × the largest rate stay below 2^63
  let milli: i64 = 0;
  for (let i = 0; i < TEXT_CLASSES; i++) {
    let n = unchecked(counts[i]);
    if (n < 0) n = 0;
    if (n > LIMIT) n = LIMIT;
    milli += n * unchecked(TEXT_RATES[i]);
  }
  return milli / 1000 + (milli % 1000 != 0 ? 1 : 0);
}
