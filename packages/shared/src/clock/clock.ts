/**
 * The source of "now" for everything that decides by time. Only composition roots
 * create a {@link systemClock}; everything else receives a `Clock` so tests can move time by hand.
 */
export interface Clock {
  /** The current time. */
  now(): Date;
  /** The current time in epoch ms, where a clock can give it without making a Date (hot paths). */
  nowMs?(): number;
}

/** The real wall clock. */
export const systemClock: Clock = {
  now: () => new Date(),
  nowMs: () => Date.now(),
};

/** `clock`'s now in epoch ms, without a Date where the clock allows. */
export function nowMs(clock: Clock): number {
  return clock.nowMs ? clock.nowMs() : clock.now().getTime();
}
