// The root keys of the self-hosted servers' answers that extractor.ts reads (Ollama, llama.cpp
// server, TGI, SGLang native), told apart by length and 8-byte loads for fast_path.ts, which leaves
// a document holding any of them to the usual way. tests/unit/fast_path.test.ts checks this agrees
// with the extractor's ROOT_KEYS.

/** Whether the n bytes at k (all readable) are one of the keys below; the other root keys are fast_path.ts's. */
export function isSelfHostedRootKey(k: usize, n: usize): bool {
  switch (<i32>n) {
    case 9: return load<u64>(k) == 0x666e695f6174656d && load<u8>(k + 8) == 0x6f; // meta_info
    case 10: return load<u64>(k) == 0x756f635f6c617665 && load<u16>(k + 8) == 0x746e; // eval_count
    case 14: return load<u64>(k) == 0x65746172656e6567 && load<u32>(k + 8) == 0x65745f64 && load<u16>(k + 12) == 0x7478; // generated_text
    case 16: {
      const w = load<u64>(k);
      const t = load<u64>(k + 8);
      return (w == 0x655f736e656b6f74 && t == 0x64657461756c6176) || (w == 0x705f736e656b6f74 && t == 0x6465746369646572); // tokens_evaluated, tokens_predicted
    }
    case 17: return load<u64>(k) == 0x655f74706d6f7270 && load<u64>(k + 8) == 0x6e756f635f6c6176 && load<u8>(k + 16) == 0x74; // prompt_eval_count
    default: return false;
  }
}
