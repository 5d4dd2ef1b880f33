// The tokens one response used, as the quota charges them.
import { addSaturating } from "../util/int64";

export class TokenUsage {
  /** Prompt-side tokens, cache writes and reads included (Anthropic reports those apart). */
  input: i64 = 0;
  /** Generated tokens, reasoning ("thoughts") included. */
  output: i64 = 0;
  /** Whether any token count was read at all. */
  found: bool = false;
  /** Whether an input-side count (prompt, input, cache, promptTokenCount) was read. */
  hasInput: bool = false;
  /** Whether an output-side count (completion, output, candidates, thoughts) was read. */
  hasOutput: bool = false;
  /**
   * The output count is a start-of-stream figure (Anthropic message_start's output_tokens), not the
   * final one: the content after it is not covered.
   */
  provisionalOutput: bool = false;
  /** The model the upstream says answered ("" when not seen). */
  model: string = "";

  /** As new (a pooled reader's usage). */
  clear(): void {
    this.input = 0;
    this.output = 0;
    this.found = false;
    this.hasInput = false;
    this.hasOutput = false;
    this.provisionalOutput = false;
    this.model = "";
  }

  /**
   * Both sides were reported, finally: an input count, and a final output count or no generated
   * content (an embedding, an answer refused before any token) for one to cover.
   */
  complete(contentBytes: i64): bool {
    if (!this.found || !this.hasInput) return false;
    return contentBytes == 0 || (this.hasOutput && !this.provisionalOutput);
  }

  /** input + output, saturating at i64.MAX_VALUE. */
  total(): i64 {
    return addSaturating(this.input, this.output);
  }
}
