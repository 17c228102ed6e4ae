import type { Clock } from './clock';

/**
 * A clock that only moves when told to. Starts at `start` (default 2026-11-28T03:00:00.000Z).
 */
export class TestClock implements Clock {
  private ms: number;

  constructor(start: Date | string | number = '2026-11-28T03:00:00.000Z') {
    this.ms = new Date(start).getTime();
    if (Number.isNaN(this.ms)) throw new Error(`TestClock: invalid start time ${String(start)}`);
  }

  now(): Date {
    return new Date(this.ms);
  }

  /** Moves time forward by `ms` milliseconds (negative moves it back). */
  advance(ms: number): Date {
    this.ms += ms;
    return this.now();
  }

  /** Sets the time. */
  set(time: Date | string | number): Date {
    this.ms = new Date(time).getTime();
    return this.now();
  }
}
