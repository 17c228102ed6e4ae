import { sql, type Kysely } from 'kysely';
import { withIdColumn } from '../migrations.portable';

export async function up(db: Kysely<any>): Promise<void> {
  await withIdColumn(db, db.schema.createTable('deliveries'))
    .addColumn('event_id', 'text', (c) => c.notNull().references('events.id').onDelete('cascade'))
    .addColumn('machine_id', 'integer', (c) => c.notNull())
    .addColumn('channel', 'text', (c) => c.notNull().check(sql`channel in ('webhook', 'telegram')`))
    .addColumn('target_id', 'integer', (c) => c.notNull())
    .addColumn('status', 'text', (c) =>
      c.notNull().defaultTo('pending').check(sql`status in ('pending', 'delivered', 'failed', 'dead')`),
    )
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_attempt_at', 'text', (c) => c.notNull())
    .addColumn('claimed_until', 'text')
    .addColumn('claimed_by', 'text')
    .addColumn('last_error', 'text')
    .addColumn('delivered_at', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addUniqueConstraint('uq_deliveries_event_target', ['event_id', 'channel', 'target_id'])
    .execute();
  // "What is due now": pending rows by next attempt.
  await db.schema.createIndex('idx_deliveries_due').on('deliveries').columns(['status', 'next_attempt_at']).execute();
  // Per-(channel, target, machine) ordering: is an earlier delivery of the same stream still pending?
  await db.schema
    .createIndex('idx_deliveries_stream')
    .on('deliveries')
    .columns(['channel', 'target_id', 'machine_id', 'status', 'id'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('deliveries').execute();
}
