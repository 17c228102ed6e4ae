import { errorMessage } from '../process/process.errors';
import type { Logger } from './logger';

/** What a loop that retries (a check, a claim, a housekeeping job) says about its failures. */
export interface FailureStreak {
  /** A failed attempt: an error line for the first of a streak, debug lines for the rest. */
  failed(error: unknown): void;
  /** A good attempt: ends the streak with one info line saying how many attempts failed. */
  succeeded(): void;
  /** failed attempts in the current streak */
  readonly failures: number;
}

/**
 * One error line per outage, not one per retry: a database that is down for a minute would
 * otherwise log the same line every second from every loop. `what` names the work (`Check`,
 * `Dispatcher`), so the line reads `Check failed: <error>`.
 */
export function failureStreak(logger: Logger, what: string): FailureStreak {
  let failures = 0;
  return {
    failed(error) {
      failures++;
      if (failures === 1) logger.error(`${what} failed: ${errorMessage(error)} (retrying; logged again only when it works)`);
      else logger.debug(`${what} failed again (attempt ${failures}): ${errorMessage(error)}`);
    },
    succeeded() {
      if (failures > 0) logger.info(`${what} works again after ${failures} failed attempt(s)`);
      failures = 0;
    },
    get failures() {
      return failures;
    },
  };
}
