// The request reader's tight loop over containers nothing is read from (almost every byte of a
// chat body), and its pass over values nested past the bracket-kind stack.
//
// Nesting: bracket kinds are kept for 16384 levels (more than any upstream parser accepts: Go's
// encoding/json stops at 10000, Python's at its recursion limit); a value nested deeper is passed
// over by counting brackets outside strings, so the keys after it are still read, but the body is
// not verified and counts as not complete (it would be refused upstream anyway).
import { DEEP_MAX, isDigit, isWhitespace, KIND_LEVELS, kindAt, L_FALSE, L_NULL, L_TRUE, literalByte, literalLength, N_INT, N_MINUS, N_ZERO, numberComplete, numberNext, S_AFTER, S_COLON, S_DEEP, S_DEEP_ESCAPE, S_DEEP_STRING, S_ESCAPE, S_KEY, S_KEY_OR_CLOSE, S_LITERAL, S_NUMBER, S_STRING, S_UNICODE, S_UTF8, S_VALUE, S_VALUE_OR_CLOSE, utf8Lead } from "./grammar";
import { ValueReader } from "./reader_values";
import { hexDigit } from "../util/hex";
import { plainEnd } from "../json/plain";

export class Skimmer extends ValueReader {
  /**
   * Validates the inside of a container that holds nothing to read (everything but the root and
   * the stream_options and generationConfig objects) exactly as the states above would, with its
   * state in locals and no call per token: this is where almost every byte of a chat body goes.
   * Returns where it stopped: the end of the input, a fault, the container's close (back in its
   * parent, after a value), or a container nested past KIND_LEVELS (S_DEEP).
   */
  protected skim(p: usize, end: usize): usize {
    const base = this.skimBase;
    const kinds = changetype<usize>(this.kinds);
    let st = this.st;
    let depth = this.depth;
    let isKey = this.isKey;
    let ns = this.numState;
    let lit = this.literal;
    let litPos = this.literalPos;
    let uDigits = this.uDigits;
    let utfNeed = this.utfNeed;
    let utfLo = this.utfLo;
    let utfHi = this.utfHi;
    let inObject = kindAt(kinds, depth - 1); // the container the bytes are in
    const countAt = this.countAt; // values at this depth are counted (a prompt list's prompts)
    let counted = this.counted;
    let fault = false;
    let closed = false; // the skimmed container closed
    let tooDeep = false;
    while (p < end) {
      if (st == S_STRING) {
        p = plainEnd(p, end);
        if (p >= end) break;
        const c = <u32>load<u8>(p);
        p++;
        if (c == 0x22) {
          st = isKey ? S_COLON : S_AFTER;
          isKey = false;
          continue;
        }
        if (c == 0x5c) { st = S_ESCAPE; continue; }
        const lead = c < 0x20 ? 0 : utf8Lead(c);
        if (lead == 0) { fault = true; break; }
        utfNeed = <i32>(lead & 0xff);
        utfLo = (lead >> 8) & 0xff;
        utfHi = lead >> 16;
        st = S_UTF8;
        continue;
      }
      const c = <u32>load<u8>(p);
      switch (st) {
        case S_VALUE:
        case S_VALUE_OR_CLOSE: {
          p++;
          if (isWhitespace(c)) break;
          if (c == 0x22) {
            if (depth == countAt) counted++;
            isKey = false;
            st = S_STRING;
            break;
          }
          if (c == 0x7b || c == 0x5b) {
            if (depth == countAt) counted++;
            if (depth >= KIND_LEVELS) { tooDeep = true; break; }
            const w = kinds + (<usize>(depth >> 5) << 2);
            const bit = <u32>1 << <u32>(depth & 31);
            store<u32>(w, c == 0x7b ? load<u32>(w) | bit : load<u32>(w) & ~bit);
            depth++;
            inObject = c == 0x7b;
            st = inObject ? S_KEY_OR_CLOSE : S_VALUE_OR_CLOSE;
            break;
          }
          if (c == 0x5d && st == S_VALUE_OR_CLOSE) {
            if (--depth == base) closed = true;
            else inObject = kindAt(kinds, depth - 1);
            st = S_AFTER;
            break;
          }
          if (c == 0x2d || isDigit(c)) {
            // The whole number here when the chunk holds it (token-id arrays are all numbers).
            ns = c == 0x2d ? N_MINUS : (c == 0x30 ? N_ZERO : N_INT);
            let q = p;
            while (q < end) {
              const next = numberNext(ns, <u32>load<u8>(q));
              if (next == 0xff) break;
              ns = next;
              q++;
            }
            p = q;
            if (q >= end) { st = S_NUMBER; break; }
            if (!numberComplete(ns) || isDigit(<u32>load<u8>(q))) { fault = true; break; }
            st = S_AFTER;
            break;
          }
          if (c == 0x74) lit = L_TRUE;
          else if (c == 0x66) lit = L_FALSE;
          else if (c == 0x6e) lit = L_NULL;
          else { fault = true; break; }
          litPos = 1;
          st = S_LITERAL;
          break;
        }
        case S_KEY_OR_CLOSE:
        case S_KEY: {
          p++;
          if (isWhitespace(c)) break;
          if (c == 0x22) { isKey = true; st = S_STRING; break; }
          if (c == 0x7d && st == S_KEY_OR_CLOSE) {
            if (--depth == base) closed = true;
            else inObject = kindAt(kinds, depth - 1);
            st = S_AFTER;
            break;
          }
          fault = true;
          break;
        }
        case S_COLON: {
          p++;
          if (isWhitespace(c)) break;
          if (c == 0x3a) { st = S_VALUE; break; }
          fault = true;
          break;
        }
        case S_AFTER: {
          p++;
          if (isWhitespace(c)) break;
          if (c == 0x2c) { st = inObject ? S_KEY : S_VALUE; break; }
          if ((c == 0x7d && inObject) || (c == 0x5d && !inObject)) {
            if (--depth == base) closed = true;
            else inObject = kindAt(kinds, depth - 1);
            break;
          }
          fault = true;
          break;
        }
        case S_ESCAPE: {
          p++;
          if (c == 0x75) { uDigits = 0; st = S_UNICODE; break; }
          if (c == 0x22 || c == 0x5c || c == 0x2f || c == 0x62 || c == 0x66 || c == 0x6e || c == 0x72 || c == 0x74) { st = S_STRING; break; }
          fault = true;
          break;
        }
        case S_UNICODE: {
          p++;
          if (hexDigit(c) < 0) { fault = true; break; }
          if (++uDigits == 4) st = S_STRING;
          break;
        }
        case S_UTF8: {
          p++;
          if (c < utfLo || c > utfHi) { fault = true; break; }
          utfLo = 0x80;
          utfHi = 0xbf;
          if (--utfNeed == 0) st = S_STRING;
          break;
        }
        case S_NUMBER: {
          let q = p;
          while (q < end) {
            const next = numberNext(ns, <u32>load<u8>(q));
            if (next == 0xff) break;
            ns = next;
            q++;
          }
          p = q;
          if (q >= end) break;
          // The byte at q ends the number and is read again as what follows it.
          if (!numberComplete(ns) || isDigit(<u32>load<u8>(q))) { fault = true; break; }
          st = S_AFTER;
          break;
        }
        case S_LITERAL: {
          p++;
          if (c != literalByte(lit, litPos)) { fault = true; break; }
          if (++litPos == literalLength(lit)) st = S_AFTER;
          break;
        }
        default:
          fault = true;
          break;
      }
      if (fault || closed || tooDeep) break;
    }
    this.depth = depth;
    this.isKey = isKey;
    this.numState = ns;
    this.literal = lit;
    this.literalPos = litPos;
    this.uDigits = uDigits;
    this.utfNeed = utfNeed;
    this.utfLo = utfLo;
    this.utfHi = utfHi;
    this.st = st;
    this.counted = counted;
    if (fault) {
      this.skimming = false;
      this.stop();
    } else if (closed) {
      this.skimming = false;
      this.st = S_AFTER;
      if (countAt != 0) this.endCount();
    } else if (tooDeep) {
      this.unverified = true;
      this.deep = 1;
      this.st = S_DEEP;
    }
    return p;
  }

  /** Passes over a value nested past KIND_LEVELS: strings and brackets only. */
  protected skipDeep(p: usize, end: usize): usize {
    let st = this.st;
    let deep = this.deep;
    while (p < end) {
      if (st == S_DEEP_STRING) {
        while (p < end) {
          const c = load<u8>(p);
          if (c == 0x22 || c == 0x5c) break;
          p++;
        }
        if (p >= end) break;
        st = load<u8>(p) == 0x22 ? S_DEEP : S_DEEP_ESCAPE;
        p++;
        continue;
      }
      if (st == S_DEEP_ESCAPE) { p++; st = S_DEEP_STRING; continue; }
      const c = load<u8>(p);
      p++;
      if (c == 0x22) st = S_DEEP_STRING;
      else if (c == 0x7b || c == 0x5b) {
        if (deep >= DEEP_MAX) { this.stop(); return end; }
        deep++;
      } else if (c == 0x7d || c == 0x5d) {
        if (--deep == 0) {
          this.deep = 0;
          this.st = S_AFTER; // back in the container at KIND_LEVELS
          return p;
        }
      }
    }
    this.st = st;
    this.deep = deep;
    return p;
  }

}
