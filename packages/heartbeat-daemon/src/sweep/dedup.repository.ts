import type { Database } from '@lunasentri/shared';
import type { Transaction } from 'kysely';

/*
 * machine_offline_notifications: one row while a machine is offline and its offline event exists.
 * It is what makes "one offline event per outage" hold across restarts and between daemons.
 */

/** Records that these outages have been announced. Returns the machines whose outage was not announced before. */
export async function markOutagesAnnounced(trx: Transaction<Database>, machineIds: readonly number[], at: string): Promise<Set<number>> {
  if (machineIds.length === 0) return new Set();
  const inserted = await trx
    .insertInto('machine_offline_notifications')
    .values(machineIds.map((id) => ({ machine_id: id, notified_at: at })))
    .onConflict((oc) => oc.column('machine_id').doNothing())
    .returning('machine_id') // only the rows actually inserted
    .execute();
  return new Set(inserted.map((r) => r.machine_id));
}

/** Ends these outages. Returns when each was announced; a machine missing from it had no offline event. */
export async function endOutages(trx: Transaction<Database>, machineIds: readonly number[]): Promise<Map<number, string>> {
  if (machineIds.length === 0) return new Map();
  const rows = await trx
    .deleteFrom('machine_offline_notifications')
    .where('machine_id', 'in', machineIds)
    .returning(['machine_id', 'notified_at'])
    .execute();
  return new Map(rows.map((r) => [r.machine_id, r.notified_at]));
}
