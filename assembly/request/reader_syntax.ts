// The request reader's state machine: one byte (or one tight run of bytes) at a time through the
// JSON grammar, the root object and the objects below it that are read, handing keys and values
// to reader_values.ts, containers nothing is read from to skim.ts and edit points to usage_edit.ts.
import { C_OTHER, C_STREAM_OPTIONS, containerOf, K_BATCH, K_CONVERSE_CONFIG, K_GEN, K_INCLUDE_USAGE, K_OLLAMA_OPTIONS, K_OTHER, K_SGL_INPUT, K_SGL_PARAMS, K_STREAM_OPTIONS, K_TGI_INPUT, K_TGI_PARAMS } from "./keys";
import { E_FALSE, E_NULL, E_NULL_OBJECT, E_ROOT, E_ROOT_EMPTY, O_ASKED, O_FIXED, O_UNFIXED, U_ABSENT } from "./edit_texts";
import { FRONT_CAP, isDigit, isWhitespace, KEY_CAP, L_FALSE, L_NULL, L_TRUE, literalByte, literalLength, N_INT, N_MINUS, N_ZERO, NUMBER_CAP, numberComplete, numberNext, S_AFTER, S_COLON, S_DEEP, S_ESCAPE, S_KEY, S_KEY_OR_CLOSE, S_LEAD, S_LITERAL, S_NUMBER, S_STOP, S_STRING, S_TAIL, S_UNICODE, S_UTF8, S_VALUE, S_VALUE_OR_CLOSE, utf8Lead, VALUE_CAP } from "./grammar";
import { Skimmer } from "./skim";
import { hexDigit } from "../util/hex";
import { plainEnd } from "../json/plain";

export class SyntaxReader extends Skimmer {
  protected readBytes(ptr: usize, len: usize): void {
    if (this.ended) return;
    this.facts.bytes += <i64>len;
    this.facts.text.add(ptr, len);
    let p = ptr;
    const end = ptr + len;
    while (p < end) {
      const st = this.st;
      if (st >= S_DEEP) {
        if (st == S_STOP) break;
        p = this.skipDeep(p, end);
        continue;
      }
      if (this.skimming) { p = this.skim(p, end); continue; }
      if (st == S_STRING) { p = this.scanString(p, end); continue; }
      if (st == S_NUMBER) { p = this.scanNumber(p, end); continue; }
      const c = <u32>load<u8>(p);
      p++;
      switch (st) {
        case S_LEAD: this.lead(c); break;
        case S_VALUE:
        case S_VALUE_OR_CLOSE: {
          if (isWhitespace(c)) break;
          if (c == 0x5d && st == S_VALUE_OR_CLOSE) { this.close(false, p - 1); break; }
          this.beginValue(c, p - 1);
          break;
        }
        case S_KEY_OR_CLOSE:
        case S_KEY: {
          if (isWhitespace(c)) break;
          if (c == 0x22) { this.beginKey(); break; }
          if (c == 0x7d && st == S_KEY_OR_CLOSE) { this.close(true, p - 1); break; }
          this.stop();
          break;
        }
        case S_COLON: {
          if (isWhitespace(c)) break;
          if (c == 0x3a) this.st = S_VALUE;
          else this.stop();
          break;
        }
        case S_AFTER: {
          if (isWhitespace(c)) break;
          const object = this.topIsObject();
          if (c == 0x2c) this.st = object ? S_KEY : S_VALUE;
          else if ((c == 0x7d && object) || (c == 0x5d && !object)) this.close(object, p - 1);
          else this.stop();
          break;
        }
        case S_ESCAPE: this.escape(c); break;
        case S_UNICODE: this.unicodeDigit(c); break;
        case S_UTF8: {
          if (c < this.utfLo || c > this.utfHi) { this.stop(); break; }
          if (this.capturing) this.capByte(c);
          this.utfLo = 0x80;
          this.utfHi = 0xbf;
          if (--this.utfNeed == 0) this.st = S_STRING;
          break;
        }
        case S_LITERAL: this.literalByte(c, p - 1); break;
        default: // S_TAIL
          if (!isWhitespace(c)) this.stop();
          break;
      }
    }
    if (this.replacing && this.fragmentAt != 0) this.flushFragment();
  }

  protected lead(c: u32): void {
    const n = this.leadLen;
    // A UTF-8 BOM, only as the body's first bytes (Python decodes bytes as utf-8-sig).
    if (n == this.bom && n < 3 && c == (n == 0 ? 0xef : (n == 1 ? 0xbb : 0xbf))) {
      this.bom = n + 1;
      this.keepFront(c);
      return;
    }
    if (this.bom == 1 || this.bom == 2) { this.stop(); return; }
    if (isWhitespace(c)) { this.keepFront(c); return; }
    if (c != 0x7b) { this.stop(); return; } // not an object
    this.setKind(0, true);
    this.depth = 1;
    this.st = S_KEY_OR_CLOSE;
  }

  protected keepFront(c: u32): void {
    const n = this.leadLen;
    if (n < FRONT_CAP) this.front[n] = <u8>c;
    if (n < i32.MAX_VALUE) this.leadLen = n + 1;
  }

  protected beginKey(): void {
    this.isKey = true;
    this.st = S_STRING;
    const d = this.depth;
    if (d == 1) {
      this.rootMembers++;
      this.startCapture(KEY_CAP);
    } else if (d == 2 && this.innerKind != C_OTHER) {
      if (this.innerKind == C_STREAM_OPTIONS) this.soMembers++;
      this.startCapture(KEY_CAP);
    }
  }

  /** What the value starting now at this depth feeds. */
  @inline
  protected targetHere(): u8 {
    const d = this.depth;
    if (d == 1) return this.rootKey;
    if (d == 2) {
      const kind = this.innerKind;
      if (kind == C_STREAM_OPTIONS) return this.innerKey == K_INCLUDE_USAGE ? K_INCLUDE_USAGE : K_OTHER;
      if (kind != C_OTHER) return this.innerKey; // generationConfig, parameters, sampling_params, options, inferenceConfig
    }
    return K_OTHER;
  }

  protected beginValue(c: u32, at: usize): void {
    const t = this.depth <= 2 ? this.targetHere() : K_OTHER;
    this.target = t;
    if (t == K_STREAM_OPTIONS) this.facts.hasStreamOptions = true;
    if (c == 0x22) {
      this.isKey = false;
      this.st = S_STRING;
      if (t != K_OTHER) this.startCapture(VALUE_CAP);
      return;
    }
    if (c == 0x7b || c == 0x5b) { this.open(c == 0x7b, t); return; }
    if (c == 0x2d || isDigit(c)) {
      this.numState = c == 0x2d ? N_MINUS : (c == 0x30 ? N_ZERO : N_INT);
      this.st = S_NUMBER;
      if (t != K_OTHER) {
        this.startCapture(NUMBER_CAP);
        this.capByte(c);
      }
      return;
    }
    let kind: u8;
    if (c == 0x74) kind = L_TRUE;
    else if (c == 0x66) kind = L_FALSE;
    else if (c == 0x6e) kind = L_NULL;
    else { this.stop(); return; }
    this.literal = kind;
    this.literalPos = 1;
    this.st = S_LITERAL;
    this.replacing = false;
    if (kind == L_TRUE || !this.canEdit()) return;
    // Overwrite it as it streams: include_usage false/null, or a null stream_options once "stream" is true.
    let text: u8 = 0xff;
    if (t == K_INCLUDE_USAGE) text = kind == L_FALSE ? E_FALSE : E_NULL;
    else if (t == K_STREAM_OPTIONS && kind == L_NULL && this.facts.stream == 1) text = E_NULL_OBJECT;
    if (text == 0xff) return;
    this.edits++;
    this.replacing = true;
    this.replaceText = text;
    this.fragmentAt = at;
    this.fragmentFrom = 0;
  }

  /** A container begins at the current depth (1 or 2 here: deeper ones are skimmed). */
  protected open(object: bool, t: u8): void {
    const d = this.depth;
    this.setKind(d, object);
    this.depth = d + 1;
    this.st = object ? S_KEY_OR_CLOSE : S_VALUE_OR_CLOSE;
    if (d == 1) {
      this.innerKind = C_OTHER;
      this.innerKey = K_OTHER;
      if (t == K_STREAM_OPTIONS) {
        if (object) {
          this.innerKind = C_STREAM_OPTIONS;
          this.soMembers = 0;
          this.soUsage = U_ABSENT;
          return;
        }
        this.soOutcome = O_UNFIXED;
      } else if (t == K_GEN || t == K_TGI_PARAMS || t == K_SGL_PARAMS || t == K_OLLAMA_OPTIONS || t == K_CONVERSE_CONFIG) {
        if (object) {
          this.innerKind = containerOf(t);
          return;
        }
        // (a list of SGLang sampling_params, one per prompt, is not read: no limit from it)
      } else if (t == K_BATCH || t == K_SGL_INPUT || t == K_TGI_INPUT) {
        if (t == K_SGL_INPUT) this.sglInput = true;
        else if (t == K_TGI_INPUT) this.tgiInput = true;
        // Each string, list or object in the list may be a prompt of its own (numbers are one prompt's tokens).
        if (!object && t != K_TGI_INPUT) {
          this.countAt = d + 1;
          this.counted = 0;
        }
      } else if (t != K_OTHER) {
        this.notScalar(t);
      }
    } else if (t != K_OTHER) {
      this.notScalar(t);
    }
    // Nothing in it is read: pass over it in the tight loop.
    this.skimming = true;
    this.skimBase = d;
  }

  /** Closes the container on top (the caller checked its kind); at: the bracket. */
  protected close(object: bool, at: usize): void {
    const d = this.depth - 1;
    this.depth = d;
    if (d == 1) {
      if (this.innerKind == C_STREAM_OPTIONS) this.closeStreamOptions(at);
      this.innerKind = C_OTHER;
      this.st = S_AFTER;
      return;
    }
    if (d == 0) {
      this.closeRoot(at);
      this.st = S_TAIL;
      return;
    }
    this.st = S_AFTER;
  }

  protected closeRoot(at: usize): void {
    this.rootEnded = true;
    this.settleLimits();
    if (this.facts.stream == 1 && !this.facts.hasStreamOptions && this.canEdit()) {
      this.addEdit(at, 0, this.rootMembers > 0 ? E_ROOT : E_ROOT_EMPTY);
      this.soOutcome = O_FIXED;
    }
    // A stream whose last stream_options neither asks for usage nor could be made to (include_usage
    // spelled 0 or "off", stream_options null before "stream", edits used up): no upstream would
    // report usage, so the body is refused rather than charged a guess.
    if (this.inject && this.streaming && this.facts.stream == 1 && this.soOutcome != O_ASKED && this.soOutcome != O_FIXED) {
      this.cannotAskUsage = true;
    }
    this.settleUsage();
  }

  /** String bytes from p: plain ones in a tight loop, then the byte that stopped it. */
  protected scanString(p: usize, end: usize): usize {
    let q = p;
    q = plainEnd(q, end);
    if (this.capturing && q > p) this.capRange(p, q);
    if (q >= end) return q;
    const c = <u32>load<u8>(q);
    q++;
    if (c == 0x22) { this.endString(); return q; }
    if (c == 0x5c) { this.st = S_ESCAPE; return q; }
    const lead = c < 0x20 ? 0 : utf8Lead(c);
    if (lead == 0) { this.stop(); return q; }
    if (this.capturing) this.capByte(c);
    this.utfNeed = <i32>(lead & 0xff);
    this.utfLo = (lead >> 8) & 0xff;
    this.utfHi = lead >> 16;
    this.st = S_UTF8;
    return q;
  }

  protected escape(c: u32): void {
    if (c == 0x75) {
      this.uDigits = 0;
      this.uValue = 0;
      this.st = S_UNICODE;
      return;
    }
    let b: u32 = 0;
    if (c == 0x22 || c == 0x5c || c == 0x2f) b = c;
    else if (c == 0x62) b = 0x08;
    else if (c == 0x66) b = 0x0c;
    else if (c == 0x6e) b = 0x0a;
    else if (c == 0x72) b = 0x0d;
    else if (c == 0x74) b = 0x09;
    else { this.stop(); return; }
    if (this.capturing) this.capByte(b);
    this.st = S_STRING;
  }

  protected unicodeDigit(c: u32): void {
    const h = hexDigit(c);
    if (h < 0) { this.stop(); return; }
    this.uValue = this.uValue << 4 | <u32>h;
    if (++this.uDigits < 4) return;
    this.st = S_STRING;
    if (!this.capturing) return;
    const u = this.uValue;
    if (u >= 0xd800 && u <= 0xdbff) {
      if (this.pendingHigh != 0) this.flushHigh();
      this.pendingHigh = u;
    } else if (u >= 0xdc00 && u <= 0xdfff && this.pendingHigh != 0) {
      const cp = 0x10000 + ((this.pendingHigh - 0xd800) << 10) + (u - 0xdc00);
      this.pendingHigh = 0;
      this.capCodePoint(cp);
    } else {
      this.capCodePoint(u >= 0xdc00 && u <= 0xdfff ? 0xfffd : u);
    }
  }

  protected endString(): void {
    if (this.pendingHigh != 0) this.flushHigh();
    const captured = this.capturing;
    this.capturing = false;
    if (this.isKey) {
      this.isKey = false;
      this.st = S_COLON;
      if (captured) this.classifyKey();
      return;
    }
    this.afterValue();
    if (captured) this.stringValue(this.target);
  }

  protected scanNumber(p: usize, end: usize): usize {
    let ns = this.numState;
    let q = p;
    while (q < end) {
      const next = numberNext(ns, <u32>load<u8>(q));
      if (next == 0xff) break;
      ns = next;
      q++;
    }
    this.numState = ns;
    if (this.capturing && q > p) this.capRange(p, q);
    if (q >= end) return q;
    // The byte at q ends the number and is read again in the state that follows.
    if (!numberComplete(ns) || isDigit(<u32>load<u8>(q))) { this.stop(); return q; }
    this.afterValue();
    if (this.capturing) {
      this.capturing = false;
      this.numberValue(this.target);
    }
    return q;
  }

  protected literalByte(c: u32, at: usize): void {
    const kind = this.literal;
    const pos = this.literalPos;
    if (c != literalByte(kind, pos)) { this.stop(); return; }
    if (this.replacing && this.fragmentAt == 0) {
      this.fragmentAt = at;
      this.fragmentFrom = pos;
    }
    this.literalPos = pos + 1;
    if (pos + 1 < literalLength(kind)) return;
    const replaced = this.replacing;
    if (replaced) {
      this.flushFragment();
      this.replacing = false;
    }
    this.afterValue();
    if (this.target != K_OTHER) this.literalValue(this.target, kind, replaced);
  }

}
