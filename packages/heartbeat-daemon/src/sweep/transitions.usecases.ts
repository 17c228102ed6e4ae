import { randomUUID } from 'node:crypto';
import {
  buildOfflinePayload,
  buildOnlinePayload,
  formatDuration,
  serializePayload,
  type Database,
  type EventType,
  type Logger,
  type MachineStatus,
} from '@lunasentri/shared';
import type { Kysely } from 'kysely';
import { endOutages, markOutagesAnnounced } from './dedup.repository';
import { insertEventsWithDeliveries } from '../outbox/outbox.repository';
import type { NewEvent } from '../outbox/outbox.types';
import { decide, wholeSecondsBetween, type DecisionContext } from './heartbeat.models';
import { recordOutageIntervals } from './outage-history.repository';
import { compareAndSetStatuses, findMachines, snapshotOf, type MachineRow } from './machines.repository';
import { outageAudiences, recipientsLookup, recoveryRecipientsLookup } from './recipients.repository';

export type TransitionKind = 'went-offline' | 'came-online' | 'first-report';

export interface AppliedTransition {
  machineId: number;
  kind: TransitionKind;
  /** null when the transition creates no event (first report, or an outage announced before) */
  eventId: string | null;
  deliveries: number;
}

export interface TransitionDeps {
  db: Kysely<Database>;
  logger: Logger;
  newEventId?: () => string;
}

const FROM: Record<TransitionKind, MachineStatus> = { 'went-offline': 'online', 'came-online': 'offline', 'first-report': 'pending' };
const TO: Record<TransitionKind, MachineStatus> = { 'went-offline': 'offline', 'came-online': 'online', 'first-report': 'online' };
const EVENT: Record<Exclude<TransitionKind, 'first-report'>, EventType> = { 'went-offline': 'machine.offline', 'came-online': 'machine.online' };

interface Applied {
  machine: MachineRow;
  transition: AppliedTransition;
}

/**
 * Commits the transitions of kind `expected` decided on `candidates`, all in one `BEGIN IMMEDIATE`
 * transaction, and logs them once committed. Under the write lock every row is read again and
 * decided again (ingest may have written a fresh `last_seen` since the candidates were read, another
 * daemon may have moved it), then its status is compare-and-set, and its dedup row, event and
 * deliveries are written in the same transaction: a batch commits whole or not at all, so no
 * transition ever exists without its outbox rows. Returns the transitions applied, in candidate order.
 */
export async function applyTransitions(
  deps: TransitionDeps,
  candidates: readonly MachineRow[],
  expected: TransitionKind,
  ctx: DecisionContext,
): Promise<AppliedTransition[]> {
  if (candidates.length === 0) return [];
  const newEventId = deps.newEventId ?? randomUUID;
  const nowIso = ctx.now.toISOString();
  const applied = await deps.db.transaction().execute(async (trx): Promise<Applied[]> => {
    const current = new Map((await findMachines(trx, candidates.map((c) => c.id))).map((m) => [m.id, m]));
    const due = candidates.flatMap((c) => {
      const machine = current.get(c.id);
      const decision = machine ? decide(machine, ctx) : null;
      return machine && decision?.kind === expected ? [{ machine, decision }] : [];
    });
    const moved = await compareAndSetStatuses(trx, { ids: due.map((d) => d.machine.id), from: FROM[expected], to: TO[expected], at: nowIso });
    const done = due.filter((d) => moved.has(d.machine.id));
    await recordOutageIntervals(trx, { kind: expected, machineIds: done.map((d) => d.machine.id), at: nowIso });
    const eventless = (machine: MachineRow): Applied => ({ machine, transition: { machineId: machine.id, kind: expected, eventId: null, deliveries: 0 } });
    if (expected === 'first-report') return done.map((d) => eventless(d.machine));

    const ids = done.map((d) => d.machine.id);
    // At most one offline event per outage, whatever happened before (restarts, other daemons); a
    // recovery from an outage nobody was told about is not news. Either way the status still moves.
    const announced = expected === 'went-offline' ? await markOutagesAnnounced(trx, ids, nowIso) : null;
    const ended = expected === 'came-online' ? await endOutages(trx, ids) : null;
    const type = EVENT[expected];
    // A recovery goes only to the channels that were told of the outage it ends.
    const recipientsOf = ended ? recoveryRecipientsLookup(trx, await outageAudiences(trx, ended)) : recipientsLookup(trx, type);
    const events: NewEvent[] = [];
    const out: Applied[] = [];
    for (const { machine, decision } of done) {
      const announcedAt = ended?.get(machine.id);
      if (announced ? !announced.has(machine.id) : announcedAt === undefined) {
        out.push(eventless(machine));
        continue;
      }
      const eventId = newEventId();
      const payload =
        decision.kind === 'came-online'
          ? buildOnlinePayload({ eventId, occurredAt: nowIso, machine: snapshotOf(machine, 'online'), offlineSince: decision.offlineSince ?? announcedAt! })
          : buildOfflinePayload({ eventId, occurredAt: nowIso, machine: snapshotOf(machine, 'offline') });
      const recipients = await recipientsOf(machine);
      events.push({ id: eventId, type, machineId: machine.id, userId: machine.user_id, occurredAt: nowIso, payload: serializePayload(payload), recipients });
      out.push({ machine, transition: { machineId: machine.id, kind: expected, eventId, deliveries: recipients.length } });
    }
    await insertEventsWithDeliveries(trx, events);
    return out;
  });
  // Only now, after the commit: a logged transition is a committed one.
  for (const { machine, transition } of applied) logTransition(deps.logger, machine, transition.kind, ctx.now);
  return applied.map((a) => a.transition);
}

function logTransition(logger: Logger, machine: MachineRow, kind: TransitionKind, now: Date): void {
  const label = `Machine ${machine.id} (${machine.name})`;
  if (kind === 'went-offline') {
    const ago = machine.last_seen === null ? 'never' : `${formatDuration(wholeSecondsBetween(machine.last_seen, now))} ago`;
    logger.warn(`${label} went offline (last seen: ${ago})`);
  } else if (kind === 'came-online') {
    logger.info(`${label} came back online`);
  } else {
    // Info, not debug: it is how a user sees a new agent connect.
    logger.info(`${label} reported for the first time: online`);
  }
}
