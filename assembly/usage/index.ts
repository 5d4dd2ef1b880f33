// Token usage of LLM responses: streamed bodies (scanner.ts over extractor.ts) and ai_log (ailog.ts).
export { TokenUsage } from "./token_usage";
export { UsageScanner } from "./scanner";
export { usageFromAiLog } from "./ailog";
