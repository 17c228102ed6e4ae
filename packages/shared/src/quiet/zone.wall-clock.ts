import { IANAZone } from 'luxon';
import { DAY_MS, MINUTE_MS } from './instant';

/**
 * Wall-clock arithmetic in an IANA zone. A local calendar date is held as a day number (days since
 * 1970-01-01 of that calendar, not of UTC), and a wall time as "wall milliseconds": the epoch
 * milliseconds the same reading would have in UTC. Luxon supplies the zone's offset at an instant.
 */

/** Whether `name` is an IANA zone this runtime knows (`Europe/Berlin`, `UTC`; not `+02:00`). */
export function isKnownZone(name: string): boolean {
  // Every IANA name starts with a letter. Newer ICU (Node 24's) also takes a bare offset such as
  // `+02:00` or `−0500` for a zone, which is no IANA name and follows no daylight-saving rules.
  return /^[A-Za-z]/.test(name) && IANAZone.isValidZone(name);
}

function offsetMs(zone: IANAZone, instantMs: number): number {
  return zone.offset(instantMs) * MINUTE_MS;
}

/** The local calendar day (day number) in `zone` at an instant. */
export function localDay(zone: IANAZone, instantMs: number): number {
  return Math.floor((instantMs + offsetMs(zone, instantMs)) / DAY_MS);
}

/** The ISO weekday (1 = Monday … 7 = Sunday) of a day number. */
export function isoWeekday(day: number): number {
  const sundayIsZero = new Date(day * DAY_MS).getUTCDay();
  return sundayIsZero === 0 ? 7 : sundayIsZero;
}

// Each offset lookup costs an Intl formatting call (~10 µs), and a daemon asks about the same few
// window starts on every check. The answer never changes within a process (the zone data is fixed),
// so a bounded cache is safe; it is dropped whole when full rather than tracking recency.
const RESOLVED_LIMIT = 10_000;
const resolved = new Map<string, number>();

/**
 * The instant a wall-clock reading happens in `zone` (CONTRACT §6.3):
 * - a reading that happens twice (the hour repeated when clocks go back) resolves to its first
 *   occurrence;
 * - a reading that never happens (skipped when clocks go forward) resolves to the first valid
 *   moment after it, which is the instant of the change itself (02:30 in Berlin on the spring night
 *   is 03:00 CEST).
 * Assumes at most one offset change within a day either side, which holds for every zone in use.
 */
export function resolveWallTime(zone: IANAZone, wallMs: number): number {
  const key = `${zone.name}|${wallMs}`;
  const known = resolved.get(key);
  if (known !== undefined) return known;
  const instant = resolveUncached(zone, wallMs);
  if (resolved.size >= RESOLVED_LIMIT) resolved.clear();
  resolved.set(key, instant);
  return instant;
}

function resolveUncached(zone: IANAZone, wallMs: number): number {
  const offsetBefore = offsetMs(zone, wallMs - DAY_MS);
  const offsetAfter = offsetMs(zone, wallMs + DAY_MS);
  // No change nearby: the reading happens exactly once.
  if (offsetBefore === offsetAfter) return wallMs - offsetAfter;
  const readsAsWall = (instant: number): boolean => instant + offsetMs(zone, instant) === wallMs;
  const candidates = [wallMs - offsetBefore, wallMs - offsetAfter].filter(readsAsWall);
  if (candidates.length > 0) return Math.min(...candidates);
  // In a gap: the clock jumps from before the reading to after it at one instant between these two.
  let stillBefore = wallMs - offsetAfter;
  let alreadyAfter = wallMs - offsetBefore;
  while (alreadyAfter - stillBefore > 1) {
    const middle = Math.floor((stillBefore + alreadyAfter) / 2);
    if (offsetMs(zone, middle) === offsetAfter) alreadyAfter = middle;
    else stillBefore = middle;
  }
  return alreadyAfter;
}
