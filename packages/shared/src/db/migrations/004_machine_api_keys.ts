import type { Kysely } from 'kysely';
import { withIdColumn } from '../migrations.portable';

export async function up(db: Kysely<any>): Promise<void> {
  await withIdColumn(db, db.schema.createTable('machine_api_keys'))
    .addColumn('machine_id', 'integer', (c) => c.notNull().references('machines.id').onDelete('cascade'))
    .addColumn('key_hash', 'text', (c) => c.notNull().unique())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('revoked_at', 'text')
    .execute();
  await db.schema.createIndex('idx_machine_api_keys_machine').on('machine_api_keys').column('machine_id').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('machine_api_keys').execute();
}
