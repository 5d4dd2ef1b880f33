// Why a metered request body is refused rather than read: the plugin must read a body exactly as
// its upstream will (vLLM/SGLang: Python's json.loads on bytes + pydantic lax mode; Go servers:
// encoding/json, keys matched case-insensitively), and where it cannot, or where those upstreams
// would read it differently, no reading is guessed. The reader (reader.ts) records the first
// reason; the stream (quota/stream.ts) answers 400 (answers.denyUnreadableBody) while the chunk that
// showed it is still held, which is before any upstream can have parsed the document.
//
// Constants only: this file imports nothing, so the reader and the stream can both name them.

/** Not one JSON object as RFC 8259 reads it: NaN/Infinity (json.loads accepts them), UTF-16/32
 * bytes (json.loads detects the encoding: CPython Lib/json/__init__.py detect_encoding), invalid
 * UTF-8 (Go replaces it with U+FFFD, Python refuses it), bytes after the root in the same chunk
 * (Go's Decoder stops at the document, json.loads raises "Extra data"), anything else. */
export const UNREADABLE_SYNTAX: u8 = 1;
/** A root key that Go's encoding/json folds onto stream / stream_options / background (or one in
 * stream_options onto include_usage), spelled otherwise: Go reads it, Python ignores it. */
export const UNREADABLE_FOLDED_KEY: u8 = 2;
/** "stream" is true but the last stream_options neither asks for usage nor can be made to in
 * place (include_usage spelled 0, "off", "no", 0.0, a non-bool; stream_options null or empty
 * before "stream"; more than 16 stream_options objects): no upstream would report usage. */
export const UNREADABLE_USAGE_OPTION: u8 = 3;

/** The reason's name, for the debug log. */
export function unreadableReason(reason: u8): string {
  if (reason == UNREADABLE_SYNTAX) return "not one JSON object as every upstream reads it";
  if (reason == UNREADABLE_FOLDED_KEY) return "a key Go servers match case-insensitively, Python servers do not";
  if (reason == UNREADABLE_USAGE_OPTION) return "a stream whose stream_options cannot be made to ask for usage";
  return "";
}
