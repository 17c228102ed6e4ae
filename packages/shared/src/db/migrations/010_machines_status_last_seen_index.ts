import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  // The sweep's candidate queries ("online and last_seen < cutoff", "offline and last_seen >= cutoff")
  // are range scans on this index, so their cost follows transitions, not fleet size.
  await db.schema
    .createIndex('idx_machines_status_last_seen')
    .on('machines')
    .columns(['status', 'last_seen'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('idx_machines_status_last_seen').execute();
}
