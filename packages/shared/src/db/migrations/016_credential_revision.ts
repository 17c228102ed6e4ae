import { sql, type Kysely } from 'kysely';

/**
 * A counter bumped (by triggers, so every writer counts: API, CLI, another API process) whenever a
 * machine key is created, revoked or deleted, or a machine is enabled, disabled or deleted. The API
 * caches key lookups for minutes and polls this one row about once a second to drop its cache when
 * anything changed elsewhere. Ingest's `last_seen` writes do not touch it.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('credential_revision')
    .addColumn('id', 'integer', (c) => c.primaryKey().check(sql`id = 1`))
    .addColumn('revision', 'integer', (c) => c.notNull())
    .execute();
  await sql`INSERT INTO credential_revision (id, revision) VALUES (1, 0)`.execute(db);
  const bump = 'UPDATE credential_revision SET revision = revision + 1 WHERE id = 1';
  await sql.raw(`CREATE TRIGGER trg_credential_revision_key_insert AFTER INSERT ON machine_api_keys BEGIN ${bump}; END`).execute(db);
  await sql.raw(`CREATE TRIGGER trg_credential_revision_key_revoke AFTER UPDATE OF revoked_at, key_hash, machine_id ON machine_api_keys BEGIN ${bump}; END`).execute(db);
  await sql.raw(`CREATE TRIGGER trg_credential_revision_key_delete AFTER DELETE ON machine_api_keys BEGIN ${bump}; END`).execute(db);
  await sql
    .raw(`CREATE TRIGGER trg_credential_revision_machine_enabled AFTER UPDATE OF is_enabled ON machines WHEN OLD.is_enabled IS NOT NEW.is_enabled BEGIN ${bump}; END`)
    .execute(db);
  await sql.raw(`CREATE TRIGGER trg_credential_revision_machine_delete AFTER DELETE ON machines BEGIN ${bump}; END`).execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const name of ['key_insert', 'key_revoke', 'key_delete', 'machine_enabled', 'machine_delete']) {
    await sql.raw(`DROP TRIGGER IF EXISTS trg_credential_revision_${name}`).execute(db);
  }
  await db.schema.dropTable('credential_revision').execute();
}
