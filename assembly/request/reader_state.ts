// The request reader's state: every field, set back as new by recycle (the pool), the first
// fault (stop), the bracket-kind stack, and the capture of the key or value being read.
import { CHUNK_EDITS, FrontEdit, O_NONE, U_ABSENT } from "./edit_texts";
import { C_OTHER, K_OTHER } from "./keys";
import { FRONT_CAP, KIND_LEVELS, S_AFTER, S_LEAD, S_STOP, S_TAIL, VALUE_CAP } from "./grammar";
import { LIMITS_OPENAI, RequestFacts } from "./facts";
import { UNREADABLE_SYNTAX } from "./verdict";

export class ReaderState {
  facts: RequestFacts = new RequestFacts();
  /** We made the upstream's stream_options ask for usage; the client had not: the usage-only event is ours to hide. */
  injected: bool = false;

  protected inject: bool;
  protected streaming: bool = false; // rewriteChunk was called (edits are made in place)
  protected ended: bool = false;
  protected rootEnded: bool = false; // the root closed (whatever followed it)
  protected rootSentWhole: bool = false; // it closed in a chunk before the one being read: that chunk went upstream
  /**
   * "stream" is true, the reader injects, and the last stream_options neither asks for usage nor
   * could be made to (UNREADABLE_USAGE_OPTION): kept apart from the facts, which do not depend on
   * whether the reader injects.
   */
  cannotAskUsage: bool = false;
  /** Bytes other than whitespace followed the root (Go's decoder ignores them, Python's json.loads refuses). */
  trailing: bool = false;

  // Syntax.
  protected st: u8 = S_LEAD;
  protected depth: i32 = 0;
  protected kinds: StaticArray<u32> = new StaticArray<u32>(KIND_LEVELS >> 5); // bit set: an object
  protected deep: i32 = 0;
  protected unverified: bool = false; // a value nested past KIND_LEVELS was passed over
  protected skimming: bool = false; // inside a container nothing is read from (see skim)
  protected skimBase: i32 = 0; // the depth it sits at
  protected isKey: bool = false;
  protected numState: u8 = 0;
  protected literal: u8 = 0;
  protected literalPos: i32 = 0;
  protected uDigits: i32 = 0;
  protected uValue: u32 = 0;
  protected utfNeed: i32 = 0;
  protected utfLo: u32 = 0x80;
  protected utfHi: u32 = 0xbf;
  protected leadLen: i32 = 0;
  protected bom: i32 = 0;
  protected front: StaticArray<u8> = new StaticArray<u8>(FRONT_CAP);

  // The text of the key or value being read (capture on), decoded.
  protected capturing: bool = false;
  protected capLimit: i32 = 0;
  protected capLen: i32 = 0;
  protected capOver: bool = false;
  protected capBuf: StaticArray<u8> = new StaticArray<u8>(VALUE_CAP);
  protected pendingHigh: u32 = 0;

  // Where we are.
  protected rootKey: u8 = K_OTHER;
  protected innerKind: u8 = C_OTHER;
  protected innerKey: u8 = K_OTHER;
  protected target: u8 = K_OTHER; // what the scalar being read feeds
  protected rootMembers: i32 = 0;
  protected soMembers: i32 = 0;
  protected soUsage: u8 = U_ABSENT;
  protected soOutcome: u8 = O_NONE;
  protected limitMax: i64 = -1;
  protected nMax: i64 = 1;
  protected bestOfMax: i64 = 1;
  protected candidatesMax: i64 = 1;
  // Output limits as each family reads them (settleLimits turns them into the facts).
  protected limits: u8 = LIMITS_OPENAI;
  protected genFolded: bool = false; // the generationConfig key is spelled as only Go reads it
  protected exactLimit: bool = false; // a limit read in its exact spelling
  protected someLimit: bool = false; // a limit only some upstreams read (K_LIMIT_SOME)
  protected unbounded: bool = false; // a reading that sets no limit (-1, a server default)
  protected batchMax: i64 = 1; // prompts in a prompt list (the largest list)
  protected countAt: i32 = 0; // the depth whose string and container values are counted (0: none)
  protected counted: i64 = 0;
  protected tgiInput: bool = false;
  protected sglInput: bool = false;
  protected tgiLimit: i64 = -1;
  protected sglLimit: i64 = -1;
  protected tgiBestOf: i64 = 1;
  protected sglN: i64 = 1;

  // Edits of the chunk being read (streaming path).
  protected base: usize = 0;
  protected edits: i32 = 0; // made in the whole body
  protected chunkEdits: i32 = 0;
  protected editPos: StaticArray<i32> = new StaticArray<i32>(CHUNK_EDITS);
  protected editDrop: StaticArray<i32> = new StaticArray<i32>(CHUNK_EDITS);
  protected editText: StaticArray<u8> = new StaticArray<u8>(CHUNK_EDITS);
  protected editFrom: StaticArray<i32> = new StaticArray<i32>(CHUNK_EDITS);
  protected editTo: StaticArray<i32> = new StaticArray<i32>(CHUNK_EDITS);
  protected replacing: bool = false; // the literal being read is being overwritten
  protected replaceText: u8 = 0;
  protected fragmentAt: usize = 0; // where this chunk's part of it starts (0: none yet)
  protected fragmentFrom: i32 = 0; // its first literal byte's index

  protected frontEditValue: FrontEdit | null = null;

  /** Decode the model (else facts.model stays ""): only weights look at it. */
  wantModel: bool = true;

  /**
   * As new (constructed with injectUsage), keeping the buffers: what the pool does. Every field is
   * set back to its initial value; the buffers need no clearing (each is written before it is read).
   */
  recycle(injectUsage: bool, wantModel: bool, limits: u8 = LIMITS_OPENAI): void {
    this.facts.clear();
    this.injected = false;
    this.inject = injectUsage;
    this.wantModel = wantModel;
    this.streaming = false;
    this.ended = false;
    this.rootEnded = false;
    this.rootSentWhole = false;
    this.cannotAskUsage = false;
    this.trailing = false;
    this.st = S_LEAD;
    this.depth = 0;
    this.deep = 0;
    this.unverified = false;
    this.skimming = false;
    this.skimBase = 0;
    this.isKey = false;
    this.numState = 0;
    this.literal = 0;
    this.literalPos = 0;
    this.uDigits = 0;
    this.uValue = 0;
    this.utfNeed = 0;
    this.utfLo = 0x80;
    this.utfHi = 0xbf;
    this.leadLen = 0;
    this.bom = 0;
    this.capturing = false;
    this.capLimit = 0;
    this.capLen = 0;
    this.capOver = false;
    this.pendingHigh = 0;
    this.rootKey = K_OTHER;
    this.innerKind = C_OTHER;
    this.innerKey = K_OTHER;
    this.target = K_OTHER;
    this.rootMembers = 0;
    this.soMembers = 0;
    this.soUsage = U_ABSENT;
    this.soOutcome = O_NONE;
    this.limitMax = -1;
    this.nMax = 1;
    this.bestOfMax = 1;
    this.candidatesMax = 1;
    this.limits = limits;
    this.genFolded = false;
    this.exactLimit = false;
    this.someLimit = false;
    this.unbounded = false;
    this.batchMax = 1;
    this.countAt = 0;
    this.counted = 0;
    this.tgiInput = false;
    this.sglInput = false;
    this.tgiLimit = -1;
    this.sglLimit = -1;
    this.tgiBestOf = 1;
    this.sglN = 1;
    this.base = 0;
    this.edits = 0;
    this.chunkEdits = 0;
    this.replacing = false;
    this.replaceText = 0;
    this.fragmentAt = 0;
    this.fragmentFrom = 0;
    this.frontEditValue = null;
  }

  protected stop(): void {
    if (this.st == S_TAIL) this.trailing = true;
    this.st = S_STOP;
    this.capturing = false;
    this.unreadableBecause(UNREADABLE_SYNTAX);
  }

  /** The first reason the body cannot be read as its upstream will read it (verdict.ts). */
  protected unreadableBecause(reason: u8): void {
    if (this.facts.unreadable == 0) this.facts.unreadable = reason;
  }

  @inline
  protected setKind(level: i32, object: bool): void {
    const w = level >> 5;
    const bit = <u32>1 << <u32>(level & 31);
    const k = unchecked(this.kinds[w]);
    unchecked(this.kinds[w] = object ? k | bit : k & ~bit);
  }

  @inline
  protected topIsObject(): bool {
    const level = this.depth - 1;
    return (unchecked(this.kinds[level >> 5]) & (<u32>1 << <u32>(level & 31))) != 0;
  }

  @inline
  protected afterValue(): void {
    this.st = this.depth == 0 ? S_TAIL : S_AFTER;
  }

  protected startCapture(limit: i32): void {
    this.capturing = true;
    this.capLimit = limit;
    this.capLen = 0;
    this.capOver = false;
    this.pendingHigh = 0;
  }

  @inline
  protected capByte(c: u32): void {
    if (this.pendingHigh != 0) this.flushHigh();
    const n = this.capLen;
    if (n >= this.capLimit) { this.capOver = true; return; }
    unchecked(this.capBuf[n] = <u8>c);
    this.capLen = n + 1;
  }

  protected capRange(p: usize, q: usize): void {
    if (this.pendingHigh != 0) this.flushHigh();
    let len = <i32>(q - p);
    const room = this.capLimit - this.capLen;
    if (len > room) { len = room; this.capOver = true; }
    if (len <= 0) return;
    memory.copy(changetype<usize>(this.capBuf) + <usize>this.capLen, p, <usize>len);
    this.capLen += len;
  }

  protected flushHigh(): void {
    this.pendingHigh = 0;
    this.capCodePoint(0xfffd);
  }

  protected capCodePoint(cp: u32): void {
    if (cp < 0x80) {
      this.capByte(cp);
    } else if (cp < 0x800) {
      this.capByte(0xc0 | cp >> 6);
      this.capByte(0x80 | cp & 0x3f);
    } else if (cp < 0x10000) {
      this.capByte(0xe0 | cp >> 12);
      this.capByte(0x80 | (cp >> 6) & 0x3f);
      this.capByte(0x80 | cp & 0x3f);
    } else {
      this.capByte(0xf0 | cp >> 18);
      this.capByte(0x80 | (cp >> 12) & 0x3f);
      this.capByte(0x80 | (cp >> 6) & 0x3f);
      this.capByte(0x80 | cp & 0x3f);
    }
  }

}
