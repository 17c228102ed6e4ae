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
