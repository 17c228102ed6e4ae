import { sql, type Kysely } from 'kysely';
import { engineOf } from '../engine';

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
  if (engineOf(db) === 'postgres') await postgresTriggers(db);
  else await sqliteTriggers(db);
}

const TRIGGER_TABLES = { key_insert: 'machine_api_keys', key_revoke: 'machine_api_keys', key_delete: 'machine_api_keys', machine_enabled: 'machines', machine_delete: 'machines' };

export async function down(db: Kysely<any>): Promise<void> {
  const postgres = engineOf(db) === 'postgres';
  for (const [name, table] of Object.entries(TRIGGER_TABLES)) {
    await sql.raw(`DROP TRIGGER IF EXISTS trg_credential_revision_${name}${postgres ? ` ON ${table}` : ''}`).execute(db);
  }
  if (postgres) await sql.raw('DROP FUNCTION IF EXISTS credential_revision_bump()').execute(db);
  await db.schema.dropTable('credential_revision').execute();
}

const BUMP = 'UPDATE credential_revision SET revision = revision + 1 WHERE id = 1';

async function sqliteTriggers(db: Kysely<any>): Promise<void> {
  await sql.raw(`CREATE TRIGGER trg_credential_revision_key_insert AFTER INSERT ON machine_api_keys BEGIN ${BUMP}; END`).execute(db);
  await sql.raw(`CREATE TRIGGER trg_credential_revision_key_revoke AFTER UPDATE OF revoked_at, key_hash, machine_id ON machine_api_keys BEGIN ${BUMP}; END`).execute(db);
  await sql.raw(`CREATE TRIGGER trg_credential_revision_key_delete AFTER DELETE ON machine_api_keys BEGIN ${BUMP}; END`).execute(db);
  await sql
    .raw(`CREATE TRIGGER trg_credential_revision_machine_enabled AFTER UPDATE OF is_enabled ON machines WHEN OLD.is_enabled IS NOT NEW.is_enabled BEGIN ${BUMP}; END`)
    .execute(db);
  await sql.raw(`CREATE TRIGGER trg_credential_revision_machine_delete AFTER DELETE ON machines BEGIN ${BUMP}; END`).execute(db);
}

/** The same triggers on PostgreSQL: one function; a statement that touches keys bumps once, not per row. */
async function postgresTriggers(db: Kysely<any>): Promise<void> {
  await sql
    .raw(`CREATE FUNCTION credential_revision_bump() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN ${BUMP}; RETURN NULL; END $$`)
    .execute(db);
  const run = 'EXECUTE FUNCTION credential_revision_bump()';
  await sql.raw(`CREATE TRIGGER trg_credential_revision_key_insert AFTER INSERT ON machine_api_keys FOR EACH STATEMENT ${run}`).execute(db);
  await sql.raw(`CREATE TRIGGER trg_credential_revision_key_revoke AFTER UPDATE OF revoked_at, key_hash, machine_id ON machine_api_keys FOR EACH STATEMENT ${run}`).execute(db);
  await sql.raw(`CREATE TRIGGER trg_credential_revision_key_delete AFTER DELETE ON machine_api_keys FOR EACH STATEMENT ${run}`).execute(db);
  await sql
    .raw(`CREATE TRIGGER trg_credential_revision_machine_enabled AFTER UPDATE OF is_enabled ON machines FOR EACH ROW WHEN (OLD.is_enabled IS DISTINCT FROM NEW.is_enabled) ${run}`)
    .execute(db);
  await sql.raw(`CREATE TRIGGER trg_credential_revision_machine_delete AFTER DELETE ON machines FOR EACH STATEMENT ${run}`).execute(db);
}
