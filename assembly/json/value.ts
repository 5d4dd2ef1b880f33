// The JSON document model built by parseJson: one class for every kind of value.
import { parseInt64Strict } from "../util/int64";
import { quoteJsonString } from "./quote";

export enum JsonType {
  Null,
  Bool,
  Number,
  String,
  Array,
  Object,
}

export class JsonValue {
  boolValue: bool = false;
  /** Number: the text as written (RFC 8259 grammar). */
  numberText: string = "";
  stringValue: string = "";
  /** Array: the elements. */
  items: Array<JsonValue> = new Array<JsonValue>();
  /** Object: keys and values in document order; a duplicated key appears twice. */
  keys: Array<string> = new Array<string>();
  values: Array<JsonValue> = new Array<JsonValue>();

  constructor(public type: JsonType = JsonType.Null) {}

  static newBool(v: bool): JsonValue {
    const j = new JsonValue(JsonType.Bool);
    j.boolValue = v;
    return j;
  }

  static newNumber(text: string): JsonValue {
    const j = new JsonValue(JsonType.Number);
    j.numberText = text;
    return j;
  }

  static newString(s: string): JsonValue {
    const j = new JsonValue(JsonType.String);
    j.stringValue = s;
    return j;
  }

  /** Object member by key (the last one when duplicated); null when absent or not an object. */
  get(key: string): JsonValue | null {
    if (this.type != JsonType.Object) return null;
    const keys = this.keys;
    for (let i = keys.length - 1; i >= 0; i--) {
      if (keys[i] == key) return this.values[i];
    }
    return null;
  }

  has(key: string): bool {
    return this.get(key) !== null;
  }

  /** Elements of an array or members of an object. */
  get length(): i32 {
    return this.type == JsonType.Array ? this.items.length : this.keys.length;
  }

  get isNull(): bool { return this.type == JsonType.Null; }
  get isBool(): bool { return this.type == JsonType.Bool; }
  get isNumber(): bool { return this.type == JsonType.Number; }
  get isString(): bool { return this.type == JsonType.String; }
  get isArray(): bool { return this.type == JsonType.Array; }
  get isObject(): bool { return this.type == JsonType.Object; }

  /** A Number written as an integer (no fraction, no exponent) that fits in i64. */
  isInteger(): bool {
    if (this.type != JsonType.Number) return false;
    const t = this.numberText;
    for (let i = 0, n = t.length; i < n; i++) {
      const c = t.charCodeAt(i);
      if (c == 0x2e || c == 0x65 || c == 0x45) return false;
    }
    return parseInt64Strict(t).ok;
  }

  /** The exact value when isInteger(), else 0. */
  asI64(): i64 {
    if (!this.isInteger()) return 0;
    return parseInt64Strict(this.numberText).value;
  }

  /** The nearest f64 for a Number (±Infinity beyond range), else 0. */
  asF64(): f64 {
    if (this.type != JsonType.Number) return 0;
    return parseFloat(this.numberText);
  }

  /**
   * Compact JSON text: numbers as written, strings quoted as Go does, duplicate keys kept.
   * Recursion follows the document's nesting, which parseJson bounds with maxDepth.
   */
  toString(): string {
    switch (this.type) {
      case JsonType.Null: return "null";
      case JsonType.Bool: return this.boolValue ? "true" : "false";
      case JsonType.Number: return this.numberText;
      case JsonType.String: return quoteJsonString(this.stringValue);
      case JsonType.Array: {
        const parts = new Array<string>(this.items.length);
        for (let i = 0; i < this.items.length; i++) parts[i] = this.items[i].toString();
        return "[" + parts.join(",") + "]";
      }
      default: {
        const parts = new Array<string>(this.keys.length);
        for (let i = 0; i < this.keys.length; i++) parts[i] = quoteJsonString(this.keys[i]) + ":" + this.values[i].toString();
        return "{" + parts.join(",") + "}";
      }
    }
  }
}

export class JsonParseResult {
  constructor(public value: JsonValue | null = null, public error: string = "") {}
}
