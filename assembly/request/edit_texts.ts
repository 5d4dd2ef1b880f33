// What the include_usage edit (usage_edit.ts) writes, and the outcomes it tracks: constants only,
// so that the reader's state (reader_state.ts) can size its edit records.
import { ascii } from "./keys";

/** Edits per body (each stream_options object takes at most one). */
export const MAX_EDITS: i32 = 16;
/** Edit records per chunk: every edit begun in it, plus a literal continued from the previous one. */
export const CHUNK_EDITS: i32 = MAX_EDITS + 2;

// include_usage in one stream_options object (the last member wins).
export const U_ABSENT: u8 = 0;
export const U_ASKED: u8 = 1;
export const U_FIXED: u8 = 2;
export const U_UNFIXED: u8 = 3;

// The last stream_options at the root.
export const O_NONE: u8 = 0;
export const O_ASKED: u8 = 1;
export const O_FIXED: u8 = 2;
export const O_UNFIXED: u8 = 3;

// Edit texts, by id.
export const E_ROOT: u8 = 0;
export const E_ROOT_EMPTY: u8 = 1;
export const E_MEMBER: u8 = 2;
export const E_MEMBER_EMPTY: u8 = 3;
export const E_FALSE: u8 = 4;
export const E_NULL: u8 = 5;
export const E_NULL_OBJECT: u8 = 6;
export const EDIT_TEXTS: StaticArray<StaticArray<u8>> = [
  ascii(',"stream_options":{"include_usage":true}'),
  ascii('"stream_options":{"include_usage":true}'),
  ascii(',"include_usage":true'),
  ascii('"include_usage":true'),
  ascii("true "), // over `false`
  ascii("true"), // over `null`
  ascii('{"include_usage":true}'), // over `null` as stream_options
];
export const FRONT_MEMBER = ascii('"stream_options":{"include_usage":true}');

/** The buffered path's edit: drop `drain` bytes from the front of the body, then prepend `prepend`. */
export class FrontEdit {
  constructor(public drain: i32, public prepend: Uint8Array) {}
}
