// The JSON handler that reads usage: it follows the tokenizer's events along the paths of paths.ts
// (which object is which, what a key's value is), without building a document, and keeps a byte
// of state per nesting level it reads; every container off those paths is passed over by the
// tokenizer (skipContainer, skipValue), however deep it nests. Generated content is counted by the
// tokenizer where paths.ts says (countString, measureValue).
// A count must be a non-negative integer literal that fits in i64; anything else is ignored.
// Values are first held as pending and become visible through commit(): the scanner commits an SSE
// event only once its JSON is complete and valid, and a plain JSON body as each usage object closes.
// Content bytes count as they arrive (a cut or malformed event's content was still sent).
import { JsonHandler, JsonTokenizer } from "../json/tokenizer";
import { addSaturating, parseI64At, parsedI64 } from "../util/int64";
import { TokenUsage } from "./token_usage";
import { COHERE_ROLES, CR_ROOT, cohereArrayRole, cohereCommitsOnClose, cohereCounts, cohereKey, cohereKeysFor, cohereObjectRole } from "./cohere";
import { K_DELTA, K_INDEX, K_MODEL, K_MODEL_VERSION, K_OTHER, K_TYPE, K_USAGE, classify } from "./key_names";
import { CHOICES_CONTENT_KEYS, R_MESSAGE, R_META_INFO, R_OTHER, R_ROOT, R_ROOT_ARRAY, R_START_USAGE, R_TGI_PREFILL, R_USAGE, R_WRAPPER, TRACKED_LEVELS, arrayRole, contentOf, filterFor, keysFor, nativeContentOf, objectRole, slotOf } from "./paths";
import { INPUT_SLOTS, OUTPUT_SLOTS, SLOTS, SLOT_BILLED_INPUT, SLOT_BILLED_OUTPUT, SLOT_CACHE_CREATION, SLOT_CACHE_READ, SLOT_INPUT, SLOT_OUTPUT, SLOT_THOUGHTS, SLOT_TOOL_USE_PROMPT } from "./slots";

/** The indexes of a streamed batch kept apart (16 bytes each, allocated on the first indexed event). */
const MAX_INDEXES: i32 = 256;

// What a top-level object's `usage` was (for hiding usage events; `choices` is passed over, and
// the tokenizer says whether it was an empty array: countedValueEmptyArray).
/** The document is an object (not an array of roots). */
export const DOC_TOP_OBJECT: u32 = 1;
/** root.usage is an object. */
export const DOC_USAGE_OBJECT: u32 = 4;
/** root.usage is null. */
export const DOC_USAGE_NULL: u32 = 8;

export class UsageExtractor extends JsonHandler {
  /** The committed result, updated in place. */
  usage: TokenUsage = new TokenUsage();
  /** Commit whenever a usage, wrapper or root object closes (plain JSON bodies). */
  commitOnClose: bool = false;
  /** DOC_* flags of the current document (reset by beginDocument). */
  docFlags: u32 = 0;
  /** The tokenizer's countedBytes when an output count was last committed (content it covers). */
  contentAtOutput: i64 = 0;

  private roles: StaticArray<u8> = new StaticArray<u8>(TRACKED_LEVELS);
  private level: i32 = 0;
  private currentKey: u8 = K_OTHER;

  private pending: StaticArray<i64> = new StaticArray<i64>(SLOTS);
  private pendingMask: u32 = 0;
  private pendingModel: string | null = null;
  /** The pending output count is message.usage's (provisional). */
  private pendingProvisional: bool = false;
  private committed: StaticArray<i64> = new StaticArray<i64>(SLOTS);
  private committedMask: u32 = 0;

  /** Decode the model's name (else usage.model stays ""): only weights look at it. */
  wantModel: bool = true;
  /** The elements of a top-level array are a batch's answers: their counts add up (plain JSON). */
  sumRoots: bool = false;
  /** The route is a self-hosted server's native API: its content members count too (nativeContentOf). */
  nativeContent: bool = false;
  /** The route is Cohere v2's: its roles (cohere.ts) replace these. */
  cohere: bool = false;
  /** This document's root type is a Responses audio delta (its root delta is audio). */
  private audioEvent: bool = false;
  private carried: StaticArray<i64> = new StaticArray<i64>(SLOTS);
  private carriedMask: u32 = 0;
  private prefillTokens: i64 = 0;
  /** The root `index` of the current streamed-batch event (sumRoots, SSE); -1 none. */
  private pendingIndex: i32 = -1;
  /** Per index: its last input and output counts (-1: none yet), [2 * i] and [2 * i + 1]. */
  private perIndex: StaticArray<i64> | null = null;
  /** An event's index was beyond MAX_INDEXES: the sums do not cover it. */
  private indexOverflow: bool = false;

  /** As new, keeping the buffers (a pooled reader's extractor). */
  recycle(wantModel: bool): void {
    this.usage.clear();
    this.wantModel = wantModel;
    this.sumRoots = false;
    this.nativeContent = false;
    this.cohere = false;
    this.carriedMask = 0;
    this.pendingIndex = -1;
    const table = this.perIndex;
    if (table !== null) table.fill(-1);
    this.indexOverflow = false;
    this.commitOnClose = false;
    this.docFlags = 0;
    this.contentAtOutput = 0;
    this.audioEvent = false;
    this.level = 0;
    this.currentKey = K_OTHER;
    this.pendingMask = 0;
    this.pendingModel = null;
    this.pendingProvisional = false;
    this.committedMask = 0;
  }

  /** A new document (an SSE event): forget the path and anything pending. */
  beginDocument(): void {
    this.level = 0;
    this.currentKey = K_OTHER;
    this.docFlags = 0;
    this.audioEvent = false;
    this.discard();
  }

  discard(): void {
    this.pendingMask = 0;
    this.pendingIndex = -1;
    this.pendingProvisional = false;
    this.pendingModel = null;
  }

  /** A model name read elsewhere (fast_path.ts: valid UTF-8, no escapes), pending as string() would leave it. */
  pendingModelBytes(p: usize, n: usize): void {
    const known = this.usage.model;
    this.pendingModel = known.length > 0 && asciiEquals(known, p, n) ? known : String.UTF8.decodeUnsafe(p, n);
  }

  /** A count read elsewhere (fast_path.ts), pending as number() would leave it. */
  pendingCount(slot: i32, value: i64): void {
    this.pending[slot] = value;
    this.pendingMask |= 1 << slot;
    if (slot == SLOT_OUTPUT) this.pendingProvisional = false;
  }

  /** Makes the pending values visible; contentNow: the content bytes read so far (the tokenizer's countedBytes). */
  commit(contentNow: i64): void {
    if (this.pendingIndex >= 0) this.byIndex();
    const mask = this.pendingMask;
    if ((mask & OUTPUT_SLOTS) != 0) {
      this.contentAtOutput = contentNow;
      // A final count (message_delta, any usage not under message) ends the provisional one.
      this.usage.provisionalOutput = (mask & (1 << SLOT_OUTPUT)) != 0 && this.pendingProvisional;
    }
    for (let i = 0; i < SLOTS; i++) {
      if ((mask & (1 << i)) != 0) this.committed[i] = this.pending[i];
    }
    this.committedMask |= mask;
    const model = this.pendingModel;
    if (model !== null) this.usage.model = model;
    this.pendingMask = 0;
    this.pendingModel = null;
    this.pendingProvisional = false;
    if (mask == 0) return;
    const u = this.usage;
    const input = addSaturating(addSaturating(addSaturating(this.slot(SLOT_INPUT), this.slot(SLOT_CACHE_CREATION)), this.slot(SLOT_CACHE_READ)), this.slot(SLOT_TOOL_USE_PROMPT));
    const output = addSaturating(this.slot(SLOT_OUTPUT), this.slot(SLOT_THOUGHTS));
    const billedIn = this.slot(SLOT_BILLED_INPUT);
    const billedOut = this.slot(SLOT_BILLED_OUTPUT);
    u.input = billedIn > input ? billedIn : input;
    u.output = billedOut > output ? billedOut : output;
    u.found = true;
    const seen = this.committedMask | this.carriedMask;
    u.hasInput = (seen & INPUT_SLOTS) != 0;
    u.hasOutput = (seen & OUTPUT_SLOTS) != 0;
    if (this.indexOverflow) this.uncovered();
  }

  /** Some prompts' counts are not in the sums: estimate the answer (the request's input, the content after the counts) above them. */
  private uncovered(): void {
    this.usage.provisionalOutput = true;
    this.usage.hasInput = false;
  }

  /**
   * A streamed batch's event: its counts replace those of its index only, and the pending counts
   * become the sums over the indexes (so commit() goes on as for any event).
   */
  private byIndex(): void {
    const i = this.pendingIndex;
    this.pendingIndex = -1;
    const mask = this.pendingMask;
    if ((mask & ((1 << SLOT_INPUT) | (1 << SLOT_OUTPUT))) == 0) return;
    if (i >= MAX_INDEXES) {
      // Not kept apart: its counts must not replace the sums; the answer is estimated above them.
      this.pendingMask &= ~((1 << SLOT_INPUT) | (1 << SLOT_OUTPUT));
      this.indexOverflow = true;
      this.uncovered();
      return;
    }
    let table = this.perIndex;
    if (table === null) {
      table = new StaticArray<i64>(2 * MAX_INDEXES);
      table.fill(-1);
      this.perIndex = table;
    }
    if ((mask & (1 << SLOT_INPUT)) != 0) unchecked(table[2 * i] = this.pending[SLOT_INPUT]);
    if ((mask & (1 << SLOT_OUTPUT)) != 0) unchecked(table[2 * i + 1] = this.pending[SLOT_OUTPUT]);
    let input: i64 = 0;
    let output: i64 = 0;
    let hasInput = false;
    let hasOutput = false;
    for (let j = 0; j < MAX_INDEXES; j++) {
      const a = unchecked(table[2 * j]);
      const b = unchecked(table[2 * j + 1]);
      if (a >= 0) { input = addSaturating(input, a); hasInput = true; }
      if (b >= 0) { output = addSaturating(output, b); hasOutput = true; }
    }
    if (hasInput) { this.pending[SLOT_INPUT] = input; this.pendingMask |= 1 << SLOT_INPUT; }
    if (hasOutput) { this.pending[SLOT_OUTPUT] = output; this.pendingMask |= 1 << SLOT_OUTPUT; }
  }

  private slot(i: i32): i64 {
    const own = (this.committedMask & (1 << i)) != 0 ? this.committed[i] : 0;
    return (this.carriedMask & (1 << i)) != 0 ? addSaturating(this.carried[i], own) : own;
  }

  /** A batch element closed (committed): its counts are kept, and the next element's add to them. */
  private carry(): void {
    const mask = this.committedMask;
    for (let i = 0; i < SLOTS; i++) {
      if ((mask & (1 << i)) != 0) this.carried[i] = (this.carriedMask & (1 << i)) != 0 ? addSaturating(this.carried[i], this.committed[i]) : this.committed[i];
    }
    this.carriedMask |= mask;
    this.committedMask = 0;
  }

  @inline
  private role(): u8 {
    const l = this.level;
    return l > 0 && l <= TRACKED_LEVELS ? unchecked(this.roles[l - 1]) : R_OTHER;
  }

  @inline
  private enter(role: u8): void {
    if (this.level < TRACKED_LEVELS) unchecked(this.roles[this.level] = role);
    this.level++;
    this.currentKey = K_OTHER;
  }

  @inline
  private leave(tok: JsonTokenizer): void {
    const role = this.role();
    if (this.level > 0) this.level--;
    this.currentKey = K_OTHER;
    const parent = this.role();
    filterFor(tok, parent); // back in the parent: its keys
    if (role == R_TGI_PREFILL && this.prefillTokens > 0) this.pendingCount(SLOT_INPUT, this.prefillTokens); // [] : not reported
    // Roles up to R_META_INFO are the ones a count sits in (R_TGI_TOKEN and R_TGI_PREFILL hold none).
    if (this.commitOnClose && role != R_OTHER && role != R_ROOT_ARRAY && (role <= R_META_INFO || cohereCommitsOnClose(role))) {
      this.commit(tok.countedBytes);
      if (role == R_ROOT && parent == R_ROOT_ARRAY && this.sumRoots) this.carry();
    }
  }

  beginObject(tok: JsonTokenizer): void {
    let role = this.cohere ? CR_ROOT : R_ROOT;
    if (this.level == 0) {
      this.docFlags |= DOC_TOP_OBJECT;
    } else {
      const parent = this.role();
      role = parent >= COHERE_ROLES ? cohereObjectRole(parent, this.currentKey) : objectRole(parent, this.currentKey);
      if (role == R_OTHER) {
        if (parent == R_TGI_PREFILL) this.prefillTokens++;
        tok.skipContainer();
        return;
      }
      if (role == R_USAGE && this.level == 1) this.docFlags = (this.docFlags & ~DOC_USAGE_NULL) | DOC_USAGE_OBJECT;
    }
    this.enter(role);
    // The tokenizer passes over the other keys itself, as key() would (same role, same sets).
    filterFor(tok, role);
  }

  endObject(tok: JsonTokenizer): void {
    this.leave(tok);
  }

  beginArray(tok: JsonTokenizer): void {
    let role = R_ROOT_ARRAY;
    if (this.level == 0 && this.cohere) { tok.skipContainer(); return; } // Cohere answers no arrays of roots
    if (this.level > 0) {
      const parent = this.role();
      role = parent >= COHERE_ROLES ? cohereArrayRole(parent, this.currentKey) : arrayRole(parent, this.currentKey);
      if (role == R_OTHER) { tok.skipContainer(); return; }
      if (role == R_TGI_PREFILL) this.prefillTokens = 0;
    }
    this.enter(role);
  }

  endArray(tok: JsonTokenizer): void {
    this.leave(tok);
  }

  key(tok: JsonTokenizer): void {
    const role = this.role();
    const keys = role >= COHERE_ROLES ? cohereKeysFor(role) : keysFor(role);
    if (keys === null || tok.textTruncated || !keys.has(tok.text.dataStart, <usize>tok.textLen)) {
      // Validated, not reported: no callback until the next key or the end of this object.
      this.currentKey = K_OTHER;
      // (a key the tokenizer could not judge in place: as its filter would)
      if (role == R_ROOT && tok.textEquals("choices")) tok.skipValueCounting(CHOICES_CONTENT_KEYS);
      else tok.skipValue();
      return;
    }
    if (role >= COHERE_ROLES) {
      const ck = cohereKey(tok);
      this.currentKey = ck;
      if (cohereCounts(role, ck)) tok.countString();
      return;
    }
    const k = classify(tok);
    this.currentKey = k;
    // A later member with the same key replaces what an earlier one said.
    if (k == K_USAGE && role == R_ROOT && this.level == 1) this.docFlags &= ~(DOC_USAGE_NULL | DOC_USAGE_OBJECT);
    let how = contentOf(role, k);
    if (how == 0 && this.nativeContent) how = nativeContentOf(role, k);
    // (a Responses audio event's delta is base64 audio: counted apart, when its type came first)
    if (how == 1 && this.audioEvent && role == R_ROOT && k == K_DELTA) tok.countAltString();
    else if (how == 1) tok.countString();
    else if (how == 2) tok.measureValue();
  }

  number(tok: JsonTokenizer): void {
    const role = this.role();
    const k = this.currentKey;
    const slot = slotOf(role, k);
    if (k == K_INDEX && role == R_ROOT && this.level == 1 && this.sumRoots && !this.commitOnClose) {
      // A streamed batch's event (a plain JSON batch is an array: carry() adds its elements up).
      if (tok.numberIsInteger && !tok.textTruncated && tok.textLen > 0 && load<u8>(tok.text.dataStart) != 0x2d && parseI64At(tok.text.dataStart, tok.textLen)) {
        this.pendingIndex = parsedI64 < <i64>MAX_INDEXES ? <i32>parsedI64 : MAX_INDEXES;
      }
      return;
    }
    if (slot < 0) return;
    // Only "0" or [1-9][0-9]*: no sign, fraction or exponent; the range is checked by the parse.
    if (!tok.numberIsInteger || tok.textTruncated || tok.textLen == 0) return;
    if (load<u8>(tok.text.dataStart) == 0x2d) return;
    if (!parseI64At(tok.text.dataStart, tok.textLen)) return;
    this.pending[slot] = parsedI64;
    this.pendingMask |= 1 << slot;
    if (slot == SLOT_OUTPUT) this.pendingProvisional = role == R_START_USAGE;
  }

  string(tok: JsonTokenizer): void {
    const role = this.role();
    const k = this.currentKey;
    if (k == K_TYPE) {
      if (role == R_ROOT) this.audioEvent = tok.textEquals("response.audio.delta") || tok.textEquals("response.output_audio.delta");
      return;
    }
    const isModel = (role == R_ROOT && (k == K_MODEL || k == K_MODEL_VERSION)) || ((role == R_WRAPPER || role == R_MESSAGE) && k == K_MODEL);
    if (!isModel || tok.textTruncated || !this.wantModel) return;
    // Streams repeat the model in every event: reuse the string when it has not changed.
    const known = this.usage.model;
    this.pendingModel = known.length > 0 && tok.textEquals(known) ? known : tok.textString();
  }

  null(tok: JsonTokenizer): void {
    if (this.level == 1 && this.currentKey == K_USAGE && this.role() == R_ROOT) this.docFlags |= DOC_USAGE_NULL;
  }
}

/** s is ASCII and its bytes are the n at p (as JsonTokenizer#textEquals compares). */
function asciiEquals(s: string, p: usize, n: usize): bool {
  if (<usize>s.length != n) return false;
  const q = changetype<usize>(s);
  for (let i: usize = 0; i < n; i++) {
    const c = <u32>load<u16>(q + (i << 1));
    if (c >= 0x80 || <u32>load<u8>(p + i) != c) return false;
  }
  return true;
}
