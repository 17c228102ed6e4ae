import type { Kysely } from 'kysely';
import { withIdColumn } from '../migrations.portable';

export async function up(db: Kysely<any>): Promise<void> {
  await withIdColumn(db, db.schema.createTable('machine_metrics'))
    .addColumn('machine_id', 'integer', (c) => c.notNull().references('machines.id').onDelete('cascade'))
    .addColumn('recorded_at', 'text', (c) => c.notNull())
    .addColumn('cpu_pct', 'real')
    .addColumn('mem_used_pct', 'real')
    .addColumn('disk_used_pct', 'real')
    .addColumn('net_rx_bytes', 'integer')
    .addColumn('net_tx_bytes', 'integer')
    .addColumn('uptime_s', 'integer')
    .execute();
  await db.schema
    .createIndex('idx_machine_metrics_machine_time')
    .on('machine_metrics')
    .columns(['machine_id', 'recorded_at'])
    .execute();
  // Retention deletes by age across all machines.
  await db.schema.createIndex('idx_machine_metrics_time').on('machine_metrics').column('recorded_at').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('machine_metrics').execute();
}
