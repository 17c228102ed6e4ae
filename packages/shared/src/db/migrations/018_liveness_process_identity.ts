import type { Kysely } from 'kysely';

/**
 * What a daemon needs to tell, for certain, that another instance's process is gone, so it can take
 * over that instance's delivery claims at once instead of waiting out their lease:
 * - `beat_every_ms`: how often the instance promised to beat (its own interval, not the reader's);
 * - `boot_id`, `pid_namespace`, `process_started`: its process's identity (see ProcessIdentity).
 * NULL for rows written before, or where /proc cannot say.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('service_liveness').addColumn('beat_every_ms', 'integer').execute();
  await db.schema.alterTable('service_liveness').addColumn('boot_id', 'text').execute();
  await db.schema.alterTable('service_liveness').addColumn('pid_namespace', 'text').execute();
  await db.schema.alterTable('service_liveness').addColumn('process_started', 'text').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const column of ['process_started', 'pid_namespace', 'boot_id', 'beat_every_ms']) {
    await db.schema.alterTable('service_liveness').dropColumn(column).execute();
  }
}
