import { sql, type Kysely } from 'kysely';
import { withIdColumn } from '../migrations.portable';

/**
 * The outage history: one compact row per interval a machine spent offline (`outage`) or in a
 * maintenance window (`maintenance`), `ended_at` null while it lasts. It feeds uptime ratios, the
 * dashboard's daily bars and the status page, and is kept 400 days whatever the event retention.
 * Goes with its machine.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await withIdColumn(db, db.schema.createTable('outage_history'))
    .addColumn('machine_id', 'integer', (c) => c.notNull().references('machines.id').onDelete('cascade'))
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('outage', 'maintenance')`))
    .addColumn('started_at', 'text', (c) => c.notNull())
    .addColumn('ended_at', 'text')
    .execute();
  // Per machine over a time range (uptime, bars), and the open interval a recovery closes.
  await db.schema.createIndex('idx_outage_history_machine').on('outage_history').columns(['machine_id', 'started_at']).execute();
  // Pruning after 400 days reads the oldest ended intervals first.
  await db.schema.createIndex('idx_outage_history_ended').on('outage_history').column('ended_at').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('outage_history').execute();
}
