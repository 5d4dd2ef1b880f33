// Token usage of LLM responses: the reader a response goes through (reader.ts: scanner.ts over
// extractor.ts, hider.ts), the estimate when usage is missing (estimate.ts), and ai_log (ailog.ts).
export { TokenUsage } from "./token_usage";
export { UsageScanner } from "./scanner";
export { ResponseReader } from "./reader";
export { estimateUsage } from "./estimate";
export { usageFromAiLog } from "./ailog";
