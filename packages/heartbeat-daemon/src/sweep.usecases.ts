import { randomUUID } from 'node:crypto';
import { formatDuration, readIngestLiveness, type Clock, type Database, type IngestLiveness, type Logger } from '@lunasentri/shared';
import type { Kysely } from 'kysely';
import { decide, type DecisionContext, type IngestState } from './heartbeat.models';
import { offlineCandidates, pendingWithFreshReport, recoveryCandidates, type MachineRow } from './machines.repository';
import { applyTransitions, type AppliedTransition, type TransitionKind } from './transitions.usecases';

export type { AppliedTransition, TransitionKind } from './transitions.usecases';

export interface SweepDeps {
  db: Kysely<Database>;
  clock: Clock;
  logger: Logger;
  thresholdMs: number;
  /**
   * candidate rows read per query and committed per transaction; default 250. Bounds memory whatever
   * the fleet size, and how long one batch holds the write lock and the event loop.
   */
  batchSize?: number;
  newEventId?: () => string;
  /** called after each commit that wrote deliveries, so they can go out while the sweep goes on */
  onDeliveries?: () => void;
}

export interface SweepResult {
  now: Date;
  ingest: IngestState;
  liveness: IngestLiveness;
  transitions: AppliedTransition[];
  /** delivery rows written by this sweep */
  deliveries: number;
}

export interface Sweeper {
  /**
   * One check: decide and write every transition due now. When `signal` aborts, the check ends after
   * the batch being committed (shutdown must not wait for a burst of thousands of transitions; the
   * rest are found by the next check, of this daemon or another).
   */
  run(signal?: AbortSignal): Promise<SweepResult>;
}

type Candidates = (cutoff: string, limit: number) => Promise<MachineRow[]>;

/** Lets timers, I/O (sends in flight, log output, signals) and other tasks run between two batches. */
const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * The sweep: finds candidates through the (status, last_seen) index, decides with the pure model and
 * commits each batch of transitions in one transaction (status compare-and-set, dedup rows, events
 * and deliveries together; see {@link applyTransitions}). Between batches it yields to the event
 * loop: better-sqlite3 is synchronous, so without that a burst would hold the process for its whole
 * length. Keeps one piece of state: whether it already warned about the current ingest outage.
 */
export function createSweeper(deps: SweepDeps): Sweeper {
  const { db, clock, logger, thresholdMs } = deps;
  const batchSize = deps.batchSize ?? 250;
  const newEventId = deps.newEventId ?? randomUUID;
  let warnedIngestDown = false;

  function noteIngest(liveness: IngestLiveness, down: boolean): void {
    if (down && !warnedIngestDown) {
      warnedIngestDown = true;
      logger.warn(
        `Ingest is down (no API process live since ${liveness.downSince ?? 'unknown'}): offline notifications are paused until it is back`,
      );
    } else if (!down && warnedIngestDown) {
      warnedIngestDown = false;
      logger.info(`Ingest is back: machines get a full threshold (${formatDuration(thresholdMs)}) to report before they can go offline`);
    }
  }

  async function drain(
    query: Candidates,
    cutoff: string,
    expected: TransitionKind,
    ctx: DecisionContext,
    out: AppliedTransition[],
    signal: AbortSignal | undefined,
  ): Promise<void> {
    while (!signal?.aborted) {
      const rows = await query(cutoff, batchSize);
      const due = rows.filter((row) => decide(row, ctx).kind === expected);
      const applied = await applyTransitions({ db, logger, newEventId }, due, expected, ctx);
      out.push(...applied);
      if (applied.some((t) => t.deliveries > 0)) deps.onDeliveries?.();
      // Every applied row left the queried status, so the next batch holds new rows; a batch that
      // moved nothing would only repeat itself.
      if (rows.length < batchSize || applied.length === 0) return;
      await yieldToEventLoop();
    }
  }

  return {
    async run(signal) {
      const now = clock.now();
      const liveness = await readIngestLiveness(db, now);
      const ingest: IngestState = { down: liveness.everRecorded && !liveness.live, resumedAt: liveness.resumedAt };
      noteIngest(liveness, ingest.down);
      const ctx: DecisionContext = { now, thresholdMs, ingest };
      const cutoff = new Date(now.getTime() - thresholdMs).toISOString();
      const transitions: AppliedTransition[] = [];

      await drain((c, limit) => pendingWithFreshReport(db, c, limit).execute(), cutoff, 'first-report', ctx, transitions, signal);
      await drain((c, limit) => recoveryCandidates(db, c, limit).execute(), cutoff, 'came-online', ctx, transitions, signal);
      // While ingest is down, or within a threshold of its resume, no machine can go offline: skip the query.
      const resumeProtects = ingest.resumedAt !== null && ingest.resumedAt >= cutoff;
      if (!ingest.down && !resumeProtects) {
        await drain((c, limit) => offlineCandidates(db, c, limit).execute(), cutoff, 'went-offline', ctx, transitions, signal);
      }
      return { now, ingest, liveness, transitions, deliveries: transitions.reduce((n, t) => n + t.deliveries, 0) };
    },
  };
}
