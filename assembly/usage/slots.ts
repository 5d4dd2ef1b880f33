// The counters a usage reader keeps apart, so that a later event overwrites each one on its own.
// Numbered once, here, for every reader of usage (extractor.ts, cohere.ts, fast_path.ts).
export const SLOT_INPUT: i32 = 0;
export const SLOT_CACHE_CREATION: i32 = 1;
export const SLOT_CACHE_READ: i32 = 2;
export const SLOT_OUTPUT: i32 = 3;
export const SLOT_THOUGHTS: i32 = 4;
export const SLOT_TOOL_USE_PROMPT: i32 = 5;
/** Cohere's billed_units (cohere.ts): each side is the larger of it and the rest. */
export const SLOT_BILLED_INPUT: i32 = 6;
export const SLOT_BILLED_OUTPUT: i32 = 7;
export const SLOTS: i32 = 8;
export const INPUT_SLOTS: u32 = (1 << SLOT_INPUT) | (1 << SLOT_CACHE_CREATION) | (1 << SLOT_CACHE_READ) | (1 << SLOT_TOOL_USE_PROMPT) | (1 << SLOT_BILLED_INPUT);
export const OUTPUT_SLOTS: u32 = (1 << SLOT_OUTPUT) | (1 << SLOT_THOUGHTS) | (1 << SLOT_BILLED_OUTPUT);
