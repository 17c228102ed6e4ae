import { randomUUID } from 'node:crypto';
import {
  buildOfflinePayload,
  buildOnlinePayload,
  formatDuration,
  readIngestLiveness,
  serializePayload,
  type Clock,
  type Database,
  type EventType,
  type IngestLiveness,
  type Logger,
} from '@lunasentri/shared';
import type { Kysely } from 'kysely';
import { endOutage, markOutageAnnounced } from './dedup.repository';
import { insertEventWithDeliveries } from './events.repository';
import { decide, wholeSecondsBetween, type DecisionContext, type IngestState } from './heartbeat.models';
import {
  compareAndSetStatus,
  findMachine,
  offlineCandidates,
  pendingWithReport,
  recoveryCandidates,
  snapshotOf,
  type MachineRow,
} from './machines.repository';
import { recipientsFor } from './recipients.repository';

export interface SweepDeps {
  db: Kysely<Database>;
  clock: Clock;
  logger: Logger;
  thresholdMs: number;
  /** candidate rows read per query (bounds memory whatever the fleet size) */
  batchSize?: number;
  newEventId?: () => string;
}

export interface AppliedTransition {
  machineId: number;
  kind: 'went-offline' | 'came-online' | 'first-report';
  /** null when the transition creates no event (first report, or an outage announced before) */
  eventId: string | null;
  deliveries: number;
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
  /** One check: decide and write every transition due now. */
  run(): Promise<SweepResult>;
}

export type TransitionKind = AppliedTransition['kind'];

/**
 * Commits one transition decided on `candidate`, in one transaction: the row is read again under
 * the write lock and decided again (ingest or another daemon may have written since), the status is
 * compare-and-set, and the dedup row, the event and its deliveries are written with it.
 * Returns null when the transition no longer applies.
 */
export async function applyTransition(
  deps: Pick<SweepDeps, 'db' | 'logger'> & { newEventId?: () => string },
  candidate: MachineRow,
  expected: TransitionKind,
  ctx: DecisionContext,
): Promise<AppliedTransition | null> {
  const { db, logger } = deps;
  const newEventId = deps.newEventId ?? randomUUID;
  const nowIso = ctx.now.toISOString();
  const applied = await db.transaction().execute(async (trx) => {
    // Decide again on the row as it is under the write lock: ingest may have written meanwhile.
    const machine = await findMachine(trx, candidate.id);
    if (!machine) return null;
    const decision = decide(machine, ctx);
    if (decision.kind === 'none' || decision.kind !== expected) return null;
    const next = decision.kind === 'went-offline' ? 'offline' : 'online';
    if (!(await compareAndSetStatus(trx, machine, next, nowIso))) return null;

    if (decision.kind === 'first-report') return { machine, transition: { machineId: machine.id, kind: decision.kind, eventId: null, deliveries: 0 } };

    let type: EventType;
    let payload: string;
    const eventId = newEventId();
    if (decision.kind === 'went-offline') {
      // At most one offline event per outage, whatever happened before (restarts, other daemons).
      if (!(await markOutageAnnounced(trx, machine.id, nowIso))) {
        return { machine, transition: { machineId: machine.id, kind: decision.kind, eventId: null, deliveries: 0 } };
      }
      type = 'machine.offline';
      payload = serializePayload(buildOfflinePayload({ eventId, occurredAt: nowIso, machine: snapshotOf(machine, 'offline') }));
    } else {
      const announcedAt = await endOutage(trx, machine.id);
      // Recovery from an outage nobody was told about is not news.
      if (announcedAt === null) return { machine, transition: { machineId: machine.id, kind: decision.kind, eventId: null, deliveries: 0 } };
      type = 'machine.online';
      payload = serializePayload(
        buildOnlinePayload({ eventId, occurredAt: nowIso, machine: snapshotOf(machine, 'online'), offlineSince: decision.offlineSince ?? announcedAt }),
      );
    }
    const recipients = await recipientsFor(trx, machine.user_id, type);
    await insertEventWithDeliveries(trx, { id: eventId, type, machineId: machine.id, userId: machine.user_id, occurredAt: nowIso, payload }, recipients);
    return { machine, transition: { machineId: machine.id, kind: decision.kind, eventId, deliveries: recipients.length } };
  });
  if (!applied) return null;
  const { machine, transition } = applied;
  const label = `Machine ${machine.id} (${machine.name})`;
  if (transition.kind === 'went-offline') {
    const ago = machine.last_seen === null ? 'never' : `${formatDuration(wholeSecondsBetween(machine.last_seen, ctx.now))} ago`;
    logger.warn(`${label} went offline (last seen: ${ago})`);
  } else if (transition.kind === 'came-online') {
    logger.info(`${label} came back online`);
  } else {
    logger.debug(`${label} reported for the first time: online`);
  }
  return transition;
}

type Candidates = (cutoff: string, limit: number) => Promise<MachineRow[]>;

/**
 * The sweep: finds candidates through the (status, last_seen) index, decides with the pure model and
 * writes each transition in its own transaction (status compare-and-set, dedup row, event and
 * deliveries together). Keeps one piece of state: whether it already warned about the current
 * ingest outage.
 */
export function createSweeper(deps: SweepDeps): Sweeper {
  const { db, clock, logger, thresholdMs } = deps;
  const batchSize = deps.batchSize ?? 500;
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

  async function drain(query: Candidates, cutoff: string, expected: TransitionKind, ctx: DecisionContext, out: AppliedTransition[]): Promise<void> {
    for (;;) {
      const rows = await query(cutoff, batchSize);
      let moved = 0;
      for (const row of rows) {
        if (decide(row, ctx).kind !== expected) continue;
        const transition = await applyTransition({ db, logger, newEventId }, row, expected, ctx);
        if (transition) {
          moved++;
          out.push(transition);
        }
      }
      // Every applied row left the queried status, so the next batch holds new rows; a batch that
      // moved nothing would only repeat itself.
      if (rows.length < batchSize || moved === 0) return;
    }
  }

  return {
    async run() {
      const now = clock.now();
      const liveness = await readIngestLiveness(db, now);
      const ingest: IngestState = { down: liveness.everRecorded && !liveness.live, resumedAt: liveness.resumedAt };
      noteIngest(liveness, ingest.down);
      const ctx: DecisionContext = { now, thresholdMs, ingest };
      const cutoff = new Date(now.getTime() - thresholdMs).toISOString();
      const transitions: AppliedTransition[] = [];

      await drain((_c, limit) => pendingWithReport(db, limit).execute(), cutoff, 'first-report', ctx, transitions);
      await drain((c, limit) => recoveryCandidates(db, c, limit).execute(), cutoff, 'came-online', ctx, transitions);
      // While ingest is down, or within a threshold of its resume, no machine can go offline: skip the query.
      const resumeProtects = ingest.resumedAt !== null && ingest.resumedAt >= cutoff;
      if (!ingest.down && !resumeProtects) {
        await drain((c, limit) => offlineCandidates(db, c, limit).execute(), cutoff, 'went-offline', ctx, transitions);
      }
      return { now, ingest, liveness, transitions, deliveries: transitions.reduce((n, t) => n + t.deliveries, 0) };
    },
  };
}
