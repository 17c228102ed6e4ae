import { sql, type Kysely } from 'kysely';

/**
 * Maintenance in the outage history (CONTRACT §7.2: time in maintenance is left out of uptime).
 *
 * - `outage_history.window_id`: the maintenance window a `maintenance` interval is an occurrence of
 *   (null for outages, and once the window itself is gone: its history stays). One row per
 *   (window, machine, start), so recording an occurrence again changes nothing.
 * - `maintenance_windows.history_due_at`: when the daemon next has to record occurrences of the
 *   window (its next start), on an index holding only windows with one due, so the job reads the
 *   windows that started and never scans windows or machines. Existing windows are due from their
 *   creation: their occurrences so far are recorded once.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('outage_history')
    .addColumn('window_id', 'integer', (c) => c.references('maintenance_windows.id').onDelete('set null'))
    .execute();
  await db.schema.createIndex('idx_outage_history_window').on('outage_history').columns(['window_id', 'machine_id', 'started_at']).unique().execute();
  await db.schema.alterTable('maintenance_windows').addColumn('history_due_at', 'text').execute();
  await db.schema
    .createIndex('idx_maintenance_windows_history_due')
    .on('maintenance_windows')
    .column('history_due_at')
    .where(sql<boolean>`history_due_at IS NOT NULL`)
    .execute();
  await sql`UPDATE maintenance_windows SET history_due_at = created_at WHERE deleted_at IS NULL`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('idx_maintenance_windows_history_due').execute();
  await db.schema.alterTable('maintenance_windows').dropColumn('history_due_at').execute();
  await db.schema.dropIndex('idx_outage_history_window').execute();
  await db.schema.alterTable('outage_history').dropColumn('window_id').execute();
}
