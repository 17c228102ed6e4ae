import type { Database } from '@lunasentri/shared';
import type { Transaction } from 'kysely';

/*
 * machine_offline_notifications: one row while a machine is offline and its offline event exists.
 * It is what makes "one offline event per outage" hold across restarts and between daemons.
 */

/** Records that this outage has been announced. False when it already was. */
export async function markOutageAnnounced(trx: Transaction<Database>, machineId: number, at: string): Promise<boolean> {
  const result = await trx
    .insertInto('machine_offline_notifications')
    .values({ machine_id: machineId, notified_at: at })
    .onConflict((oc) => oc.column('machine_id').doNothing())
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0n) === 1;
}

/** Ends the outage. Returns when it was announced, or null when no offline event exists for it. */
export async function endOutage(trx: Transaction<Database>, machineId: number): Promise<string | null> {
  const row = await trx
    .deleteFrom('machine_offline_notifications')
    .where('machine_id', '=', machineId)
    .returning('notified_at')
    .executeTakeFirst();
  return row?.notified_at ?? null;
}
