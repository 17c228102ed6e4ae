import { randomUUID } from 'node:crypto';
import {
  errorMessage,
  formatDuration,
  readIngestLiveness,
  refreshPlannerStatistics,
  yieldToEventLoop,
  type Clock,
  type Database,
  type FlapSettings,
  type IngestLiveness,
  type Logger,
} from '@lunasentri/shared';
import type { Kysely } from 'kysely';
import { awaitsIngestBeat, cutoffOf, decide, ingestDownWarnable, ingestStateOf, nextCheckAt, offlineCutoffOf, offlinePossible, resumeProtects, type DecisionContext, type IngestState } from './heartbeat.models';
import {
  anyFreshArrival,
  earliestFreshLastSeen,
  earliestProtectingEnable,
  offlineCandidates,
  pendingWithFreshReport,
  recoveryCandidates,
  type MachineRow,
} from './machines.repository';
import { earliestQuietDue } from './quiet.repository';
import { endDueWindows, reviewDueMachines, sendDueReminders, type QuietJobDeps } from './quiet.usecases';
import type { OutboxHandoff } from '../outbox/outbox.types';
import { applyTransitions, DEFAULT_FLAP, type AppliedTransition, type TransitionKind } from './transitions.usecases';

export type { AppliedTransition, TransitionKind } from './transitions.usecases';

export interface SweepDeps {
  db: Kysely<Database>;
  clock: Clock;
  logger: Logger;
  thresholdMs: number;
  /** the latest a next check may come (the daemon's interval); default 30 s */
  intervalMs?: number;
  /**
   * candidate rows read per query and committed per transaction; default 250. Bounds memory whatever
   * the fleet size, and how long one batch holds the write lock and the event loop.
   */
  batchSize?: number;
  newEventId?: () => string;
  /**
   * called after each commit that wrote deliveries not handed over, so they can go out while the
   * sweep goes on
   */
  onDeliveries?: () => void;
  /** this process's dispatcher: status changes hand their new deliveries to it, claimed as they are written */
  handoff?: OutboxHandoff;
  /** when the daemon started (for its grace before warning of an ingest outage); default: when the sweeper is made */
  startedAt?: Date;
  /** the flapping rule (CONTRACT §6.2); default 5 changes in 30m, settled after 5m */
  flap?: FlapSettings;
}

export interface SweepResult {
  now: Date;
  ingest: IngestState;
  liveness: IngestLiveness;
  transitions: AppliedTransition[];
  /** events written by the quiet rules' own jobs (reviews after a window or snooze, settles, reminders) */
  quietEvents: number;
  /** delivery rows written by this sweep */
  deliveries: number;
  /**
   * When the next check is due: the first moment an online machine crosses the threshold, at the
   * latest one interval after `now` (offline is detected at the threshold, not an interval later).
   */
  nextCheckAt: Date;
  /**
   * A machine has crossed the threshold but waits for an API beat after its crossing (see
   * offlineEvidenceAt): the next write by another connection may be that beat, worth a check at once.
   */
  awaitingIngestBeat: boolean;
}

export interface Sweeper {
  /**
   * One check: decide and write every transition due now. When `signal` aborts, the check ends after
   * the batch being committed (shutdown must not wait for a burst of thousands of transitions; the
   * rest are found by the next check, of this daemon or another).
   */
  run(signal?: AbortSignal): Promise<SweepResult>;
  /**
   * Whether a report waits that a check would turn into a first-report or recovery transition (one
   * indexed query): between checks, the only change worth a check at once.
   */
  hasArrivals(): Promise<boolean>;
}

type Candidates = (cutoff: string, limit: number) => Promise<MachineRow[]>;

/** Delivery rows written by one check that count as a burst (see refreshPlannerStatistics). */
const BURST_ROWS = 500;

/**
 * The sweep: finds candidates through the (status, last_seen) index, decides with the pure model and
 * commits each batch of transitions in one transaction (status compare-and-set, dedup rows, events
 * and deliveries together; see {@link applyTransitions}). Between batches it yields to the event
 * loop: better-sqlite3 is synchronous, so without that a burst would hold the process for its whole
 * length. Keeps one piece of state: whether it already warned about the current ingest outage.
 */
export function createSweeper(deps: SweepDeps): Sweeper {
  const { db, clock, thresholdMs } = deps;
  const batchSize = deps.batchSize ?? 250;
  const newEventId = deps.newEventId ?? randomUUID;
  const startedAt = deps.startedAt ?? clock.now();
  const noteIngest = ingestOutageNotes(deps.logger, thresholdMs);
  const flap = deps.flap ?? DEFAULT_FLAP;
  const quietDeps: QuietJobDeps = { db, logger: deps.logger, newEventId, flap, batchSize };
  const handoff = countingHandoff(deps.handoff);

  async function drain(query: Candidates, expected: TransitionKind, ctx: DecisionContext, cutoff: string, out: AppliedTransition[], signal?: AbortSignal) {
    while (!signal?.aborted) {
      const rows = await query(cutoff, batchSize);
      const due = rows.filter((row) => decide(row, ctx).kind === expected);
      const before = handoff?.taken ?? 0;
      const applied = await applyTransitions({ db, logger: deps.logger, newEventId, flap, handoff }, due, expected, ctx);
      out.push(...applied);
      // Rows handed over are the dispatcher's already; the others wait for its claim.
      if (applied.reduce((n, t) => n + t.deliveries, 0) > (handoff?.taken ?? 0) - before) deps.onDeliveries?.();
      // Every applied row left the queried status, so the next batch holds new rows; a batch that
      // moved nothing would only repeat itself.
      if (rows.length < batchSize || applied.length === 0) return;
      await yieldToEventLoop();
    }
  }

  /**
   * The next check's inputs, read with one index seek each (never the stale part of the fleet while it
   * cannot cross). `cutoff` is the offline cutoff: machines past the threshold that wait for an API
   * beat count as fresh, so the next check comes about a beat later.
   */
  async function planNextCheck(now: Date, ingest: IngestState, cutoff: string): Promise<Pick<SweepResult, 'nextCheckAt' | 'awaitingIngestBeat'>> {
    // Down: nothing can cross. Within a resume's grace: no re-enable can end sooner than the grace
    // itself, so the stale machines (possibly the whole fleet just after an outage) are not read.
    const fresh = ingest.down ? null : await earliestFreshLastSeen(db, cutoff);
    const enabled = ingest.down || resumeProtects(ingest, cutoff) ? null : await earliestProtectingEnable(db, cutoff);
    const quietDueAt = await earliestQuietDue(db);
    const inputs = { now, intervalMs: deps.intervalMs ?? 30_000, thresholdMs, ingest, earliestFreshLastSeen: fresh, earliestProtectingEnable: enabled, startedAt, quietDueAt };
    return { nextCheckAt: nextCheckAt(inputs), awaitingIngestBeat: awaitsIngestBeat(inputs) };
  }

  /** A burst's rows change what the planner should do with the outbox: at most every 5 minutes. */
  let statisticsAt = -Infinity;
  async function refreshStatisticsAfterBurst(now: Date, deliveries: number): Promise<void> {
    if (deliveries < BURST_ROWS || now.getTime() - statisticsAt < 5 * 60_000) return;
    statisticsAt = now.getTime();
    await refreshPlannerStatistics(db).catch((error: unknown) => deps.logger.debug(`Could not refresh planner statistics: ${errorMessage(error)}`));
  }

  return {
    hasArrivals: () => anyFreshArrival(db, cutoffOf(clock.now(), thresholdMs)),
    async run(signal) {
      const now = clock.now();
      const liveness = await readIngestLiveness(db, now);
      const ingest = ingestStateOf(liveness);
      noteIngest(liveness, ingest.down, ingestDownWarnable(ingest, startedAt, now));
      const ctx: DecisionContext = { now, thresholdMs, ingest };
      // Reports are judged by now; silence only as of the latest API beat (see offlineEvidenceAt).
      const cutoff = cutoffOf(now, thresholdMs);
      const offlineCutoff = offlineCutoffOf(now, thresholdMs, ingest);
      const transitions: AppliedTransition[] = [];

      // Quiet periods that ended are settled first, so the status changes below already count
      // thresholds from their ends (a daemon that was down across an end must not skip that).
      const settled = await settleEndedQuiet(quietDeps, ctx, signal);
      if (settled.deliveries > 0) deps.onDeliveries?.();
      await drain((c, limit) => pendingWithFreshReport(db, c, limit).execute(), 'first-report', ctx, cutoff, transitions, signal);
      await drain((c, limit) => recoveryCandidates(db, c, limit).execute(), 'came-online', ctx, cutoff, transitions, signal);
      if (offlinePossible(ingest, offlineCutoff)) {
        await drain((c, limit) => offlineCandidates(db, c, limit).execute(), 'went-offline', ctx, offlineCutoff, transitions, signal);
      }
      const reminders = await sendDueReminders(quietDeps, ctx, signal);
      const quiet = { events: settled.events + reminders.events, deliveries: settled.deliveries + reminders.deliveries };
      if (reminders.deliveries > 0) deps.onDeliveries?.();
      const deliveries = transitions.reduce((n, t) => n + t.deliveries, 0) + quiet.deliveries;
      await refreshStatisticsAfterBurst(now, deliveries);
      return { now, ingest, liveness, transitions, quietEvents: quiet.events, deliveries, ...(await planNextCheck(now, ingest, offlineCutoff)) };
    },
  };
}

/** The handoff, counting the rows it takes (whether a commit left any for the dispatcher's own claim). */
function countingHandoff(handoff: OutboxHandoff | undefined): (OutboxHandoff & { readonly taken: number }) | undefined {
  if (!handoff) return undefined;
  let taken = 0;
  return {
    instanceId: handoff.instanceId,
    channels: handoff.channels,
    leaseMs: handoff.leaseMs,
    room: () => handoff.room(),
    take(rows, claimedUntilMs) {
      taken += rows.length;
      handoff.take(rows, claimedUntilMs);
    },
    get taken() {
      return taken;
    },
  };
}

/**
 * The quiet rules' due work before the status changes (CONTRACT §6): window ends (they make machines
 * due for a review), then the due reviews (snooze ends, settles, announcements owed). Reminders come
 * after the status changes, which end the reminders of every outage that just recovered.
 */
async function settleEndedQuiet(deps: QuietJobDeps, ctx: DecisionContext, signal?: AbortSignal): Promise<{ events: number; deliveries: number }> {
  await endDueWindows(deps, ctx, signal);
  return reviewDueMachines(deps, ctx, signal);
}

/**
 * One warning when an ingest outage starts (once it is warnable: a starting daemon gives the API a
 * few seconds first), one line when it ends; nothing in between, and nothing for an outage that
 * ended before it was warned of.
 */
function ingestOutageNotes(logger: Logger, thresholdMs: number): (liveness: IngestLiveness, down: boolean, warnable: boolean) => void {
  let warned = false;
  return (liveness, down, warnable) => {
    if (warnable && !warned) {
      warned = true;
      logger.warn(`Ingest is down (no API process live since ${liveness.downSince ?? 'unknown'}): offline notifications are paused until it is back`);
    } else if (!down && warned) {
      warned = false;
      logger.info(`Ingest is back: machines get a full threshold (${formatDuration(thresholdMs)}) to report before they can go offline`);
    }
  };
}
