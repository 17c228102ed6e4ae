import { sql, type Kysely } from 'kysely';
import { withIdColumn } from '../migrations.portable';

export async function up(db: Kysely<any>): Promise<void> {
  await withIdColumn(db, db.schema.createTable('machines'))
    .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('hostname', 'text')
    .addColumn('description', 'text')
    .addColumn('status', 'text', (c) =>
      c.notNull().defaultTo('pending').check(sql`status in ('pending', 'online', 'offline')`),
    )
    .addColumn('last_seen', 'text')
    .addColumn('status_changed_at', 'text')
    .addColumn('is_enabled', 'integer', (c) => c.notNull().defaultTo(1).check(sql`is_enabled in (0, 1)`))
    .addColumn('enabled_at', 'text')
    .addColumn('platform', 'text')
    .addColumn('platform_version', 'text')
    .addColumn('kernel_version', 'text')
    .addColumn('cpu_cores', 'integer')
    .addColumn('memory_total_mb', 'integer')
    .addColumn('disk_total_gb', 'integer')
    .addColumn('last_boot_time', 'text')
    .addColumn('reported_hostname', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('idx_machines_user').on('machines').column('user_id').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('machines').execute();
}
