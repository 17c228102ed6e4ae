/** A command line or setting that cannot be used: exit status 2, and the message is the one line on stderr. */
export class UsageError extends Error {
  override name = 'UsageError';
  readonly exitCode = 2;
}

/** The message of anything thrown, for a log line or a one-line stderr report. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
