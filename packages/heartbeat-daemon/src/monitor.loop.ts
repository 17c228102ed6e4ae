import { failureStreak, type ChangeFeed, type Clock, type Logger } from '@lunasentri/shared';
import type { Dispatcher } from './dispatch/dispatcher.usecases';
import type { Sweeper } from './sweep/sweep.usecases';
import { Wakeup } from './wakeup';

export interface MonitorDeps {
  /** tells when another process wrote (a report of an offline machine, another daemon's deliveries) */
  changes: ChangeFeed;
  clock: Clock;
  logger: Logger;
  sweeper: Sweeper;
  dispatcher: Pick<Dispatcher, 'wake'>;
  /** records the daemon's liveness beat: its beat is its last check */
  beat: () => Promise<void>;
  intervalMs: number;
  /** how often to look for writes by other connections; default 500 ms */
  pollMs?: number;
  /** beats are written at most this often; default 1 s */
  beatEveryMs?: number;
  /** waits `ms`, or until `signal` aborts; default a real timer (tests pass their clock's) */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

/** A real timer that an abort ends early. */
function timerSleep(): (ms: number, signal: AbortSignal) => Promise<void> {
  const wakeup = new Wakeup();
  return (ms, signal) => wakeup.sleep(ms, signal);
}

/**
 * The monitor loop. Checks when the sweep says the next machine is due to cross the threshold, when
 * another connection has written to the database, and at least once per interval. Returns when
 * `signal` aborts; a check in progress stops after the batch it is committing.
 */
export async function runMonitor(deps: MonitorDeps, signal: AbortSignal): Promise<void> {
  const { clock, logger } = deps;
  // A loop that only ever returns when aborted: each failure is logged once per streak and retried.
  const pollMs = deps.pollMs ?? 500;
  const beatEveryMs = deps.beatEveryMs ?? 1_000;
  const sleep = deps.sleep ?? timerSleep();
  let nextAt = 0;
  let lastBeat = -Infinity;
  const checks = failureStreak(logger, 'Check');

  while (!signal.aborted) {
    const changed = deps.changes.poll();
    if (changed) deps.dispatcher.wake();
    if (changed || clock.now().getTime() >= nextAt) {
      try {
        const result = await deps.sweeper.run(signal);
        if (result.deliveries > 0) deps.dispatcher.wake();
        if (result.now.getTime() - lastBeat >= beatEveryMs) {
          await deps.beat();
          lastBeat = result.now.getTime();
        }
        nextAt = result.nextCheckAt.getTime();
        checks.succeeded();
      } catch (error) {
        checks.failed(error);
        // Retried with backoff (0.5 s, 1 s, 2 s … up to 5 s or the interval): a database that is back is used at once.
        nextAt = clock.now().getTime() + Math.min(deps.intervalMs, 5_000, 250 * 2 ** Math.min(checks.failures, 5));
      }
    }
    await sleep(Math.min(pollMs, Math.max(0, nextAt - clock.now().getTime())), signal);
  }
}
