import { DateTime } from 'luxon';

/** A moment as callers hold it: a `Date` or epoch milliseconds. The quiet rules never read the clock. */
export type Instant = Date | number;

export const MINUTE_MS = 60_000;
export const HOUR_MS = 60 * MINUTE_MS;
export const DAY_MS = 24 * HOUR_MS;

/** Epoch milliseconds of an {@link Instant}. */
export function toMs(instant: Instant): number {
  return typeof instant === 'number' ? instant : instant.getTime();
}

// A zone designator is required: "2026-03-29T02:30" alone would mean a different moment on every
// server. Luxon then checks the calendar (no 30 February) and reads the offset.
const ISO_WITH_OFFSET = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})$/;

/**
 * Epoch milliseconds of an ISO-8601 date-time with an explicit offset (`2026-03-29T01:00:00Z`,
 * `2026-03-29T03:00+02:00`), or `null` when the text is not one.
 */
export function parseIsoInstant(text: string): number | null {
  if (!ISO_WITH_OFFSET.test(text)) return null;
  const parsed = DateTime.fromISO(text, { setZone: true });
  return parsed.isValid ? parsed.toMillis() : null;
}
