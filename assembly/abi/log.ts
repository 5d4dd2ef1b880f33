// Logging for code above the ABI layer. Build debug lines only when `debugEnabled()` says so:
// the string work is the cost, not the host call.
import { log, logLevel } from "./hostcalls";
import { LogLevel } from "./types";

export function debugEnabled(): bool {
  return logLevel() <= LogLevel.Debug;
}

export function logDebug(message: string): void {
  log(LogLevel.Debug, message);
}

export function logInfo(message: string): void {
  log(LogLevel.Info, message);
}

export function logWarn(message: string): void {
  log(LogLevel.Warn, message);
}

export function logError(message: string): void {
  log(LogLevel.Error, message);
}
