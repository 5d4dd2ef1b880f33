// The errors the gateway reports to its user as one line, with the exit code they stand for.
// Anything else that escapes is a bug and keeps its stack trace.

/** Exit code for a bad command line or configuration file (nothing was started). */
export const EXIT_CONFIG = 2;
/** Exit code for a failure to start with a valid configuration (port taken, no redis-server…). */
export const EXIT_START = 1;

export class GatewayError extends Error {
  constructor(message: string, readonly exitCode: number = EXIT_START) {
    super(message);
    this.name = "GatewayError";
  }
}

/** A problem with the command line or the configuration file: exit code 2. */
export class ConfigError extends GatewayError {
  constructor(message: string) {
    super(message, EXIT_CONFIG);
    this.name = "ConfigError";
  }
}

/** The first line of an error message (YAML and system errors can run over several). */
export function firstLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.split("\n").map((l) => l.trim()).find((l) => l !== "") ?? "unknown error";
}
