import type { Database, MaintenanceWindow } from '@lunasentri/shared';
import type { Kysely } from 'kysely';
import type { WindowHistoryPlan } from './maintenance-history.models';

/** Windows whose occurrences are due to be recorded, earliest first (an index range over the due ones only). */
export function dueWindows(db: Kysely<Database>, now: Date, limit: number) {
  return db.selectFrom('maintenance_windows').selectAll().where('history_due_at', '<=', now.toISOString()).orderBy('history_due_at').orderBy('id').limit(limit);
}

/**
 * Records a window's occurrences for each of its machines (its listed ones, or every machine of its
 * owner) and moves its due time on, in one transaction. One statement per occurrence, whatever the
 * number of machines; an occurrence already recorded is left as it is. The due time moves only from
 * the value read (compare-and-set), so a slower run that read it earlier changes nothing.
 */
export async function recordWindowHistory(db: Kysely<Database>, window: MaintenanceWindow, plan: WindowHistoryPlan): Promise<void> {
  await db.transaction().execute(async (trx) => {
    for (const occurrence of plan.occurrences) {
      let machines = trx
        .selectFrom('machines as m')
        .select((eb) => [
          'm.id',
          eb.cast<string>(eb.val('maintenance'), 'text').as('kind'),
          eb.cast<string>(eb.val(occurrence.startedAt), 'text').as('started_at'),
          eb.cast<string>(eb.val(occurrence.endedAt), 'text').as('ended_at'),
          eb.cast<number>(eb.val(window.id), 'integer').as('window_id'),
        ]);
      machines =
        window.all_machines === 1
          ? machines.where('m.user_id', '=', window.user_id)
          : machines.where('m.id', 'in', (eb) => eb.selectFrom('maintenance_window_machines as w').select('w.machine_id').where('w.window_id', '=', window.id));
      await trx
        .insertInto('outage_history')
        .columns(['machine_id', 'kind', 'started_at', 'ended_at', 'window_id'])
        .expression(machines)
        .onConflict((oc) => oc.columns(['window_id', 'machine_id', 'started_at']).doNothing())
        .execute();
    }
    await trx
      .updateTable('maintenance_windows')
      .set({ history_due_at: plan.nextDueAt })
      .where('id', '=', window.id)
      .where('history_due_at', '=', window.history_due_at)
      .execute();
  });
}
