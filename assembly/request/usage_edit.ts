// The include_usage edit the request reader makes as the body streams: where each edit goes, and
// the chunk's edit records applied to the bytes sent upstream.
//
// Usage injection (constructed with injectUsage; the streaming path, rewriteChunk):
//   - no stream_options at the root and "stream" true when the root closes: the chunk holding the
//     root's `}` gets `,"stream_options":{"include_usage":true}` before it;
//   - the client's stream_options object: an include_usage of `false` or `null` is overwritten in
//     place by `true ` / `true` (byte for byte, across chunks); without include_usage, the member is
//     added before the object's `}` when the object has other members or "stream" is already known
//     true. An empty `{}` while "stream" is not yet known is left alone: vLLM accepts an empty
//     stream_options without stream (`if data.get("stream_options") and not data.get("stream")`,
//     vllm/entrypoints/openai/chat_completion/protocol.py validate_stream_options) and would refuse
//     it with the member added. A non-empty one without stream vLLM refuses already, and OpenAI
//     refuses any ("The 'stream_options' parameter is only allowed when 'stream' is enabled.", as
//     reported in BerriAI/litellm#5803), so editing it changes nothing there;
//   - "stream_options": null while "stream" is already known true becomes the object;
//   - at most 16 edits per body (duplicated stream_options objects); past that, none.
// `injected` is true when the request streams and the stream_options the upstream will use (the
// last one) asks for usage because of an edit: the usage-only event is then ours to hide. A
// client that asked (the last stream_options has include_usage true, or a value pydantic reads as
// true) is `usageAsked`, and nothing of its request changes but earlier duplicates.
import { CHUNK_EDITS, E_MEMBER, E_MEMBER_EMPTY, EDIT_TEXTS, MAX_EDITS, O_ASKED, O_FIXED, O_UNFIXED, U_ABSENT, U_ASKED, U_FIXED } from "./edit_texts";
import { ReaderState } from "./reader_state";
import { literalLength } from "./grammar";

export class UsageEdit extends ReaderState {
  @inline
  protected canEdit(): bool {
    return this.streaming && this.inject && this.edits < MAX_EDITS;
  }

  protected closeStreamOptions(at: usize): void {
    let outcome = O_UNFIXED;
    const u = this.soUsage;
    if (u == U_ASKED) outcome = O_ASKED;
    else if (u == U_FIXED) outcome = O_FIXED;
    else if (u == U_ABSENT && this.canEdit() && (this.soMembers > 0 || this.facts.stream == 1)) {
      this.addEdit(at, 0, this.soMembers > 0 ? E_MEMBER : E_MEMBER_EMPTY);
      outcome = O_FIXED;
    }
    this.soOutcome = outcome;
  }

  protected settleUsage(): void {
    this.facts.usageAsked = this.soOutcome == O_ASKED;
    this.injected = this.facts.stream == 1 && this.soOutcome == O_FIXED;
  }

  /** Records the part of the overwritten literal read in this chunk (up to literalPos). */
  protected flushFragment(): void {
    const from = this.fragmentFrom;
    const upTo = this.literalPos;
    const text = this.replaceText;
    const to = upTo >= literalLength(this.literal) ? unchecked(EDIT_TEXTS[text]).length : upTo;
    this.record(<i32>(this.fragmentAt - this.base), upTo - from, text, from, to);
    this.fragmentAt = 0;
  }

  protected addEdit(at: usize, drop: i32, text: u8): void {
    this.edits++;
    this.record(<i32>(at - this.base), drop, text, 0, unchecked(EDIT_TEXTS[text]).length);
  }

  protected record(pos: i32, drop: i32, text: u8, from: i32, to: i32): void {
    const i = this.chunkEdits;
    if (i >= CHUNK_EDITS) return; // not reached: edits per body are bounded below this
    unchecked(this.editPos[i] = pos);
    unchecked(this.editDrop[i] = drop);
    unchecked(this.editText[i] = text);
    unchecked(this.editFrom[i] = from);
    unchecked(this.editTo[i] = to);
    this.chunkEdits = i + 1;
  }

  protected applyEdits(ptr: usize, len: i32): Uint8Array {
    const n = this.chunkEdits;
    let size = len;
    for (let i = 0; i < n; i++) size += unchecked(this.editTo[i]) - unchecked(this.editFrom[i]) - unchecked(this.editDrop[i]);
    const out = new Uint8Array(size);
    const dst = out.dataStart;
    let src = 0;
    let o = 0;
    for (let i = 0; i < n; i++) {
      const pos = unchecked(this.editPos[i]);
      memory.copy(dst + <usize>o, ptr + <usize>src, <usize>(pos - src));
      o += pos - src;
      const text = unchecked(EDIT_TEXTS[unchecked(this.editText[i])]);
      const from = unchecked(this.editFrom[i]);
      const count = unchecked(this.editTo[i]) - from;
      memory.copy(dst + <usize>o, changetype<usize>(text) + <usize>from, <usize>count);
      o += count;
      src = pos + unchecked(this.editDrop[i]);
    }
    memory.copy(dst + <usize>o, ptr + <usize>src, <usize>(len - src));
    return out;
  }

}
