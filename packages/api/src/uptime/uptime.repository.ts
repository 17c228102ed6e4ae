import type { Database } from '@lunasentri/shared';
import type { Kysely } from 'kysely';
import type { HistoryInterval } from './uptime.models';

/** The intervals that reach into [since, now]: those still open or ended since then. */
function intervalsSince(db: Kysely<Database>, since: string) {
  return db
    .selectFrom('outage_history as h')
    .select(['h.machine_id', 'h.kind', 'h.started_at', 'h.ended_at'])
    .where((eb) => eb.or([eb('h.ended_at', 'is', null), eb('h.ended_at', '>=', since)]))
    .orderBy('h.machine_id')
    .orderBy('h.started_at');
}

/** One machine's intervals since `since` (the machine's own index range). */
export function machineHistoryQuery(db: Kysely<Database>, machineId: number, since: string) {
  return intervalsSince(db, since).where('h.machine_id', '=', machineId);
}

export function machineHistory(db: Kysely<Database>, machineId: number, since: string): Promise<HistoryInterval[]> {
  return machineHistoryQuery(db, machineId, since).execute();
}

/** Every machine of a user: their index range of `machines`, then each one's range of the history. */
export function userHistoryQuery(db: Kysely<Database>, userId: number, since: string) {
  return intervalsSince(db, since).innerJoin('machines as m', 'm.id', 'h.machine_id').where('m.user_id', '=', userId);
}

/**
 * The intervals since `since` of every machine of a user, in one query whatever their number (the
 * dashboard and the status page), by machine id.
 */
export async function userHistory(db: Kysely<Database>, userId: number, since: string): Promise<Map<number, HistoryInterval[]>> {
  const rows = await userHistoryQuery(db, userId, since).execute();
  const byMachine = new Map<number, HistoryInterval[]>();
  for (const row of rows) {
    const list = byMachine.get(row.machine_id) ?? [];
    list.push(row);
    byMachine.set(row.machine_id, list);
  }
  return byMachine;
}
