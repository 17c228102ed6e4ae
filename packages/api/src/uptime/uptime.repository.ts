import { joinedTexts, type Database, type OutageKind } from '@lunasentri/shared';
import { sql, type Kysely } from 'kysely';
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

/**
 * Intervals of the given machines (one page of them): one index range per machine, one query for
 * all, one row per machine. Each row packs the machine's intervals as `kind started ended` (`-` while
 * open), comma-separated, in no particular order (the timeline sorts them): a page of 100 machines with a busy 90 days holds some 20,000
 * intervals, and 100 rows cost a fraction of 20,000 row objects to read.
 */
export function machinesHistoryQuery(db: Kysely<Database>, machineIds: readonly number[], since: string) {
  const packed = sql<string>`h.kind || ' ' || h.started_at || ' ' || coalesce(h.ended_at, '-')`;
  return db
    .selectFrom('outage_history as h')
    .select(['h.machine_id', joinedTexts(db, packed, ',').as('intervals')])
    .where('h.machine_id', 'in', machineIds)
    .where((eb) => eb.or([eb('h.ended_at', 'is', null), eb('h.ended_at', '>=', since)]))
    .groupBy('h.machine_id');
}

/** The intervals of one packed row of {@link machinesHistoryQuery}. */
export function unpackHistory(packed: string): HistoryInterval[] {
  return packed.split(',').map((item) => {
    const [kind, started_at, ended_at] = item.split(' ') as [OutageKind, string, string];
    return { kind, started_at, ended_at: ended_at === '-' ? null : ended_at };
  });
}

/**
 * The intervals since `since` of the given machines, packed ({@link unpackHistory} reads them), by
 * machine id, in one query whatever their number. A machine without any has no entry.
 */
export async function machinesPackedHistory(db: Kysely<Database>, machineIds: readonly number[], since: string): Promise<Map<number, string>> {
  const byMachine = new Map<number, string>();
  if (machineIds.length === 0) return byMachine;
  for (const row of await machinesHistoryQuery(db, machineIds, since).execute()) byMachine.set(row.machine_id, row.intervals);
  return byMachine;
}
