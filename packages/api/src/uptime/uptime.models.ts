import type { OutageKind } from '@lunasentri/shared';

/**
 * Uptime from the outage history (CONTRACT §7.2), as pure functions of the intervals, the machine's
 * start and now. Time in maintenance, before the machine existed, or in the future is left out of
 * the ratio: uptime = 1 − outage / (observed − maintenance). A window with nothing left to observe has
 * no uptime (null). Intervals may overlap (an outage inside a window counts as maintenance).
 */

export const DAY_MS = 24 * 3600_000;

export interface HistoryInterval {
  kind: OutageKind;
  started_at: string;
  /** null while it lasts */
  ended_at: string | null;
}

export interface UptimeInputs {
  now: Date;
  /** when the machine came to exist (registered) */
  createdAt: string;
  /** false while the machine has never reported (`pending`): nothing is known of it yet */
  hasReported: boolean;
  intervals: readonly HistoryInterval[];
}

export interface DayUptime {
  /** the UTC day, `YYYY-MM-DD` */
  date: string;
  /** 0–1, or null when nothing of the day could be observed */
  uptime: number | null;
  /** whole seconds of the day inside maintenance windows */
  maintenance_seconds: number;
}

/** A stretch of time with one state (the history's boundaries cut time into these). */
export interface Segment {
  from: number;
  /** Infinity for an interval still open: tallies clip at now, so segments never depend on it */
  to: number;
  outage: boolean;
  maintenance: boolean;
}

/** The timeline of the inputs: sorted, non-overlapping segments where an outage or a maintenance lasts. */
export interface Timeline {
  /** observed time starts here (the machine's creation); null when the machine never reported */
  start: number | null;
  now: number;
  segments: readonly Segment[];
}

/**
 * The segments of a history, whatever now is: an open interval runs on (to Infinity) and a planned
 * end ahead of now stays as it is, since every tally clips at now. So the segments of a history that
 * has not changed can be kept and used again at a later now.
 */
export function segmentsOf(intervals: readonly HistoryInterval[]): Segment[] {
  const changes: Array<{ at: number; outage: number; maintenance: number }> = [];
  for (const interval of intervals) {
    const from = Date.parse(interval.started_at);
    const to = interval.ended_at === null ? Infinity : Date.parse(interval.ended_at);
    if (!(to > from)) continue;
    const outage = interval.kind === 'outage' ? 1 : 0;
    changes.push({ at: from, outage, maintenance: 1 - outage }, { at: to, outage: -outage, maintenance: outage - 1 });
  }
  changes.sort((a, b) => a.at - b.at);
  const segments: Segment[] = [];
  let outages = 0;
  let windows = 0;
  let previous = -Infinity;
  for (const change of changes) {
    if (change.at > previous && (outages > 0 || windows > 0)) segments.push({ from: previous, to: change.at, outage: outages > 0, maintenance: windows > 0 });
    outages += change.outage;
    windows += change.maintenance;
    previous = change.at;
  }
  return segments;
}

/** The timeline of a machine at `now` from segments made once ({@link segmentsOf}). */
export function timelineAt(inputs: Omit<UptimeInputs, 'intervals'>, segments: readonly Segment[]): Timeline {
  return { start: inputs.hasReported ? Date.parse(inputs.createdAt) : null, now: inputs.now.getTime(), segments };
}

export function timelineOf(inputs: UptimeInputs): Timeline {
  return timelineAt(inputs, segmentsOf(inputs.intervals));
}

export interface WindowTally {
  /** what the ratio is taken over: the window within the machine's life and the past, less maintenance */
  observedMs: number;
  outageMs: number;
  maintenanceMs: number;
}

/** Outage and maintenance time within [from, to), clipped to the machine's life and to now. */
export function tallyWindow(timeline: Timeline, from: number, to: number): WindowTally {
  if (timeline.start === null) return { observedMs: 0, outageMs: 0, maintenanceMs: 0 };
  const a = Math.max(from, timeline.start);
  const b = Math.min(to, timeline.now);
  if (!(b > a)) return { observedMs: 0, outageMs: 0, maintenanceMs: 0 };
  let outageMs = 0;
  let maintenanceMs = 0;
  for (let i = firstEndingAfter(timeline.segments, a); i < timeline.segments.length; i++) {
    const s = timeline.segments[i]!;
    if (s.from >= b) break;
    const overlap = Math.min(s.to, b) - Math.max(s.from, a);
    if (s.maintenance) maintenanceMs += overlap;
    else outageMs += overlap;
  }
  return { observedMs: b - a - maintenanceMs, outageMs, maintenanceMs };
}

/** Index of the first segment that ends after `at` (segments are sorted and disjoint). */
function firstEndingAfter(segments: readonly Segment[], at: number): number {
  let lo = 0;
  let hi = segments.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (segments[mid]!.to <= at) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The ratio of a tally, to six decimals; null when nothing was observed. */
export function uptimeRatio(tally: WindowTally): number | null {
  if (tally.observedMs <= 0) return null;
  return Math.round((1 - tally.outageMs / tally.observedMs) * 1e6) / 1e6;
}

/** The uptime over the last `windowMs` before now (the dashboard's 24 h, 7 d, 30 d, 90 d). */
export function uptimeOver(timeline: Timeline, windowMs: number): number | null {
  return uptimeRatio(tallyWindow(timeline, timeline.now - windowMs, timeline.now));
}

/** The first moment of the UTC day that holds `at`. */
export function utcDayStart(at: number): number {
  return Math.floor(at / DAY_MS) * DAY_MS;
}

export interface UtcDay {
  /** `YYYY-MM-DD` */
  date: string;
  /** its first moment, ms since the epoch */
  from: number;
}

/** The last `count` UTC days up to the one holding `now`, oldest first (made once per page, shared by every machine on it). */
export function utcDays(now: Date, count: number): UtcDay[] {
  const today = utcDayStart(now.getTime());
  const days: UtcDay[] = [];
  for (let i = count - 1; i >= 0; i--) {
    const from = today - i * DAY_MS;
    days.push({ date: new Date(from).toISOString().slice(0, 10), from });
  }
  return days;
}

/** The uptime of each of `days` (see {@link utcDays}); today counts so far as it has gone. */
export function dailyUptime(timeline: Timeline, days: readonly UtcDay[]): DayUptime[] {
  return days.map(({ date, from }) => {
    const tally = tallyWindow(timeline, from, from + DAY_MS);
    return { date, uptime: uptimeRatio(tally), maintenance_seconds: Math.round(tally.maintenanceMs / 1000) };
  });
}
