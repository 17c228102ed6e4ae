import { sql, type Kysely } from 'kysely';

/**
 * Indexes that cover only the rows the hot queries can match, so their cost does not grow with rows
 * that can never match:
 * - the sweep's candidates are enabled machines only: disabled machines keep their status and would
 *   otherwise pile up inside the `online, last_seen < cutoff` range that every check reads;
 * - the dispatcher looks only at pending deliveries (due ones per channel, and live claims): delivered
 *   history must not slow it down;
 * - the daemon reads the latest ingest resume on every check.
 * Queries must repeat the WHERE condition literally (`is_enabled = 1`, `status = 'pending'`) for
 * SQLite to use a partial index.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('idx_machines_status_last_seen').execute();
  await db.schema
    .createIndex('idx_machines_status_last_seen')
    .on('machines')
    .columns(['status', 'last_seen'])
    .where(sql.ref('is_enabled'), '=', 1)
    .execute();
  await db.schema.dropIndex('idx_deliveries_due').execute();
  await db.schema
    .createIndex('idx_deliveries_due')
    .on('deliveries')
    .columns(['channel', 'next_attempt_at'])
    .where(sql.ref('status'), '=', 'pending')
    .execute();
  await db.schema
    .createIndex('idx_deliveries_pending_claims')
    .on('deliveries')
    .column('claimed_until')
    .where(sql.ref('status'), '=', 'pending')
    .execute();
  await db.schema
    .createIndex('idx_service_liveness_resumed')
    .on('service_liveness')
    .columns(['kind', 'ingest_resumed_at'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('idx_service_liveness_resumed').execute();
  await db.schema.dropIndex('idx_deliveries_pending_claims').execute();
  await db.schema.dropIndex('idx_deliveries_due').execute();
  await db.schema.createIndex('idx_deliveries_due').on('deliveries').columns(['status', 'next_attempt_at']).execute();
  await db.schema.dropIndex('idx_machines_status_last_seen').execute();
  await db.schema.createIndex('idx_machines_status_last_seen').on('machines').columns(['status', 'last_seen']).execute();
}
