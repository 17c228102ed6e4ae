import type { SendResult } from '@lunasentri/shared';

/**
 * Which failures of a delivery are worth a warning (pure). A delivery that keeps failing the same way
 * is retried quietly (info); its first failure, and the first time it fails in a new way (a timeout
 * becoming HTTP 503, then connection refused), are warnings: one per delivery per kind of failure.
 */

type Failure = Extract<SendResult, { error: string }>;

/** At most this many kinds are remembered per delivery; beyond that the oldest is forgotten. */
export const FAILURE_CLASSES_KEPT = 16;

/**
 * The kind of a failure: `HTTP 503` for an answer with a status (whatever its reason text), else the
 * failure's own text, which the senders build from fixed phrases (`connection refused`,
 * `timeout after 5s`, `Telegram API unreachable: host not found`).
 */
export function failureClassOf(result: Failure): string {
  return result.status === undefined ? result.error : `HTTP ${result.status}`;
}

/** The classes stored on a delivery (`deliveries.failure_classes`); anything unreadable counts as none. */
export function parseFailureClasses(stored: string | null): string[] {
  if (stored === null) return [];
  try {
    const parsed: unknown = JSON.parse(stored);
    return Array.isArray(parsed) ? parsed.filter((c): c is string => typeof c === 'string') : [];
  } catch {
    return []; // only the log level of the next failure depends on it
  }
}

export interface FailureNote {
  /** the class of this failure */
  failureClass: string;
  /** the first failure of this delivery, or the first of this class: logged as a warning */
  isNew: boolean;
  /** the class it failed with before, if any (for the warning) */
  previous: string | undefined;
  /** what to store in `deliveries.failure_classes` */
  stored: string;
}

/** Notes one more failure of a delivery that has met `stored` before. */
export function noteFailure(stored: string | null, result: Failure): FailureNote {
  const seen = parseFailureClasses(stored);
  const failureClass = failureClassOf(result);
  const previous = seen[seen.length - 1];
  // The latest class last, so `previous` is what the delivery failed with the time before.
  const next = [...seen.filter((c) => c !== failureClass), failureClass].slice(-FAILURE_CLASSES_KEPT);
  return { failureClass, isNew: !seen.includes(failureClass), previous, stored: JSON.stringify(next) };
}
