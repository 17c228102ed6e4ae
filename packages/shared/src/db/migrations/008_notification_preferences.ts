import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  // No row means the defaults: both notifications on.
  await db.schema
    .createTable('notification_preferences')
    .addColumn('user_id', 'integer', (c) => c.primaryKey().references('users.id').onDelete('cascade'))
    .addColumn('machine_offline', 'integer', (c) => c.notNull().defaultTo(1).check(sql`machine_offline in (0, 1)`))
    .addColumn('machine_online', 'integer', (c) => c.notNull().defaultTo(1).check(sql`machine_online in (0, 1)`))
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('notification_preferences').execute();
}
