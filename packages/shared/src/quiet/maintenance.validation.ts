import { DurationSyntaxError, formatDuration, parseDuration } from '../config/duration';
import { DAY_MS, parseIsoInstant } from './instant';
import { WEEKDAYS, type MaintenanceSchedule, type OneOffSchedule, type RecurringSchedule, type Weekday } from './maintenance.schedule';
import { QuietInputError } from './quiet.errors';
import { isKnownZone } from './zone.wall-clock';

/**
 * Checks maintenance windows before anything is stored (CONTRACT §6.3). Every problem is a
 * {@link QuietInputError} naming the field, so the API can answer 400 `maintenance.invalid_payload`.
 */

/** The longest a recurring window may stay open: longer would overlap the next day's opening. */
export const MAX_RECURRING_DURATION_MS = DAY_MS;

const HH_MM = /^([01]\d|2[0-3]):[0-5]\d$/;
const RECURRENCE_FIELDS = new Set(['weekdays', 'start', 'duration', 'timezone']);

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const shown = (value: unknown): string => (value === undefined ? 'nothing' : JSON.stringify(value));

function normalizeIso(field: string, value: unknown): string {
  const ms = typeof value === 'string' ? parseIsoInstant(value) : null;
  if (ms === null) {
    throw new QuietInputError(field, `${field} must be an ISO-8601 time with an offset, e.g. "2026-03-29T01:00:00Z"; got ${shown(value)}`);
  }
  return new Date(ms).toISOString();
}

function checkWeekdays(field: string, weekdays: unknown): Weekday[] {
  if (!Array.isArray(weekdays)) throw new QuietInputError(field, `${field} must be a list of days such as ["mon", "fri"]; got ${shown(weekdays)}`);
  if (weekdays.length === 0) throw new QuietInputError(field, `${field} must name at least one day; omit it for every day`);
  const seen = new Set<Weekday>();
  weekdays.forEach((day: unknown, index) => {
    if (typeof day !== 'string' || !(WEEKDAYS as readonly string[]).includes(day)) {
      throw new QuietInputError(`${field}[${index}]`, `unknown weekday ${shown(day)} in ${field}: use ${WEEKDAYS.join(', ')}`);
    }
    if (seen.has(day as Weekday)) throw new QuietInputError(`${field}[${index}]`, `weekday "${day}" is listed twice in ${field}`);
    seen.add(day as Weekday);
  });
  // Stored in week order so equal schedules are equal rows.
  return WEEKDAYS.filter((day) => seen.has(day));
}

function checkDurationMs(field: string, ms: number, text: string): number {
  if (!Number.isFinite(ms) || ms <= 0) throw new QuietInputError(field, `${field} must be longer than 0s; got ${text}`);
  if (ms > MAX_RECURRING_DURATION_MS) {
    throw new QuietInputError(field, `${field} must be at most ${formatDuration(MAX_RECURRING_DURATION_MS)}; got ${text}`);
  }
  return ms;
}

function checkOneOff(schedule: { startsAt: unknown; endsAt: unknown }, names: { starts: string; ends: string }): OneOffSchedule {
  const startsAt = normalizeIso(names.starts, schedule.startsAt);
  const endsAt = normalizeIso(names.ends, schedule.endsAt);
  if (Date.parse(endsAt) <= Date.parse(startsAt)) {
    throw new QuietInputError(names.ends, `${names.ends} (${endsAt}) must be after ${names.starts} (${startsAt})`);
  }
  return { kind: 'one-off', startsAt, endsAt };
}

function checkRecurring(
  recurrence: { weekdays?: unknown; start: unknown; durationMs: number; durationText: string; timezone: unknown },
  prefix: string,
): RecurringSchedule {
  const weekdays = recurrence.weekdays === undefined ? undefined : checkWeekdays(`${prefix}weekdays`, recurrence.weekdays);
  if (typeof recurrence.start !== 'string' || !HH_MM.test(recurrence.start)) {
    throw new QuietInputError(`${prefix}start`, `${prefix}start must be a 24-hour "HH:MM" time such as "02:30"; got ${shown(recurrence.start)}`);
  }
  const durationMs = checkDurationMs(`${prefix}duration`, recurrence.durationMs, recurrence.durationText);
  if (typeof recurrence.timezone !== 'string' || !isKnownZone(recurrence.timezone)) {
    throw new QuietInputError(
      `${prefix}timezone`,
      `${prefix}timezone must be an IANA time zone such as "Europe/Berlin"; ${shown(recurrence.timezone)} is not one`,
    );
  }
  return { kind: 'recurring', ...(weekdays === undefined ? {} : { weekdays }), start: recurrence.start, durationMs, timezone: recurrence.timezone };
}

/**
 * Checks a schedule built in code (or read back from storage) and returns it normalized: ISO times
 * as UTC with milliseconds, weekdays in week order. Throws {@link QuietInputError}.
 */
export function validateMaintenanceSchedule(schedule: MaintenanceSchedule): MaintenanceSchedule {
  if (schedule.kind === 'one-off') return checkOneOff(schedule, { starts: 'startsAt', ends: 'endsAt' });
  return checkRecurring({ ...schedule, durationText: formatDuration(schedule.durationMs) }, '');
}

/**
 * Reads the schedule part of a `POST /maintenance` body: `{starts_at, ends_at}` or
 * `{recurrence: {weekdays?, start, duration, timezone}}` with `duration` a Go duration (≤ 24h).
 * Other top-level fields (`name`, `machine_ids`) are the caller's. Throws {@link QuietInputError}.
 */
export function parseMaintenanceSchedule(body: unknown): MaintenanceSchedule {
  if (!isRecord(body)) throw new QuietInputError('', 'a maintenance window must be a JSON object');
  const hasFixed = body.starts_at !== undefined || body.ends_at !== undefined;
  const hasRecurrence = body.recurrence !== undefined;
  if (hasFixed && hasRecurrence) {
    throw new QuietInputError('recurrence', 'give either starts_at and ends_at or recurrence, not both');
  }
  if (!hasFixed && !hasRecurrence) {
    throw new QuietInputError('starts_at', 'a maintenance window needs starts_at and ends_at, or a recurrence');
  }
  if (hasFixed) return checkOneOff({ startsAt: body.starts_at, endsAt: body.ends_at }, { starts: 'starts_at', ends: 'ends_at' });

  const recurrence = body.recurrence;
  if (!isRecord(recurrence)) throw new QuietInputError('recurrence', `recurrence must be an object; got ${shown(recurrence)}`);
  const unknown = Object.keys(recurrence).find((key) => !RECURRENCE_FIELDS.has(key));
  if (unknown !== undefined) {
    throw new QuietInputError(`recurrence.${unknown}`, `recurrence.${unknown} is not a field of a recurrence (weekdays, start, duration, timezone)`);
  }
  return checkRecurring(
    {
      weekdays: recurrence.weekdays,
      start: recurrence.start,
      durationMs: parseRecurrenceDuration(recurrence.duration),
      durationText: shown(recurrence.duration),
      timezone: recurrence.timezone,
    },
    'recurrence.',
  );
}

function parseRecurrenceDuration(value: unknown): number {
  const field = 'recurrence.duration';
  const expected = `${field} must be a Go duration such as "2h" or "1h30m"; got ${shown(value)}`;
  if (typeof value !== 'string') throw new QuietInputError(field, expected);
  try {
    return parseDuration(value);
  } catch (error) {
    if (error instanceof DurationSyntaxError) throw new QuietInputError(field, expected);
    throw error;
  }
}
