import { IANAZone } from 'luxon';
import { DAY_MS, MINUTE_MS, toMs, type Instant } from './instant';
import { isoWeekday, localDay, resolveWallTime } from './zone.wall-clock';

/**
 * When a maintenance window is open (CONTRACT §6.3). Pure: every function takes the time as an
 * argument. Occurrences are half-open, `[start, end)`: at its end instant a window is over, so two
 * windows that touch leave no gap and no overlap. The functions expect a schedule that passed
 * `validateMaintenanceSchedule` (a known zone, a valid `HH:MM`).
 */

/** The days a recurring window may start on, in the window's own time zone. */
export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
/** `mon` … `sun`, lowercase as in the API. */
export type Weekday = (typeof WEEKDAYS)[number];

/** One window between two fixed moments (ISO-8601 UTC with milliseconds, as stored). */
export interface OneOffSchedule {
  kind: 'one-off';
  startsAt: string;
  endsAt: string;
}

/**
 * A window that opens at a wall-clock time in an IANA zone on some weekdays (omitted = every day)
 * and stays open for `durationMs` of **elapsed** time (at most 24 h). Elapsed, not wall-clock: a 1 h
 * window opening at 01:30 on the night clocks go forward closes at 03:30 local, one real hour later,
 * because the API takes the length as a Go duration and users expect that much real quiet.
 */
export interface RecurringSchedule {
  kind: 'recurring';
  weekdays?: Weekday[];
  /** `HH:MM`, 24-hour, local to `timezone`. */
  start: string;
  durationMs: number;
  timezone: string;
}

/** A window's timing, told apart by `kind`; its name and machines are stored beside it. */
export type MaintenanceSchedule = OneOffSchedule | RecurringSchedule;

/** One opening of a window. */
export interface Occurrence {
  start: Date;
  end: Date;
}

/** What each window in an API response carries (CONTRACT §6.3), ISO-8601 UTC or `null`. */
export interface MaintenanceState {
  active: boolean;
  /** The first start strictly after now; `null` once a one-off window has started. */
  next_start: string | null;
  /** The end of the open occurrence when active, else of the next one; `null` once a one-off window is over. */
  next_end: string | null;
}

// A window starting two local days before `now` can still be open: 23:30 + 24 h across a spring-forward night.
const DAYS_A_WINDOW_REACHES_BACK = 2;
// Every weekday set holds at least one day, so a start is never more than a week (plus a DST day) away.
const DAYS_TO_FIND_ONE = 8;

interface Opening {
  startMs: number;
  endMs: number;
}

const asOccurrence = (opening: Opening): Occurrence => ({ start: new Date(opening.startMs), end: new Date(opening.endMs) });

function startMinutes(start: string): number {
  const [hours, minutes] = start.split(':').map(Number);
  return hours * 60 + minutes;
}

/** The opening of a recurring window on one local day, or `null` when that weekday is not listed. */
function openingOn(schedule: RecurringSchedule, day: number): Opening | null {
  if (schedule.weekdays !== undefined && !schedule.weekdays.includes(WEEKDAYS[isoWeekday(day) - 1])) return null;
  const wallMs = day * DAY_MS + startMinutes(schedule.start) * MINUTE_MS;
  const startMs = resolveWallTime(IANAZone.create(schedule.timezone), wallMs);
  return { startMs, endMs: startMs + schedule.durationMs };
}

/**
 * The openings of a window on local days `from` to `to` (either direction, inclusive), lazily: the
 * callers stop at the first that fits, since each resolution asks the zone database.
 */
function* openings(schedule: MaintenanceSchedule, from: number, to: number): Generator<Opening> {
  if (schedule.kind === 'one-off') {
    yield { startMs: Date.parse(schedule.startsAt), endMs: Date.parse(schedule.endsAt) };
    return;
  }
  const step = from <= to ? 1 : -1;
  for (let day = from; day !== to + step; day += step) {
    const opening = openingOn(schedule, day);
    if (opening !== null) yield opening;
  }
}

/** The local day of `nowMs` in a recurring window's zone (0 for one-off windows, which ignore days). */
function today(schedule: MaintenanceSchedule, nowMs: number): number {
  return schedule.kind === 'one-off' ? 0 : localDay(IANAZone.create(schedule.timezone), nowMs);
}

function first(from: Iterable<Opening>, fits: (opening: Opening) => boolean): Occurrence | null {
  for (const opening of from) if (fits(opening)) return asOccurrence(opening);
  return null;
}

/**
 * The occurrence open at `now`, or `null`. When two overlap (a 24 h daily window across a night the
 * clocks go forward), the one that ends later, so its end is when the window really closes.
 */
export function occurrenceAt(schedule: MaintenanceSchedule, now: Instant): Occurrence | null {
  const nowMs = toMs(now);
  const day = today(schedule, nowMs);
  // Latest start first: of two open ones, the later-starting ends later (durations are equal).
  return first(openings(schedule, day, day - DAYS_A_WINDOW_REACHES_BACK), (o) => o.startMs <= nowMs && nowMs < o.endMs);
}

/** The first occurrence that starts strictly after `now`, or `null` (a one-off window that has started). */
export function nextOccurrence(schedule: MaintenanceSchedule, now: Instant): Occurrence | null {
  const nowMs = toMs(now);
  const day = today(schedule, nowMs);
  return first(openings(schedule, day - 1, day + DAYS_TO_FIND_ONE), (o) => o.startMs > nowMs);
}

/**
 * The latest occurrence that has ended by `now` (its end ≤ now), or `null`. Its end is when the
 * quiet ended: machines get their threshold counted from it at the earliest (CONTRACT §6.3).
 */
export function lastEndedOccurrence(schedule: MaintenanceSchedule, now: Instant): Occurrence | null {
  const nowMs = toMs(now);
  const day = today(schedule, nowMs);
  return first(openings(schedule, day, day - DAYS_TO_FIND_ONE - DAYS_A_WINDOW_REACHES_BACK), (o) => o.endMs <= nowMs);
}

/** The longest span {@link occurrencesEndingBetween} walks: a daemon asks about its last few checks. */
export const MAX_ENDING_SPAN_MS = 366 * DAY_MS;

/**
 * Occurrences whose end falls in `(from, to]`, in order: the windows that closed since the daemon
 * last looked. Throws a `RangeError` when `to` is before `from` or more than a year after it.
 */
export function occurrencesEndingBetween(schedule: MaintenanceSchedule, from: Instant, to: Instant): Occurrence[] {
  const fromMs = toMs(from);
  const toMsValue = toMs(to);
  if (toMsValue < fromMs || toMsValue - fromMs > MAX_ENDING_SPAN_MS) {
    throw new RangeError(`occurrencesEndingBetween: span from ${fromMs} to ${toMsValue} is negative or longer than a year`);
  }
  const days = openings(schedule, today(schedule, fromMs) - DAYS_A_WINDOW_REACHES_BACK, today(schedule, toMsValue));
  return [...days].filter((o) => o.endMs > fromMs && o.endMs <= toMsValue).map(asOccurrence);
}

/** `active`, `next_start` and `next_end` of one window at `now`, as the API returns them. */
export function maintenanceState(schedule: MaintenanceSchedule, now: Instant): MaintenanceState {
  const open = occurrenceAt(schedule, now);
  const next = nextOccurrence(schedule, now);
  return {
    active: open !== null,
    next_start: next === null ? null : next.start.toISOString(),
    next_end: (open ?? next)?.end.toISOString() ?? null,
  };
}

/** Whether any of a machine's windows is open at `now`: its transitions are then recorded, not sent. */
export function isInMaintenance(schedules: readonly MaintenanceSchedule[], now: Instant): boolean {
  return schedules.some((schedule) => occurrenceAt(schedule, now) !== null);
}

/**
 * The latest end, at or before `now`, of any of a machine's windows, or `null`. Check
 * {@link isInMaintenance} first: while one window is open, another's past end does not matter.
 */
export function lastMaintenanceEnd(schedules: readonly MaintenanceSchedule[], now: Instant): Date | null {
  let latest: Date | null = null;
  for (const schedule of schedules) {
    const ended = lastEndedOccurrence(schedule, now);
    if (ended !== null && (latest === null || ended.end > latest)) latest = ended.end;
  }
  return latest;
}
