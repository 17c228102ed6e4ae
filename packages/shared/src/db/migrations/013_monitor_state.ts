import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  // Small key/value facts the daemon keeps across restarts (e.g. when ingest last resumed).
  await db.schema
    .createTable('monitor_state')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('value', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('monitor_state').execute();
}
