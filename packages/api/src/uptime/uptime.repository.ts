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

/** Intervals of the given machines (one page of them): one index range per machine, one query for all. */
export function machinesHistoryQuery(db: Kysely<Database>, machineIds: readonly number[], since: string) {
  return intervalsSince(db, since).where('h.machine_id', 'in', machineIds);
}

/** The intervals since `since` of the given machines, by machine id, in one query whatever their number. */
export async function machinesHistory(db: Kysely<Database>, machineIds: readonly number[], since: string): Promise<Map<number, HistoryInterval[]>> {
  const byMachine = new Map<number, HistoryInterval[]>();
  if (machineIds.length === 0) return byMachine;
  for (const row of await machinesHistoryQuery(db, machineIds, since).execute()) {
    const list = byMachine.get(row.machine_id) ?? [];
    list.push(row);
    byMachine.set(row.machine_id, list);
  }
  return byMachine;
}
