import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  // Dedup state: one row while a machine is offline and its offline event exists.
  await db.schema
    .createTable('machine_offline_notifications')
    .addColumn('machine_id', 'integer', (c) => c.primaryKey().references('machines.id').onDelete('cascade'))
    .addColumn('notified_at', sql`TIMESTAMP`, (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('machine_offline_notifications').execute();
}
