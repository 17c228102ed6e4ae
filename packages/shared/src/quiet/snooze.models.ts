import { DurationSyntaxError, formatDuration, parseDuration } from '../config/duration';
import { DAY_MS, parseIsoInstant, toMs, type Instant } from './instant';
import { QuietInputError } from './quiet.errors';

/**
 * Snoozing a machine (CONTRACT §6.3): `POST /machines/:id/snooze` with `{"for": "<Go duration>"}`,
 * `{"until": "<ISO-8601 time>"}` or `{"until": "next-online"}`. The machine then carries
 * `snoozed_until`: an ISO time, `"next-online"`, or `null`.
 */

/** Snoozed until the machine's next recovery, which the daemon ends by clearing the column. */
export const NEXT_ONLINE = 'next-online';

/** A stored `snoozed_until`: an ISO-8601 UTC time with milliseconds, {@link NEXT_ONLINE}, or `null`. */
export type SnoozedUntil = string | null;

/** How far ahead a snooze may reach: longer is a maintenance window or disabling the machine. */
export const MAX_SNOOZE_MS = 30 * DAY_MS;

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const shown = (value: unknown): string => JSON.stringify(value);

function untilFromFor(value: unknown, nowMs: number): string {
  const expected = `for must be a positive Go duration such as "30m" or "2h"; got ${shown(value)}`;
  if (typeof value !== 'string') throw new QuietInputError('for', expected);
  let ms: number;
  try {
    ms = parseDuration(value);
  } catch (error) {
    if (error instanceof DurationSyntaxError) throw new QuietInputError('for', expected);
    throw error;
  }
  if (ms <= 0) throw new QuietInputError('for', expected);
  if (ms > MAX_SNOOZE_MS) throw new QuietInputError('for', `for must be at most ${formatDuration(MAX_SNOOZE_MS)} (30 days); got ${shown(value)}`);
  // Stored times have millisecond precision: round up so a positive duration never snoozes until now.
  return new Date(nowMs + Math.ceil(ms)).toISOString();
}

function untilFromTime(value: unknown, nowMs: number): string {
  if (value === NEXT_ONLINE) return NEXT_ONLINE;
  const ms = typeof value === 'string' ? parseIsoInstant(value) : null;
  if (ms === null) {
    throw new QuietInputError('until', `until must be an ISO-8601 time with an offset (e.g. "2026-11-28T06:00:00Z") or "next-online"; got ${shown(value)}`);
  }
  const iso = new Date(ms).toISOString();
  if (ms <= nowMs) throw new QuietInputError('until', `until (${iso}) must be in the future`);
  if (ms - nowMs > MAX_SNOOZE_MS) throw new QuietInputError('until', `until (${iso}) must be at most 30 days ahead`);
  return iso;
}

/**
 * Reads a snooze request body at `now` and returns the `snoozed_until` to store. Exactly one of
 * `for` (> 0, ≤ 30 days) and `until` (in the future, ≤ 30 days ahead, or `"next-online"`); any other
 * field is refused so a typo never snoozes for a default. Throws {@link QuietInputError}.
 */
export function parseSnoozeRequest(body: unknown, now: Instant): string {
  if (!isRecord(body)) throw new QuietInputError('', 'a snooze must be a JSON object with "for" or "until"');
  const unknown = Object.keys(body).find((key) => key !== 'for' && key !== 'until');
  if (unknown !== undefined) throw new QuietInputError(unknown, `${unknown} is not a snooze field: give "for" or "until"`);
  const hasFor = body.for !== undefined;
  const hasUntil = body.until !== undefined;
  if (hasFor === hasUntil) throw new QuietInputError(hasFor ? 'until' : 'for', 'a snooze takes exactly one of "for" and "until"');
  return hasFor ? untilFromFor(body.for, toMs(now)) : untilFromTime(body.until, toMs(now));
}

/**
 * Whether a machine is snoozed at `now`: until its stored time (exclusive), or until it recovers for
 * `"next-online"`. An unreadable value counts as not snoozed: a bad row must not silence alerts.
 */
export function isSnoozed(snoozedUntil: SnoozedUntil, now: Instant): boolean {
  if (snoozedUntil === null) return false;
  if (snoozedUntil === NEXT_ONLINE) return true;
  const until = Date.parse(snoozedUntil);
  return Number.isFinite(until) && toMs(now) < until;
}

/**
 * When a timed snooze ran out, if it has by `now` (else `null`; `"next-online"` ends at a recovery
 * the daemon sees, not at a time). Thresholds count from this moment at the earliest (§6.3).
 */
export function snoozeEndedAt(snoozedUntil: SnoozedUntil, now: Instant): Date | null {
  if (snoozedUntil === null || snoozedUntil === NEXT_ONLINE) return null;
  const until = Date.parse(snoozedUntil);
  return Number.isFinite(until) && until <= toMs(now) ? new Date(until) : null;
}
