import type { Database } from '@lunasentri/shared';
import type { Kysely, Transaction } from 'kysely';
import type { TransitionKind } from './transitions.usecases';

type Db = Kysely<Database> | Transaction<Database>;

/**
 * Keeps the outage history in step with a batch of status changes, in the transaction that makes
 * them: going offline opens an outage interval at the moment of the change, coming back closes every
 * open one of those machines. One statement per batch, whatever its size; a first report changes nothing.
 */
export async function recordOutageIntervals(db: Db, change: { kind: TransitionKind; machineIds: readonly number[]; at: string }): Promise<void> {
  if (change.machineIds.length === 0) return;
  if (change.kind === 'went-offline') {
    await db
      .insertInto('outage_history')
      .values(change.machineIds.map((id) => ({ machine_id: id, kind: 'outage' as const, started_at: change.at, ended_at: null })))
      .execute();
  } else if (change.kind === 'came-online') {
    await db
      .updateTable('outage_history')
      .set({ ended_at: change.at })
      .where('machine_id', 'in', change.machineIds)
      .where('kind', '=', 'outage')
      .where('ended_at', 'is', null)
      .execute();
  }
}
