// JSON: one byte-level push tokenizer (tokenizer.ts), the document model (value.ts) built on it
// (parser.ts), and Go-compatible string quoting for answers (quote.ts).
export { JsonHandler, JsonTokenizer } from "./tokenizer";
export { JsonParseResult, JsonType, JsonValue } from "./value";
export { JsonDomBuilder, parseJson, parseJsonString } from "./parser";
export { quoteJsonString } from "./quote";
