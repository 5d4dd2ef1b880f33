// parseJson: the document model built from the tokenizer's events, with an explicit stack (no
// recursion), for configuration, ai_log and request bodies that are already in memory.
import { utf8Bytes } from "../util/utf8";
import { JsonHandler, JsonTokenizer } from "./tokenizer";
import { JsonParseResult, JsonType, JsonValue } from "./value";

export { JsonParseResult, JsonType, JsonValue } from "./value";

/** Builds a JsonValue from tokenizer events; `root` is set once a top-level value has begun. */
export class JsonDomBuilder extends JsonHandler {
  root: JsonValue | null = null;
  open: Array<JsonValue> = new Array<JsonValue>();
  pendingKey: string = "";

  private attach(v: JsonValue): void {
    const n = this.open.length;
    if (n == 0) {
      this.root = v;
      return;
    }
    const top = this.open[n - 1];
    if (top.type == JsonType.Object) {
      top.keys.push(this.pendingKey);
      top.values.push(v);
    } else {
      top.items.push(v);
    }
  }

  beginObject(tok: JsonTokenizer): void {
    const v = new JsonValue(JsonType.Object);
    this.attach(v);
    this.open.push(v);
  }

  endObject(tok: JsonTokenizer): void {
    if (this.open.length > 0) this.open.pop();
  }

  beginArray(tok: JsonTokenizer): void {
    const v = new JsonValue(JsonType.Array);
    this.attach(v);
    this.open.push(v);
  }

  endArray(tok: JsonTokenizer): void {
    if (this.open.length > 0) this.open.pop();
  }

  key(tok: JsonTokenizer): void {
    this.pendingKey = tok.textString();
  }

  string(tok: JsonTokenizer): void {
    this.attach(JsonValue.newString(tok.textString()));
  }

  number(tok: JsonTokenizer): void {
    this.attach(JsonValue.newNumber(tok.textString()));
  }

  boolean(tok: JsonTokenizer, value: bool): void {
    this.attach(JsonValue.newBool(value));
  }

  null(tok: JsonTokenizer): void {
    this.attach(new JsonValue(JsonType.Null));
  }
}

/**
 * Strict RFC 8259: exactly one value (surrounded by optional whitespace), UTF-8 (invalid UTF-8 in a
 * string is an error; no byte-order mark), \u escapes with surrogate pairs joined (a lone surrogate
 * becomes U+FFFD, as in Go), containers nested at most maxDepth deep.
 */
export function parseJson(data: Uint8Array, maxDepth: i32 = 64): JsonParseResult {
  const builder = new JsonDomBuilder();
  // No token can be longer than the input, so the token cap never truncates here.
  const tok = new JsonTokenizer(builder, maxDepth, data.length);
  tok.feed(data, 0, data.length);
  if (!tok.finish()) return new JsonParseResult(null, tok.error);
  return new JsonParseResult(builder.root, "");
}

export function parseJsonString(s: string, maxDepth: i32 = 64): JsonParseResult {
  return parseJson(utf8Bytes(s), maxDepth);
}
