/**
 * Lets timers, I/O (sends in flight, log output, signals) and other tasks run. better-sqlite3 is
 * synchronous, so a long loop over batches that never yields holds the whole process.
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise<void>((resolve) => setImmediate(resolve));
}
