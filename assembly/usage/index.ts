// Token usage of LLM responses: the reader a response goes through (response_reader.ts: scanner.ts over
// extractor.ts, hider.ts), the estimate when usage is missing (estimate.ts), and ai_log (ailog.ts).
export { TokenUsage } from "./token_usage";
export { UsageScanner } from "./scanner";
export { ResponseReader } from "./response_reader";
export { estimateUsage } from "./estimate";
export { largerUsage, usageFromAiLog } from "./ailog";
