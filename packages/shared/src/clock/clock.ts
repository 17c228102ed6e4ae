/**
 * The source of "now" for everything that decides by time. Only composition roots
 * create a {@link systemClock}; everything else receives a `Clock` so tests can move time by hand.
 */
export interface Clock {
  /** The current time. */
  now(): Date;
}

/** The real wall clock. */
export const systemClock: Clock = {
  now: () => new Date(),
};

/** Formats a time the way every timestamp is stored: ISO-8601 UTC with milliseconds. */
export function toIso(time: Date | number): string {
  return (typeof time === 'number' ? new Date(time) : time).toISOString();
}

/** The clock's time as stored text (ISO-8601 UTC with milliseconds). */
export function isoNow(clock: Clock): string {
  return clock.now().toISOString();
}
