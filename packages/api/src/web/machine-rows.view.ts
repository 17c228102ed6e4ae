import { formatDowntime, formatUtc, isSnoozed, NEXT_ONLINE, type Machine } from '@lunasentri/shared';
import { dailyUptime, DAY_MS, timelineAt, uptimeOver, utcDays, type DayUptime, type Segment, type UtcDay } from '../uptime/uptime.models';

/**
 * What the HTML pages show of machines, as plain data for the templates (which escape every string).
 * Pure: rows, history and now in; no I/O.
 */

/** Days of bars on the dashboard and the status page. */
export const BAR_DAYS = 90;

/** Machines on one page of the dashboard or a status page: what stays quick to compute, send and read. */
export const MACHINES_PER_PAGE = 100;

export interface Pager {
  page: number;
  pages: number;
  total: number;
  /** links to the neighbouring pages, or null at either end */
  previous: string | null;
  next: string | null;
}

/** The pager of page `page` (from 1) of a listing of `total` machines at `path`. */
export function pagerOf(path: string, page: number, total: number): Pager {
  const pages = Math.max(1, Math.ceil(total / MACHINES_PER_PAGE));
  const link = (n: number) => (n === 1 ? path : `${path}?page=${n}`);
  return { page, pages, total, previous: page > 1 ? link(Math.min(page - 1, pages)) : null, next: page < pages ? link(page + 1) : null };
}

/** What a page of machines reads and shows: its bar days, and where its history must start. */
export interface PageWindow {
  days: UtcDay[];
  /** 90 days back from now: covers the 90 d uptime and every bar day (the first of which starts later) */
  since: string;
}

export function pageWindow(now: Date): PageWindow {
  return { days: utcDays(now, BAR_DAYS), since: new Date(now.getTime() - BAR_DAYS * DAY_MS).toISOString() };
}

export type BarLevel = 'none' | 'full' | 'high' | 'mid' | 'low';

export interface Bar {
  date: string;
  level: BarLevel;
  /** the tooltip: `2026-11-28: 99.93% up` */
  label: string;
}

/** A day's colour: no data, all up, ≥ 99 %, ≥ 95 %, below. */
export function barLevel(uptime: number | null): BarLevel {
  if (uptime === null) return 'none';
  if (uptime >= 1) return 'full';
  if (uptime >= 0.99) return 'high';
  if (uptime >= 0.95) return 'mid';
  return 'low';
}

/** A ratio as people read it: `100%`, `99.93%`, `—` when unknown. */
export function percent(uptime: number | null): string {
  if (uptime === null) return '—';
  if (uptime >= 1) return '100%';
  return `${(Math.floor(uptime * 10_000) / 100).toFixed(2)}%`;
}

export function barsOf(days: readonly DayUptime[]): Bar[] {
  return days.map((d) => {
    const maintenance = d.maintenance_seconds > 0 ? `, ${formatDowntime(d.maintenance_seconds)} in maintenance` : '';
    return { date: d.date, level: barLevel(d.uptime), label: `${d.date}: ${d.uptime === null ? 'no data' : `${percent(d.uptime)} up`}${maintenance}` };
  });
}

/** `3m 5s ago` (the time itself shown beside it in UTC). */
export function ago(iso: string | null, now: Date): string {
  if (iso === null) return 'never';
  const seconds = Math.max(0, Math.floor((now.getTime() - Date.parse(iso)) / 1000));
  return seconds < 1 ? 'just now' : `${formatDowntime(seconds)} ago`;
}

export function utc(iso: string | null): string {
  return iso === null ? '—' : formatUtc(iso);
}

/** What the bars say, in one sentence (for screen readers): `Daily uptime, last 90 days (UTC): 87 fully up, 2 below 100%, 1 without data`. */
export function barsSummary(bars: readonly Bar[]): string {
  const full = bars.filter((b) => b.level === 'full').length;
  const none = bars.filter((b) => b.level === 'none').length;
  return `Daily uptime, last ${bars.length} days (UTC): ${full} fully up, ${bars.length - full - none} below 100%, ${none} without data`;
}

export interface MachineRowView {
  id: number;
  name: string;
  hostname: string | null;
  status: string;
  enabled: boolean;
  lastSeenAgo: string;
  lastSeenUtc: string;
  /** ISO, for a `<time datetime>` */
  lastSeen: string | null;
  uptime: { label: string; value: string }[];
  bars: Bar[];
  barsSummary: string;
  /** `until the next time it is online`, `until 2026-11-28 04:00:00 UTC`, or null when not snoozed */
  snoozed: string | null;
}

/** How a snooze reads: null when the machine is not snoozed at `now`. */
export function snoozeLabel(snoozedUntil: string | null, now: Date): string | null {
  if (!isSnoozed(snoozedUntil, now)) return null;
  return snoozedUntil === NEXT_ONLINE ? 'until it is next online' : `until ${utc(snoozedUntil)}`;
}

const WINDOWS: ReadonlyArray<[label: string, ms: number]> = [
  ['24 h', DAY_MS],
  ['7 d', 7 * DAY_MS],
  ['30 d', 30 * DAY_MS],
  ['90 d', 90 * DAY_MS],
];

/** A machine's history as a row needs it: its segments, and the bars of past days, which may be kept from an earlier request. */
export interface RowHistory {
  segments: readonly Segment[];
  /** the bars of the days before today: `make()`, or what it made for the same `key` before */
  closedBars(key: string, make: () => Bar[]): Bar[];
}

/** One machine as the dashboard and the status page list it; `days`: the bar days ({@link utcDays} of {@link BAR_DAYS}), today last. */
export function machineRow(machine: Machine, history: RowHistory, now: Date, days: readonly UtcDay[]): MachineRowView {
  const timeline = timelineAt({ now, createdAt: machine.created_at, hasReported: machine.status !== 'pending' }, history.segments);
  // Past days depend only on the history and when observing started, not on now.
  const past = days.slice(0, -1);
  const closed = history.closedBars(`${timeline.start}|${past[0]?.date}|${past.length}`, () => barsOf(dailyUptime(timeline, past)));
  const bars = [...closed, ...barsOf(dailyUptime(timeline, days.slice(-1)))];
  return {
    id: machine.id,
    name: machine.name,
    hostname: machine.hostname || machine.reported_hostname,
    status: machine.status,
    enabled: machine.is_enabled === 1,
    lastSeenAgo: ago(machine.last_seen, now),
    lastSeenUtc: utc(machine.last_seen),
    lastSeen: machine.last_seen,
    uptime: WINDOWS.map(([label, ms]) => ({ label, value: percent(uptimeOver(timeline, ms)) })),
    bars,
    barsSummary: barsSummary(bars),
    snoozed: snoozeLabel(machine.snoozed_until, now),
  };
}
