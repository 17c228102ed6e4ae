import type { Database } from '@lunasentri/shared';
import type { Kysely } from 'kysely';

/**
 * Whose turn a fleet-wide job is. Several daemons share one database (on one host through one SQLite
 * file, or on many through PostgreSQL); a job that needs to run once per period for all of them takes
 * its turn by moving the job's row in `monitor_state` forward, compare-and-set on the previous run:
 * of the daemons asking at the same moment exactly one's update applies. Returns whether the caller
 * won the turn (and so runs the job now).
 */
export async function takeJobTurn(db: Kysely<Database>, turn: { job: string; instanceId: string; now: Date; everyMs: number }): Promise<boolean> {
  const key = `housekeeping:${turn.job}`;
  const nowIso = turn.now.toISOString();
  await db
    .insertInto('monitor_state')
    .values({ key, value: '', updated_at: new Date(0).toISOString() })
    .onConflict((oc) => oc.column('key').doNothing())
    .execute();
  const result = await db
    .updateTable('monitor_state')
    .set({ value: turn.instanceId, updated_at: nowIso })
    .where('key', '=', key)
    .where('updated_at', '<=', new Date(turn.now.getTime() - turn.everyMs).toISOString())
    .executeTakeFirst();
  return result.numUpdatedRows === 1n;
}

/** How long the outage history is kept: long enough for a year of daily bars and `?days=400`. */
export const OUTAGE_HISTORY_KEEP_MS = 400 * 24 * 3600_000;

/** Deletes up to `limit` intervals that ended before `cutoff` (an open one is never old); returns how many. */
export async function deleteEndedIntervals(db: Kysely<Database>, cutoff: Date, limit: number): Promise<number> {
  const result = await db
    .deleteFrom('outage_history')
    .where('id', 'in', (eb) => eb.selectFrom('outage_history as h').select('h.id').where('h.ended_at', '<', cutoff.toISOString()).limit(limit))
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}
