import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('service_liveness')
    .addColumn('instance_id', 'text', (c) => c.primaryKey())
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('api', 'daemon')`))
    .addColumn('pid', 'integer', (c) => c.notNull())
    .addColumn('hostname', 'text', (c) => c.notNull())
    .addColumn('started_at', 'text', (c) => c.notNull())
    .addColumn('heartbeat_at', 'text', (c) => c.notNull())
    .addColumn('stopped_at', 'text')
    // Set when this API instance started while no other was live: ingest resumed after an outage.
    .addColumn('ingest_resumed_at', 'text')
    .execute();
  await db.schema
    .createIndex('idx_service_liveness_kind')
    .on('service_liveness')
    .columns(['kind', 'heartbeat_at'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('service_liveness').execute();
}
