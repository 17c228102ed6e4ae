import {
  buildFlappingEndedPayload,
  buildFlappingPayload,
  buildOfflinePayload,
  buildOnlinePayload,
  serializePayload,
  type Database,
  type FlapSettings,
  type MachineNotificationPayload,
} from '@lunasentri/shared';
import type { Transaction } from 'kysely';
import { insertEventsWithDeliveries } from '../outbox/outbox.repository';
import type { HandoffBatch, NewEvent } from '../outbox/outbox.types';
import type { DecisionContext } from './heartbeat.models';
import { snapshotOf, type MachineRow } from './machines.repository';
import type { QuietContext, QuietEvent, QuietOutcome } from './quiet.models';
import { maintenanceLookup, outageRows, writeOutageRows, writeQuietColumns } from './quiet.repository';
import { channelsFor, outageAudiences, ownersLookup, recoveryRecipientsLookup, type Owner } from './recipients.repository';

/**
 * Writing what the quiet rules decided about a batch of machines, inside the caller's transaction:
 * each machine's quiet columns, its dedup row, and its event with one delivery per recipient (none
 * for a suppressed event). Shared by status changes (transitions) and due reviews, so an event is
 * built and addressed the same way whatever caused it.
 */

/** One machine to decide on. */
export interface OutcomeSubject {
  /** the row as read under the write lock (for a status change: before the change) */
  machine: MachineRow;
  /** the quiet decision, given whether the outage was announced (dedup row) and the machine's context */
  decide(outageAnnounced: boolean, ctx: QuietContext): QuietOutcome;
  /** for a recovery: when the outage began */
  offlineSince?: string | null;
}

export interface WrittenOutcome {
  machine: MachineRow;
  outcome: QuietOutcome;
  /** null when no event was written */
  eventId: string | null;
  deliveries: number;
}

export interface OutcomeEnv {
  decision: DecisionContext;
  flap: FlapSettings;
  newEventId: () => string;
  /** new deliveries to claim for this process's dispatcher as they are written */
  handoff?: HandoffBatch;
}

function payloadOf(event: QuietEvent, subject: OutcomeSubject, eventId: string, occurredAt: string, outageStart: string): MachineNotificationPayload {
  const machine = snapshotOf(subject.machine, event.status);
  switch (event.type) {
    case 'machine.online':
      return buildOnlinePayload({ eventId, occurredAt, machine, offlineSince: subject.offlineSince ?? outageStart });
    case 'machine.flapping':
      return buildFlappingPayload({ eventId, occurredAt, machine, transitions: event.flapping?.transitions ?? 0, windowSeconds: event.flapping?.windowSeconds ?? 0 });
    case 'machine.flapping_ended':
      return buildFlappingEndedPayload({ eventId, occurredAt, machine });
    default:
      return buildOfflinePayload({ eventId, occurredAt, machine });
  }
}

/** Decides every subject with its owner's preferences and windows, then writes the outcomes. */
export async function writeOutcomes(trx: Transaction<Database>, subjects: readonly OutcomeSubject[], env: OutcomeEnv): Promise<WrittenOutcome[]> {
  if (subjects.length === 0) return [];
  const now = env.decision.now;
  const outages = await outageRows(trx, subjects.map((s) => s.machine.id));
  const owners = ownersLookup(trx);
  const inMaintenance = maintenanceLookup(trx, now);
  const decided: Array<{ subject: OutcomeSubject; owner: Owner; outcome: QuietOutcome }> = [];
  for (const subject of subjects) {
    const owner = await owners(subject.machine.user_id);
    const ctx: QuietContext = { ...env.decision, flap: env.flap, inMaintenance: await inMaintenance(subject.machine), policy: owner.reminders };
    decided.push({ subject, owner, outcome: subject.decide(outages.has(subject.machine.id), ctx) });
  }
  // When each announced outage began to be told: its dedup row, else the picture the channels hold.
  const outageStart = (machine: MachineRow) => outages.get(machine.id)?.notified_at ?? machine.announced_at ?? now.toISOString();
  const ending = new Map(decided.filter((d) => d.outcome.event?.endsAnnouncedOutage).map((d) => [d.subject.machine.id, outageStart(d.subject.machine)]));
  const recoveryRecipients = recoveryRecipientsLookup(trx, await outageAudiences(trx, ending), owners);

  const events: NewEvent[] = [];
  const written: WrittenOutcome[] = [];
  for (const { subject, owner, outcome } of decided) {
    const { machine } = subject;
    const event = outcome.event;
    if (event === null) {
      written.push({ machine, outcome, eventId: null, deliveries: 0 });
      continue;
    }
    const eventId = env.newEventId();
    const occurredAt = now.toISOString();
    // A held-back event is history only: recorded, addressed to nobody.
    const recipients = event.suppressed !== null ? [] : event.endsAnnouncedOutage ? await recoveryRecipients(machine) : channelsFor(owner, event.type);
    const payload = serializePayload(payloadOf(event, subject, eventId, occurredAt, outageStart(machine)));
    events.push({ id: eventId, type: event.type, machineId: machine.id, userId: machine.user_id, occurredAt, payload, recipients, suppressed: event.suppressed });
    written.push({ machine, outcome, eventId, deliveries: recipients.length });
  }
  await writeQuietColumns(trx, decided.map((d) => ({ machineId: d.subject.machine.id, before: d.subject.machine, after: d.outcome.columns })));
  await writeOutageRows(trx, decided.map((d) => ({ machineId: d.subject.machine.id, row: d.outcome.outage })));
  await insertEventsWithDeliveries(trx, events, env.handoff);
  return written;
}
