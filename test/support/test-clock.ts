import type { Clock } from '@lunasentri/shared';

interface Sleeper {
  until: number;
  resolve: () => void;
}

/**
 * A clock that only moves when told to. Starts at `start` (default 2026-11-28T03:00:00.000Z). Its
 * {@link TestClock.sleep} stands in for a timer: it ends when the clock is moved past its end (or on
 * abort), never by real time passing.
 */
export class TestClock implements Clock {
  private ms: number;
  private sleepers: Sleeper[] = [];

  constructor(start: Date | string | number = '2026-11-28T03:00:00.000Z') {
    this.ms = new Date(start).getTime();
    if (Number.isNaN(this.ms)) throw new Error(`TestClock: invalid start time ${String(start)}`);
  }

  now(): Date {
    return new Date(this.ms);
  }

  /** Moves time forward by `ms` milliseconds (negative moves it back); sleeps that end by then end. */
  advance(ms: number): Date {
    this.ms += ms;
    this.wakeSleepers();
    return this.now();
  }

  /** Sets the time. */
  set(time: Date | string | number): Date {
    this.ms = new Date(time).getTime();
    this.wakeSleepers();
    return this.now();
  }

  /** A timer on this clock: resolves once the clock reaches now + `ms`, or when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (ms <= 0 || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const sleeper: Sleeper = { until: this.ms + ms, resolve };
      const onAbort = () => this.end(sleeper);
      sleeper.resolve = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.sleepers.push(sleeper);
    });
  }

  /** When the earliest pending sleep ends (ms), or null when nothing sleeps. */
  nextWake(): number | null {
    return this.sleepers.length === 0 ? null : Math.min(...this.sleepers.map((s) => s.until));
  }

  /** Sleeps not yet ended: a loop waiting on this clock has one. */
  get sleeping(): number {
    return this.sleepers.length;
  }

  private end(sleeper: Sleeper): void {
    this.sleepers = this.sleepers.filter((s) => s !== sleeper);
    sleeper.resolve();
  }

  private wakeSleepers(): void {
    for (const sleeper of this.sleepers.filter((s) => s.until <= this.ms)) this.end(sleeper);
  }
}
