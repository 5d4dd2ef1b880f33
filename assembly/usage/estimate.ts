// PLACEHOLDER until the "response" helper's estimate lands: one token per 4 bytes.
import { TokenUsage } from "./token_usage";
import { ResponseReader } from "./response_reader";

export function estimateUsage(requestBytes: i64, reader: ResponseReader | null, encoded: bool, cut: bool): TokenUsage {
  const u = new TokenUsage();
  u.input = (requestBytes + 3) / 4;
  if (reader !== null) {
    u.output = ((encoded ? reader.bodyBytes : reader.contentBytes) + 3) / 4;
    u.model = reader.usage.model;
    if (reader.usage.found) {
      if (reader.usage.input > u.input) u.input = reader.usage.input;
      if (reader.usage.output > u.output) u.output = reader.usage.output;
    }
  }
  u.found = true;
  return u;
}
