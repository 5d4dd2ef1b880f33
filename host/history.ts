// Records (logs, callouts) are kept for tests to read, but a gateway or a benchmark runs for
// long: past a limit the oldest entries go, in batches so that each push stays cheap.

export function pushBounded<T>(list: T[], item: T, limit: number): void {
  list.push(item);
  if (list.length > 2 * limit) list.splice(0, list.length - limit);
}
