/**
 * When a failed delivery is tried again (pure; the randomness is an argument).
 *
 * Delays grow exponentially from {@link RETRY_BASE_MS} up to {@link RETRY_CAP_MS} with "equal jitter"
 * (half fixed, half random) so many deliveries failing together do not retry together. A server's
 * `Retry-After` / Telegram `retry_after` is a floor. Deliveries are retried until
 * {@link DELIVERY_TTL_MS} after their event, then they are dead; so is one whose server asks to wait
 * past that deadline.
 */

export const RETRY_BASE_MS = 5_000;
export const RETRY_CAP_MS = 15 * 60_000;
export const DELIVERY_TTL_MS = 24 * 3600_000;
/** Our own configuration is wrong (Telegram 401): no point in retrying sooner than this. */
export const MISCONFIGURED_RETRY_MS = 60_000;

/** The jittered delay after the `failedAttempts`-th failure (1 = first failure). */
export function retryDelayMs(failedAttempts: number, random: () => number): number {
  const exponent = Math.min(Math.max(failedAttempts, 1) - 1, 30);
  const full = Math.min(RETRY_CAP_MS, RETRY_BASE_MS * 2 ** exponent);
  return Math.round(full / 2 + random() * (full / 2));
}

export type RetryPlan =
  | { kind: 'retry'; at: Date }
  /**
   * `expired`: the failure came at or after the deadline; `retry-after-past-deadline`: the server's
   * own "not before" lies past it, so no retry it allows is left.
   */
  | { kind: 'dead'; reason: 'expired' | 'retry-after-past-deadline' };

export interface RetryInputs {
  now: Date;
  /** when the event happened; the delivery lives 24 h from then */
  occurredAt: string;
  /** failed attempts including the one just made */
  failedAttempts: number;
  /** the server's own "not before" */
  retryAfterMs?: number;
  /** the smallest delay acceptable for this kind of failure */
  minDelayMs?: number;
  random: () => number;
}

export function planRetry(inputs: RetryInputs): RetryPlan {
  const now = inputs.now.getTime();
  const deadline = Date.parse(inputs.occurredAt) + DELIVERY_TTL_MS;
  if (now >= deadline) return { kind: 'dead', reason: 'expired' };
  // Retrying at the deadline would come before the server allows: the delivery ends here instead.
  if (inputs.retryAfterMs !== undefined && now + inputs.retryAfterMs > deadline) return { kind: 'dead', reason: 'retry-after-past-deadline' };
  const delay = Math.max(retryDelayMs(inputs.failedAttempts, inputs.random), inputs.retryAfterMs ?? 0, inputs.minDelayMs ?? 0);
  // The last try happens at the deadline rather than never.
  return { kind: 'retry', at: new Date(Math.min(now + delay, deadline)) };
}
