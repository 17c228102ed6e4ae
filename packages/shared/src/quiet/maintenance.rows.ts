import { WEEKDAYS, type MaintenanceSchedule, type Weekday } from './maintenance.schedule';

/**
 * How a maintenance window's schedule is stored (table `maintenance_windows`, migration 021): one
 * row per window, the columns of its kind filled and the others null. Shared by the API, which
 * writes windows, and the daemon, which acts on their ends.
 */
export interface MaintenanceScheduleColumns {
  kind: 'one-off' | 'recurring';
  starts_at: string | null;
  ends_at: string | null;
  /** comma-separated, in week order; null = every day */
  weekdays: string | null;
  start_time: string | null;
  duration_ms: number | null;
  timezone: string | null;
}

/** The columns that store a (validated) schedule. */
export function maintenanceColumnsOf(schedule: MaintenanceSchedule): MaintenanceScheduleColumns {
  if (schedule.kind === 'one-off') {
    return { kind: 'one-off', starts_at: schedule.startsAt, ends_at: schedule.endsAt, weekdays: null, start_time: null, duration_ms: null, timezone: null };
  }
  return {
    kind: 'recurring',
    starts_at: null,
    ends_at: null,
    weekdays: schedule.weekdays?.join(',') ?? null,
    start_time: schedule.start,
    duration_ms: schedule.durationMs,
    timezone: schedule.timezone,
  };
}

/** The schedule a stored row holds. Throws a `RangeError` for a row no version of the API writes. */
export function maintenanceScheduleOf(row: MaintenanceScheduleColumns): MaintenanceSchedule {
  if (row.kind === 'one-off') {
    if (row.starts_at === null || row.ends_at === null) throw new RangeError('a one-off maintenance window row lacks starts_at or ends_at');
    return { kind: 'one-off', startsAt: row.starts_at, endsAt: row.ends_at };
  }
  if (row.start_time === null || row.duration_ms === null || row.timezone === null) {
    throw new RangeError('a recurring maintenance window row lacks start_time, duration_ms or timezone');
  }
  const weekdays = row.weekdays === null ? undefined : (row.weekdays.split(',').filter((d) => (WEEKDAYS as readonly string[]).includes(d)) as Weekday[]);
  return { kind: 'recurring', ...(weekdays === undefined ? {} : { weekdays }), start: row.start_time, durationMs: Number(row.duration_ms), timezone: row.timezone };
}
