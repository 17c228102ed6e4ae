import {
  buildStillOfflinePayload,
  lastEndedOccurrence,
  lockedForClaim,
  maintenanceScheduleOf,
  maintenanceState,
  quietDueNoLaterThan,
  serializePayload,
  yieldToEventLoop,
  type Database,
  type FlapSettings,
  type Logger,
} from '@lunasentri/shared';
import type { Kysely, Transaction } from 'kysely';
import { insertEventsWithDeliveries } from '../outbox/outbox.repository';
import type { NewEvent } from '../outbox/outbox.types';
import { writeOutcomes } from './announcements.usecases';
import type { DecisionContext } from './heartbeat.models';
import { findMachines, snapshotOf } from './machines.repository';
import { reminderStep, reviewMachine, type QuietContext } from './quiet.models';
import { logQuietOutcome } from './quiet.log';
import { dueMachineIdsQuery, dueRemindersQuery, dueWindowsQuery, maintenanceLookup, outageRows, windowMachinesFilter, writeReminderSchedule } from './quiet.repository';
import { channelsFor, ownersLookup } from './recipients.repository';

/**
 * The sweep's quiet-rule jobs (CONTRACT §6.2–§6.4), each driven by an indexed due time and each
 * committing a batch in one transaction, rows re-read under the write lock (on PostgreSQL locked,
 * and passed over while another daemon holds them), so every event is written once:
 * - maintenance windows whose end has come: every machine of the window gets the end as its
 *   `quiet_ended_at`, and those that may owe an announcement are made due for a review;
 * - machine reviews: snooze ends, flapping settles, announcements owed after a quiet period;
 * - reminders of announced outages.
 */

export interface QuietJobDeps {
  db: Kysely<Database>;
  logger: Logger;
  newEventId: () => string;
  flap: FlapSettings;
  batchSize: number;
}

export interface QuietJobResult {
  events: number;
  deliveries: number;
}

const before = (at: string | null, now: Date) => at !== null && Date.parse(at) <= now.getTime();

/** Repeats `batch` (ids due, then one transaction) until nothing is due or a batch does nothing (rows another daemon holds). */
async function drainDue(
  due: () => Promise<number[]>,
  batch: (ids: number[]) => Promise<QuietJobResult & { done: number }>,
  limit: number,
  signal?: AbortSignal,
): Promise<QuietJobResult> {
  const total = { events: 0, deliveries: 0 };
  while (!signal?.aborted) {
    const ids = await due();
    if (ids.length === 0) return total;
    const result = await batch(ids);
    total.events += result.events;
    total.deliveries += result.deliveries;
    if (ids.length < limit || result.done === 0) return total;
    await yieldToEventLoop();
  }
  return total;
}

/** Acts on the windows whose end has come (see the top of this file). */
export async function endDueWindows(deps: QuietJobDeps, ctx: DecisionContext, signal?: AbortSignal): Promise<number> {
  const nowIso = ctx.now.toISOString();
  let ended = 0;
  await drainDue(
    async () => (await dueWindowsQuery(deps.db, nowIso, deps.batchSize).execute()).map((w) => w.id),
    async (ids) => {
      let done = 0;
      for (const id of ids) if (await deps.db.transaction().execute((trx) => endWindow(trx, id, ctx.now))) done++;
      ended += done;
      return { events: 0, deliveries: 0, done };
    },
    deps.batchSize,
    signal,
  );
  return ended;
}

async function endWindow(trx: Transaction<Database>, id: number, now: Date): Promise<boolean> {
  const window = await lockedForClaim(trx, trx.selectFrom('maintenance_windows').selectAll().where('id', '=', id)).executeTakeFirst();
  if (!window || !before(window.next_end_at, now)) return false;
  const schedule = maintenanceScheduleOf(window);
  // A deleted window ended when it was deleted; otherwise at its latest occurrence's end (one, even after a long stop).
  const end = window.deleted_at !== null ? window.next_end_at! : (lastEndedOccurrence(schedule, now)?.end.toISOString() ?? window.next_end_at!);
  const nowIso = now.toISOString();
  const covered = windowMachinesFilter(window);
  await trx
    .updateTable('machines')
    .set((eb) => ({ quiet_ended_at: eb.case().when('quiet_ended_at', 'is', null).then(end).when('quiet_ended_at', '<', end).then(end).else(eb.ref('quiet_ended_at')).end() }))
    .where('id', 'in', covered(trx))
    .execute();
  // Only these can owe an announcement (an online machine announced online has nothing to say).
  await trx
    .updateTable('machines')
    .set((eb) => ({ quiet_due_at: quietDueNoLaterThan(eb, nowIso) }))
    .where('id', 'in', covered(trx))
    .where((eb) => eb.or([eb('status', '=', 'offline'), eb('announced_status', '=', 'offline')]))
    .execute();
  if (window.deleted_at !== null) await trx.deleteFrom('maintenance_windows').where('id', '=', id).execute();
  else await trx.updateTable('maintenance_windows').set({ next_end_at: maintenanceState(schedule, now).next_end }).where('id', '=', id).execute();
  return true;
}

/** Reviews the machines whose quiet due time has come. */
export async function reviewDueMachines(deps: QuietJobDeps, ctx: DecisionContext, signal?: AbortSignal): Promise<QuietJobResult> {
  const nowIso = ctx.now.toISOString();
  return drainDue(
    async () => (await dueMachineIdsQuery(deps.db, nowIso, deps.batchSize).execute()).map((m) => m.id),
    async (ids) => {
      const written = await deps.db.transaction().execute(async (trx) => {
        const machines = (await findMachines(trx, ids)).filter((m) => m.is_enabled === 1 && before(m.quiet_due_at, ctx.now));
        const subjects = machines.map((machine) => ({ machine, decide: (announced: boolean, quiet: QuietContext) => reviewMachine(machine, announced, quiet) }));
        return writeOutcomes(trx, subjects, { decision: ctx, flap: deps.flap, newEventId: deps.newEventId });
      });
      for (const { machine, outcome } of written) logQuietOutcome(deps.logger, machine, outcome);
      const withEvents = written.filter((w) => w.eventId !== null);
      return { events: withEvents.length, deliveries: written.reduce((n, w) => n + w.deliveries, 0), done: written.length };
    },
    deps.batchSize,
    signal,
  );
}

/** Writes the reminders that are due (CONTRACT §6.4), or ends the reminders of outages that no longer get them. */
export async function sendDueReminders(deps: QuietJobDeps, ctx: DecisionContext, signal?: AbortSignal): Promise<QuietJobResult> {
  const nowIso = ctx.now.toISOString();
  return drainDue(
    async () => (await dueRemindersQuery(deps.db, nowIso, deps.batchSize).execute()).map((r) => r.machine_id),
    async (ids) => {
      const result = await deps.db.transaction().execute((trx) => remindersBatch(trx, deps, ctx, ids));
      // Only now, after the commit: a logged reminder is a committed one.
      for (const { id, name, reminder } of result.sent) deps.logger.info(`Machine ${id} (${name}) is still offline: reminder ${reminder} written`);
      return result;
    },
    deps.batchSize,
    signal,
  );
}

async function remindersBatch(
  trx: Transaction<Database>,
  deps: QuietJobDeps,
  ctx: DecisionContext,
  ids: number[],
): Promise<QuietJobResult & { done: number; sent: Array<{ id: number; name: string; reminder: number }> }> {
  // The machines first (locked on PostgreSQL): another daemon working on one skips it, and the
  // outage rows read after the lock are the ones to decide on.
  const machines = await findMachines(trx, ids);
  const outages = await outageRows(trx, machines.map((m) => m.id));
  const owners = ownersLookup(trx);
  const inMaintenance = maintenanceLookup(trx, ctx.now);
  const events: NewEvent[] = [];
  const sent: Array<{ id: number; name: string; reminder: number }> = [];
  let done = 0;
  for (const machine of machines) {
    const row = outages.get(machine.id);
    if (!row || !before(row.next_reminder_at, ctx.now)) continue;
    done++;
    const owner = await owners(machine.user_id);
    const quiet: QuietContext = { ...ctx, flap: deps.flap, inMaintenance: await inMaintenance(machine), policy: owner.reminders };
    const step = reminderStep(machine, row, quiet);
    if (step.kind === 'not-due') continue;
    if (step.kind === 'stop') {
      await writeReminderSchedule(trx, machine.id, { sent: row.reminders_sent, next: null });
      continue;
    }
    const eventId = deps.newEventId();
    const payload = buildStillOfflinePayload({
      eventId,
      occurredAt: ctx.now,
      machine: snapshotOf(machine, 'offline'),
      offlineSince: machine.status_changed_at ?? row.notified_at,
      reminder: step.reminder,
    });
    const recipients = channelsFor(owner, 'machine.still_offline');
    events.push({ id: eventId, type: 'machine.still_offline', machineId: machine.id, userId: machine.user_id, occurredAt: ctx.now.toISOString(), payload: serializePayload(payload), recipients });
    await writeReminderSchedule(trx, machine.id, { sent: step.reminder, next: step.nextReminderAt });
    sent.push({ id: machine.id, name: machine.name, reminder: step.reminder });
  }
  await insertEventsWithDeliveries(trx, events);
  return { events: events.length, deliveries: events.reduce((n, e) => n + e.recipients.length, 0), done, sent };
}
