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
  /** how often to look for writes by other connections when no hint says so sooner; default 500 ms */
  pollMs?: number;
  /** beats are written at most this often; default 1 s */
  beatEveryMs?: number;
  /** waits `ms`, or until `signal` aborts; default a real timer (tests pass their clock's) */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

/** The reason a sleep ends early; one object, not a fresh DOMException per wake. */
const WAKE = 'wake';

/** A real timer that an abort ends early. */
function timerSleep(): (ms: number, signal: AbortSignal) => Promise<void> {
  const wakeup = new Wakeup();
  return (ms, signal) => wakeup.sleep(ms, signal);
}

/**
 * The monitor loop. Checks when the sweep says the next machine is due to cross the threshold, when
 * another connection has written to the database, and at least once per interval. Returns when
 * `signal` aborts; a check in progress stops after the batch it is committing.
 *
 * Writes by other connections are looked for every `pollMs`, and between polls whenever the change
 * feed hints at one (the SQLite log was appended to, PostgreSQL notified). A hint costs one indexed
 * query: only a report that brings a machine back (or a first report) is worth a check before the next
 * poll, so a recovery is told within milliseconds while a fleet reporting steadily wakes the full
 * check no more often than the polls do.
 */
export async function runMonitor(deps: MonitorDeps, signal: AbortSignal): Promise<void> {
  const { clock } = deps;
  const pollMs = deps.pollMs ?? 500;
  const beatEveryMs = deps.beatEveryMs ?? 1_000;
  const sleep = deps.sleep ?? timerSleep();
  const checks = failureStreak(deps.logger, 'Check');
  let nextAt = 0;
  let nextPollAt = 0;
  /** the last check left a threshold crossing waiting for an API beat */
  let awaitingBeat = false;
  let lastBeat = -Infinity;
  /** another connection wrote since the last poll turn (seen on a hint, acted on at the turn) */
  let changed = false;
  /** ends the current sleep: a hint, or the loop's own stop */
  let wake = new AbortController();
  let hinted = false;
  // A commit can append to the log several times, so hints come in bursts: only the first of a burst
  // ends the sleep (abort() builds an exception object each call, even on an aborted controller).
  const wakeUp = () => {
    if (!wake.signal.aborted) wake.abort(WAKE);
  };
  deps.changes.onHint(() => {
    hinted = true;
    wakeUp();
  });
  const stop = wakeUp;
  signal.addEventListener('abort', stop, { once: true });

  /** One check; failures are logged once per streak and retried with backoff (0.5 s, 1 s, 2 s … up to 5 s or the interval). */
  async function check(): Promise<void> {
    try {
      const result = await deps.sweeper.run(signal);
      if (result.deliveries > 0) deps.dispatcher.wake();
      if (result.now.getTime() - lastBeat >= beatEveryMs) {
        await deps.beat();
        lastBeat = result.now.getTime();
      }
      nextAt = result.nextCheckAt.getTime();
      awaitingBeat = result.awaitingIngestBeat;
      checks.succeeded();
    } catch (error) {
      checks.failed(error);
      nextAt = clock.now().getTime() + Math.min(deps.intervalMs, 5_000, 250 * 2 ** Math.min(checks.failures, 5));
    }
  }

  /** Between polls, after a hint: whether a report waits that a check would turn into a transition. */
  async function arrivalsWaiting(): Promise<boolean> {
    try {
      return await deps.sweeper.hasArrivals();
    } catch {
      return true; // let the check find (and log) what is wrong
    }
  }

  while (!signal.aborted) {
    const now = clock.now().getTime();
    const wasHinted = hinted;
    hinted = false;
    if (wake.signal.aborted) wake = new AbortController();
    const pollTurn = now >= nextPollAt;
    if ((pollTurn || wasHinted) && deps.changes.poll()) changed = true;
    let due = now >= nextAt;
    if (pollTurn) {
      nextPollAt = now + pollMs;
      if (changed) deps.dispatcher.wake();
      due ||= changed;
      changed = false;
    } else if (wasHinted && changed && !due) {
      // While a crossing waits for an API beat, any write may be that beat: check now, not at the
      // next poll (offline is then told within a beat of the threshold, whatever the fleet's size).
      due = awaitingBeat || (await arrivalsWaiting());
    }
    if (due) await check();
    const wakeAt = Math.min(nextPollAt, nextAt);
    await sleep(Math.max(0, wakeAt - clock.now().getTime()), wake.signal);
  }
  signal.removeEventListener('abort', stop);
  deps.changes.onHint(() => undefined);
}
