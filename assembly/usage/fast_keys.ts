// The keys the quick read (fast_path.ts) tells apart: the ones the extractor reads (paths.ts
// ROOT_KEYS, ROOT_COUNTED, CHOICES_CONTENT_KEYS), by length and 8-byte loads; the tests check that
// the sets agree (keySetsAgree).
import { AUDIO_KEYS, CHOICES_CONTENT_KEYS, ROOT_COUNTED, ROOT_KEYS } from "./paths";
import { isSelfHostedRootKey } from "./self_hosted_keys";

export const ROOT_OTHER: u8 = 0;
export const ROOT_USAGE: u8 = 1;
export const ROOT_MODEL: u8 = 2;
export const ROOT_CHOICES: u8 = 3;
/** Another key the extractor reads at the root. */
export const ROOT_READ: u8 = 4;

/** Little-endian bytes [at, at + n) of a key, n <= 8 (the key's bytes are all readable). */
@inline
export function word(k: usize, at: usize, n: usize): u64 {
  // n is a constant at every call: the loads fold to two or three, all inside the key.
  const p = k + at;
  if (n == 5) return <u64>load<u32>(p) | <u64>load<u8>(p + 4) << 32;
  if (n == 6) return <u64>load<u32>(p) | <u64>load<u16>(p + 4) << 32;
  return <u64>load<u32>(p) | <u64>load<u16>(p + 4) << 32 | <u64>load<u8>(p + 6) << 48;
}

/** What a root key is to the extractor (ROOT_KEYS and ROOT_COUNTED). */
export function rootKey(k: usize, n: usize): u8 {
  switch (<i32>n) {
    case 4: return load<u32>(k) == 0x65707974 ? ROOT_READ : ROOT_OTHER; // type (a Responses audio event's)
    case 5: {
      const w = word(k, 0, 5);
      if (w == 0x6567617375) return ROOT_USAGE; // usage
      if (w == 0x6c65646f6d) return ROOT_MODEL; // model
      if (w == 0x61746c6564 || w == 0x6e656b6f74 || w == 0x7865646e69) return ROOT_READ; // delta, token, index
      return ROOT_OTHER;
    }
    case 6: return word(k, 0, 6) == 0x74757074756f ? ROOT_READ : ROOT_OTHER; // output
    case 7: {
      const w = word(k, 0, 7);
      if (w == 0x736563696f6863) return ROOT_CHOICES; // choices
      if (w == 0x6567617373656d || w == 0x746e65746e6f63 || w == 0x736c6961746564) return ROOT_READ; // message, content, details
      return ROOT_OTHER;
    }
    case 8: return load<u64>(k) == 0x65736e6f70736572 ? ROOT_READ : ROOT_OTHER; // response
    case 10: return (load<u64>(k) == 0x74616469646e6163 && load<u16>(k + 8) == 0x7365) || isSelfHostedRootKey(k, n) ? ROOT_READ : ROOT_OTHER; // candidates
    case 12: return load<u64>(k) == 0x7265566c65646f6d && load<u32>(k + 8) == 0x6e6f6973 ? ROOT_MODEL : ROOT_OTHER; // modelVersion
    case 13: return load<u64>(k) == 0x74654d6567617375 && word(k, 8, 5) == 0x6174616461 ? ROOT_READ : ROOT_OTHER; // usageMetadata
    default: return isSelfHostedRootKey(k, n) ? ROOT_READ : ROOT_OTHER; // (self_hosted_keys.ts)
  }
}

/** `data`: audio's base64 inside `choices` (extractor.ts AUDIO_KEYS), counted apart: such documents go the usual way. */
export const AUDIO_DATA: u32 = 0x61746164;

/** A key whose string values inside `choices` are generated content (CHOICES_CONTENT_KEYS). */
export function countedKey(k: usize, n: usize): bool {
  switch (<i32>n) {
    case 4: {
      const w = load<u32>(k);
      return w == 0x74786574 || w == AUDIO_DATA; // text, data (audio)
    }
    case 7: {
      const w = word(k, 0, 7);
      return w == 0x746e65746e6f63 || w == 0x6c617375666572; // content, refusal
    }
    case 9: {
      const w = load<u64>(k);
      const last = load<u8>(k + 8);
      return (w == 0x6e696e6f73616572 && last == 0x67) || (w == 0x746e656d75677261 && last == 0x73); // reasoning, arguments
    }
    case 10: return load<u64>(k) == 0x697263736e617274 && load<u16>(k + 8) == 0x7470; // transcript (audio)
    case 17: return load<u64>(k) == 0x6e696e6f73616572 && load<u64>(k + 8) == 0x6e65746e6f635f67 && load<u8>(k + 16) == 0x74; // reasoning_content
    default: return false;
  }
}

/** The key sets the extractor uses agree with rootKey/countedKey on `k` (for tests). */
export function keySetsAgree(k: usize, n: usize): bool {
  const kind = rootKey(k, n);
  if (ROOT_COUNTED.has(k, n) != (kind == ROOT_CHOICES)) return false;
  if (ROOT_KEYS.has(k, n) != (kind == ROOT_USAGE || kind == ROOT_MODEL || kind == ROOT_READ)) return false;
  if (AUDIO_KEYS.has(k, n) != (n == 4 && load<u32>(k) == AUDIO_DATA)) return false;
  return CHOICES_CONTENT_KEYS.has(k, n) == countedKey(k, n);
}
