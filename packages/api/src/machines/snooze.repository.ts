import type { Kysely } from 'kysely';
import { isSnoozed, NEXT_ONLINE, quietDueNoLaterThan, type Database, type Machine } from '@lunasentri/shared';

/*
 * Snoozes are written here (by the API and the admin CLI); the daemon acts on them. With each write
 * the machine's `quiet_due_at` moves no later than the moment the daemon must look again (the end of
 * a timed snooze, or now for an ended one), so the daemon finds the machine through that index
 * instead of scanning for snoozes.
 */

/** Snoozes one of the user's machines until `until` (an ISO time or `next-online`); undefined when there is no such machine. */
export async function snoozeMachine(db: Kysely<Database>, change: { userId: number; machineId: number; until: string; now: Date }): Promise<Machine | undefined> {
  const nowIso = change.now.toISOString();
  let update = db.updateTable('machines').set({ snoozed_until: change.until, updated_at: nowIso });
  if (change.until !== NEXT_ONLINE) update = update.set((eb) => ({ quiet_due_at: quietDueNoLaterThan(eb, change.until) }));
  return update.where('id', '=', change.machineId).where('user_id', '=', change.userId).returningAll().executeTakeFirst();
}

/**
 * Ends a snooze now: `snoozed_until` becomes now, an ended snooze, which the daemon then settles
 * (announcing only what changed meanwhile) and clears. A machine that is not snoozed is left as it is.
 */
export async function unsnoozeMachine(db: Kysely<Database>, change: { userId: number; machineId: number; now: Date }): Promise<Machine | undefined> {
  const nowIso = change.now.toISOString();
  return db.transaction().execute(async (trx) => {
    const machine = await trx.selectFrom('machines').selectAll().where('id', '=', change.machineId).where('user_id', '=', change.userId).executeTakeFirst();
    if (!machine || !isSnoozed(machine.snoozed_until, change.now)) return machine;
    return trx
      .updateTable('machines')
      .set((eb) => ({ snoozed_until: nowIso, updated_at: nowIso, quiet_due_at: quietDueNoLaterThan(eb, nowIso) }))
      .where('id', '=', change.machineId)
      .returningAll()
      .executeTakeFirstOrThrow();
  });
}

/** The user's machines snoozed at `now` (a snooze that ran out is over, whether or not the daemon has cleared it yet), by name. */
export async function listSnoozedMachines(db: Kysely<Database>, userId: number, now: Date): Promise<Machine[]> {
  // `next-online` sorts after every ISO time, so one comparison keeps it and the timed snoozes still running.
  const rows = await db.selectFrom('machines').selectAll().where('user_id', '=', userId).where('snoozed_until', '>', now.toISOString()).orderBy('name').orderBy('id').execute();
  return rows.filter((m) => isSnoozed(m.snoozed_until, now));
}
