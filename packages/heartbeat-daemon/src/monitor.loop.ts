import { recordBeat, type Clock, type DatabaseHandle, type Logger } from '@lunasentri/shared';
import { nextCheckAt } from './heartbeat.models';
import { earliestFreshLastSeen, earliestProtectingEnable } from './machines.repository';
import type { Dispatcher } from './dispatcher.usecases';
import type { Sweeper, SweepResult } from './sweep.usecases';
import { Wakeup } from './wakeup';

export interface MonitorDeps {
  handle: DatabaseHandle;
  clock: Clock;
  logger: Logger;
  sweeper: Sweeper;
  dispatcher: Dispatcher;
  /** the daemon's liveness row: its beat is its last check */
  instanceId: string;
  intervalMs: number;
  thresholdMs: number;
  /** how often to look for writes by other connections; default 500 ms */
  pollMs?: number;
  /** beats are written at most this often; default 1 s */
  beatEveryMs?: number;
}

/** When to check next: at the first threshold crossing, at the latest one interval from now. */
export async function planNextCheck(deps: Pick<MonitorDeps, 'handle' | 'intervalMs' | 'thresholdMs'>, result: SweepResult): Promise<Date> {
  const db = deps.handle.db;
  const cutoff = new Date(result.now.getTime() - deps.thresholdMs).toISOString();
  // Down: nothing can cross. Within a resume's grace: no re-enable can end sooner than the grace
  // itself, so the stale machines (possibly the whole fleet just after an outage) are not read.
  const resumeProtects = result.ingest.resumedAt !== null && result.ingest.resumedAt >= cutoff;
  const fresh = result.ingest.down ? null : await earliestFreshLastSeen(db, cutoff);
  const enabled = result.ingest.down || resumeProtects ? null : await earliestProtectingEnable(db, cutoff);
  return nextCheckAt({
    now: result.now,
    intervalMs: deps.intervalMs,
    thresholdMs: deps.thresholdMs,
    ingest: result.ingest,
    earliestFreshLastSeen: fresh,
    earliestProtectingEnable: enabled,
  });
}

/**
 * The monitor loop. Checks when the next machine is due to cross the threshold, when another
 * connection has written to the database (a heartbeat of an offline machine, new deliveries of
 * another daemon: SQLite's `data_version` changes), and at least once per interval. Returns when
 * `signal` aborts; a check in progress stops after the batch it is committing.
 */
export async function runMonitor(deps: MonitorDeps, signal: AbortSignal): Promise<void> {
  const { handle, clock, logger } = deps;
  const pollMs = deps.pollMs ?? 500;
  const beatEveryMs = deps.beatEveryMs ?? 1_000;
  const sleeper = new Wakeup();
  // data_version changes only when another connection commits; our own writes leave it alone.
  const dataVersion = () => Number(handle.sqlite.pragma('data_version', { simple: true }));
  let seenVersion = dataVersion();
  let nextAt = 0;
  let lastBeat = -Infinity;

  while (!signal.aborted) {
    const version = dataVersion();
    const changed = version !== seenVersion;
    seenVersion = version;
    if (changed) deps.dispatcher.wake();
    if (changed || clock.now().getTime() >= nextAt) {
      try {
        const result = await deps.sweeper.run(signal);
        if (result.deliveries > 0) deps.dispatcher.wake();
        if (result.now.getTime() - lastBeat >= beatEveryMs) {
          await recordBeat(handle.db, deps.instanceId, clock);
          lastBeat = result.now.getTime();
        }
        const planned = await planNextCheck(deps, result);
        nextAt = planned.getTime();
      } catch (error) {
        logger.error(`Check failed: ${error instanceof Error ? error.message : String(error)}`);
        nextAt = clock.now().getTime() + Math.min(deps.intervalMs, 5_000);
      }
    }
    await sleeper.sleep(Math.min(pollMs, Math.max(0, nextAt - clock.now().getTime())), signal);
  }
}
