import { sql } from 'kysely';
import { appliedMigrations, DatabaseUnreachableError, migrateTo, migrateToLatest, migrations, openDatabase, type DatabaseHandle } from '@lunasentri/shared';
import { createTestDb, type TestDb } from '../../../test/support/db';
import { POSTGRES_URL } from '../../../test/support/engines';
import { insertMachine, insertUser } from '../../../test/support/fixtures';

const onPostgres = POSTGRES_URL ? describe : describe.skip;

/** A fresh, empty database on the test server, dropped afterwards. */
async function emptyDatabase(admin: DatabaseHandle): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `lunasentri_empty_${Math.random().toString(16).slice(2, 10)}`;
  await sql.raw(`CREATE DATABASE ${name}`).execute(admin.db);
  const url = new URL(POSTGRES_URL!);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: async () => void (await sql.raw(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).execute(admin.db)) };
}

onPostgres('PostgreSQL: one schema, the same values', () => {
  let db: TestDb;
  beforeEach(async () => {
    db = await createTestDb('postgres');
  });
  afterEach(() => db.dispose());

  test('several processes migrating a new database at once: every migration applied exactly once', async () => {
    const admin = openDatabase(POSTGRES_URL!);
    const fresh = await emptyDatabase(admin);
    const handles = Array.from({ length: 4 }, () => openDatabase(fresh.url));
    try {
      const applied = await Promise.all(handles.map((h) => migrateToLatest(h.db)));
      expect(applied.flat().sort()).toEqual(Object.keys(migrations));
      expect(await appliedMigrations(handles[0]!.db)).toEqual(Object.keys(migrations));
    } finally {
      for (const h of handles) await h.close();
      await fresh.drop();
      await admin.close();
    }
  });

  test.each(Object.keys(migrations).slice(0, -1))('apply on a database left at %s, and down again to the first', async (name) => {
    const names = Object.keys(migrations);
    const admin = openDatabase(POSTGRES_URL!);
    const fresh = await emptyDatabase(admin);
    const handle = openDatabase(fresh.url);
    try {
      await migrateTo(handle.db, name);
      expect(await appliedMigrations(handle.db)).toEqual(names.slice(0, names.indexOf(name) + 1));
      expect(await migrateToLatest(handle.db)).toEqual(names.slice(names.indexOf(name) + 1));
      await migrateTo(handle.db, name);
      expect(await appliedMigrations(handle.db)).toEqual(names.slice(0, names.indexOf(name) + 1));
    } finally {
      await handle.close();
      await fresh.drop();
      await admin.close();
    }
  });

  test('the dedup table of migration 014: machine_id primary key, notified_at NOT NULL, cascading from machines', async () => {
    const columns = await sql<{ column_name: string; data_type: string; is_nullable: string }>`
      SELECT column_name, data_type, is_nullable FROM information_schema.columns
       WHERE table_name = 'machine_offline_notifications' ORDER BY ordinal_position`.execute(db.db);
    expect(columns.rows).toEqual([
      { column_name: 'machine_id', data_type: 'integer', is_nullable: 'NO' },
      { column_name: 'notified_at', data_type: 'timestamp without time zone', is_nullable: 'NO' },
      // the outage's reminder schedule (migration 021)
      { column_name: 'reminders_sent', data_type: 'integer', is_nullable: 'NO' },
      { column_name: 'next_reminder_at', data_type: 'text', is_nullable: 'YES' },
    ]);
    const cascades = await sql<{ table_name: string; delete_rule: string }>`
      SELECT tc.table_name, rc.delete_rule FROM information_schema.referential_constraints rc
        JOIN information_schema.table_constraints tc ON tc.constraint_name = rc.constraint_name
       ORDER BY tc.table_name, tc.constraint_name`.execute(db.db);
    expect(cascades.rows).toContainEqual({ table_name: 'machine_offline_notifications', delete_rule: 'CASCADE' });
    expect(cascades.rows).toContainEqual({ table_name: 'deliveries', delete_rule: 'CASCADE' });
    expect(cascades.rows.every((r) => r.delete_rule === 'CASCADE')).toBe(true);
  });

  test('the partial indexes cover only the rows the hot queries can match', async () => {
    const indexes = await sql<{ indexname: string; indexdef: string }>`SELECT indexname, indexdef FROM pg_indexes WHERE indexname LIKE 'idx_%'`.execute(db.db);
    const def = (name: string) => indexes.rows.find((i) => i.indexname === name)?.indexdef ?? '';
    expect(def('idx_machines_status_last_seen')).toMatch(/\(status, last_seen\) WHERE \(is_enabled = 1\)$/);
    expect(def('idx_deliveries_due')).toMatch(/\(channel, next_attempt_at\) WHERE \(status = 'pending'::text\)$/);
    expect(def('idx_deliveries_pending_claims')).toMatch(/\(claimed_until\) WHERE \(status = 'pending'::text\)$/);
  });

  test('values reach the code in the same shape as from SQLite: counts as numbers, flags as 0/1, times as ISO text', async () => {
    const userId = await insertUser(db.db);
    const id = await insertMachine(db.db, userId, { status: 'offline' });
    await db.db.insertInto('machine_offline_notifications').values({ machine_id: id, notified_at: '2026-11-28T03:02:15.000Z' }).execute();
    const count = await db.db.selectFrom('machines').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
    expect(count.n).toBe(1);
    const machine = await db.db.selectFrom('machines').select(['id', 'is_enabled']).where('id', '=', id).executeTakeFirstOrThrow();
    expect(machine).toEqual({ id, is_enabled: 1 });
    const dedup = await db.db.selectFrom('machine_offline_notifications').select('notified_at').executeTakeFirstOrThrow();
    expect(dedup.notified_at).toBe('2026-11-28T03:02:15.000Z');
    // Deleting the machine ends its dedup row.
    await db.db.deleteFrom('machines').where('id', '=', id).execute();
    expect(await db.db.selectFrom('machine_offline_notifications').selectAll().execute()).toEqual([]);
  });

  test('the credential revision moves on every key or enabled change, made by any connection', async () => {
    const revision = async () => (await sql<{ revision: number }>`SELECT revision FROM credential_revision`.execute(db.db)).rows[0]!.revision;
    const userId = await insertUser(db.db);
    const id = await insertMachine(db.db, userId);
    const before = await revision();
    await db.db.insertInto('machine_api_keys').values({ machine_id: id, key_hash: 'a'.repeat(64), created_at: '2026-11-28T03:00:00.000Z', revoked_at: null }).execute();
    const afterKey = await revision();
    expect(afterKey).toBeGreaterThan(before);
    await db.db.updateTable('machines').set({ last_seen: '2026-11-28T03:00:01.000Z' }).where('id', '=', id).execute();
    expect(await revision()).toBe(afterKey); // a report is no credential change
    await db.db.updateTable('machines').set({ is_enabled: 0 }).where('id', '=', id).execute();
    expect(await revision()).toBeGreaterThan(afterKey);
  });
});

describe('an unreachable PostgreSQL', () => {
  test('fails with one message naming host and database, never the password', async () => {
    const handle = openDatabase('postgres://lunasentri:s3cret-pa55word@127.0.0.1:1/fleet');
    try {
      expect(handle.path).toBe('postgres://lunasentri@127.0.0.1:1/fleet');
      const error = await migrateToLatest(handle.db).then(
        () => null,
        (e: unknown) => e as Error,
      );
      expect(error?.message).toMatch(/cannot reach PostgreSQL database "fleet" on 127\.0\.0\.1:1: /);
      expect(error?.message).not.toContain('s3cret');
      const direct = await handle.db.selectFrom('users').selectAll().execute().catch((e: unknown) => e);
      expect(direct).toBeInstanceOf(DatabaseUnreachableError);
    } finally {
      await handle.close();
    }
  });
});
