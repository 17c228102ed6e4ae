import { execFileSync, spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { sql, type Kysely } from 'kysely';
import {
  appliedMigrations,
  DatabaseUnreachableError,
  describeDatabase,
  isUniqueViolation,
  migrateTo,
  migrateToLatest,
  migrations,
  openDatabase,
  openFailureMessage,
  type Database,
  type DatabaseEngine,
  type DatabaseHandle,
} from '@lunasentri/shared';
import { createTestDb, emptyDatabase, tempDir, type TestDb } from '../../../test/support/db';
import { describeEachEngine } from '../../../test/support/engines';
import { insertMachine, insertUser } from '../../../test/support/fixtures';
import { sqliteConnection } from '../src/db/sqlite';

const names = Object.keys(migrations);
const T = '2026-11-28T03:00:00.000Z';

describe('openDatabase on a SQLite file', () => {
  test('creates the parent folder and a 0600 file, and sets the pragmas on every connection', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const path = join(dir, 'nested', 'deeper', 'lunasentri.db');
      const first = openDatabase(path);
      const second = openDatabase(path);
      expect(statSync(path).mode & 0o777).toBe(0o600);
      for (const sqlite of [first, second].map(sqliteConnection)) {
        expect(sqlite.pragma('journal_mode', { simple: true })).toBe('wal');
        expect(sqlite.pragma('foreign_keys', { simple: true })).toBe(1);
        expect(sqlite.pragma('synchronous', { simple: true })).toBe(1); // NORMAL
        expect(sqlite.pragma('busy_timeout', { simple: true })).toBeGreaterThanOrEqual(5000);
      }
      await first.close();
      await second.close();
    } finally {
      cleanup();
    }
  });

  // Node 20's recursive mkdir spins forever at 100% CPU under /proc; this must fail at once instead.
  (existsSync('/proc/self') ? test : test.skip)('fails with a clear error for a folder that cannot be created under /proc', () => {
    expect(() => openDatabase('/proc/lunasentri-nope/deeper/x.db')).toThrow(/mkdir '\/proc\/lunasentri-nope'/);
  });
});

describe('naming the database in log lines and errors', () => {
  test('a SQLite file is named by its absolute path, a PostgreSQL URL without its password', () => {
    expect(describeDatabase('data/lunasentri.db')).toBe(join(process.cwd(), 'data', 'lunasentri.db'));
    expect(describeDatabase(':memory:')).toBe(':memory:');
    expect(describeDatabase('postgres://app:s3cret-pass@db.example.com:5432/lunasentri?sslmode=require')).toBe('postgres://app@db.example.com:5432/lunasentri');
  });

  test('a missing file says how to create it; another failure names the database and the reason, never the password', () => {
    const { dir, cleanup } = tempDir();
    try {
      const missing = join(dir, 'typo', 'lunasentri.db');
      let error: unknown;
      try {
        openDatabase(missing, { create: false });
      } catch (e) {
        error = e;
      }
      expect(openFailureMessage(missing, error)).toBe(`no database at ${missing}; run lunasentri-api migrate --db ${missing} first`);
      expect(existsSync(join(dir, 'typo'))).toBe(false);
      const url = 'postgres://app:s3cret-pass@db.example.com/lunasentri';
      expect(openFailureMessage(url, new Error('password authentication failed: s3cret-pass'))).toBe(
        'cannot open database postgres://app@db.example.com/lunasentri: password authentication failed: [redacted]',
      );
    } finally {
      cleanup();
    }
  });

  test('an unreachable PostgreSQL fails with one message naming host and database, never the password', async () => {
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

interface Column {
  name: string;
  type: string;
  nullable: boolean;
}

/** A table's columns as the engine's catalogue describes them (types lower-cased). */
async function columnsOf(engine: DatabaseEngine, db: Kysely<Database>, table: string): Promise<Column[]> {
  if (engine === 'sqlite') {
    const rows = await sql<{ name: string; type: string; notnull: number; pk: number }>`SELECT name, type, "notnull", pk FROM pragma_table_info(${table})`.execute(db);
    return rows.rows.map((c) => ({ name: c.name, type: c.type.toLowerCase(), nullable: c.notnull === 0 && c.pk === 0 }));
  }
  const rows = await sql<{ column_name: string; data_type: string; is_nullable: string }>`
    SELECT column_name, data_type, is_nullable FROM information_schema.columns
     WHERE table_name = ${table} ORDER BY ordinal_position`.execute(db);
  return rows.rows.map((c) => ({ name: c.column_name, type: c.data_type, nullable: c.is_nullable === 'YES' }));
}

/** Every foreign key of the schema: the table it is on, the table it points at, and its ON DELETE rule. */
async function foreignKeys(engine: DatabaseEngine, db: Kysely<Database>): Promise<Array<{ table: string; references: string; onDelete: string }>> {
  const rows =
    engine === 'sqlite'
      ? await sql<{ table: string; references: string; onDelete: string }>`
          SELECT m.name AS "table", f."table" AS "references", f.on_delete AS "onDelete"
            FROM sqlite_master m, pragma_foreign_key_list(m.name) f WHERE m.type = 'table'`.execute(db)
      : await sql<{ table: string; references: string; onDelete: string }>`
          SELECT tc.table_name AS "table", ccu.table_name AS "references", rc.delete_rule AS "onDelete"
            FROM information_schema.referential_constraints rc
            JOIN information_schema.table_constraints tc ON tc.constraint_name = rc.constraint_name
            JOIN information_schema.constraint_column_usage ccu ON ccu.constraint_name = rc.unique_constraint_name`.execute(db);
  return rows.rows;
}

/** The definitions of the schema's own indexes (`idx_…`), by name. */
async function indexDefinitions(engine: DatabaseEngine, db: Kysely<Database>): Promise<Map<string, string>> {
  const rows =
    engine === 'sqlite'
      ? await sql<{ name: string; def: string }>`SELECT name, sql AS def FROM sqlite_master WHERE type = 'index' AND name LIKE 'idx_%'`.execute(db)
      : await sql<{ name: string; def: string }>`SELECT indexname AS name, indexdef AS def FROM pg_indexes WHERE indexname LIKE 'idx_%'`.execute(db);
  return new Map(rows.rows.map((r) => [r.name, r.def]));
}

/**
 * The plan the engine would use for `query`, as one line. PostgreSQL is asked with sequential scans
 * priced out (`enable_seqscan = off`): on a nearly empty test table it would rightly prefer one, and
 * the question here is whether an index *can* serve the query.
 */
async function planOf(engine: DatabaseEngine, handle: TestDb, query: string): Promise<string> {
  if (engine === 'sqlite') {
    return (handle.sqlite.prepare(`EXPLAIN QUERY PLAN ${query}`).all() as Array<{ detail: string }>).map((r) => r.detail).join('; ');
  }
  return handle.db.connection().execute(async (connection) => {
    await sql`SET enable_seqscan = off`.execute(connection);
    try {
      const rows = await sql.raw<{ 'QUERY PLAN': string }>(`EXPLAIN ${query}`).execute(connection);
      return rows.rows.map((r) => r['QUERY PLAN'].trim()).join('; ');
    } finally {
      await sql`RESET enable_seqscan`.execute(connection);
    }
  });
}

/** Child processes that each open `location`, wait for a common start moment, migrate, and print what they applied. */
async function migrateConcurrently(location: string, processes: number): Promise<Array<{ code: number | null; out: string; err: string }>> {
  const script = `
    const { openDatabase, migrateToLatest } = require(${JSON.stringify(join(__dirname, '..', 'dist', 'index.js'))});
    const handle = openDatabase(process.argv[1]);
    const start = Number(process.argv[2]);
    while (Date.now() < start) {}
    migrateToLatest(handle.db).then(async (applied) => {
      process.stdout.write(JSON.stringify(applied));
      await handle.close();
    }, (error) => { console.error(error); process.exit(1); });`;
  const start = Date.now() + 2_000;
  const run = () =>
    new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
      const child = spawn(process.execPath, ['-e', script, location, String(start)]);
      let out = '';
      let err = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (err += d));
      child.on('close', (code) => resolve({ code, out, err }));
    });
  return Promise.all(Array.from({ length: processes }, run));
}

describeEachEngine('migrations', (engine) => {
  /** A fresh database migrated up to `name` (and no further), for `run`; closed and removed after. */
  async function onDatabaseAt(name: string, run: (handle: DatabaseHandle) => Promise<void>): Promise<void> {
    const fresh = await emptyDatabase(engine);
    const handle = openDatabase(fresh.location);
    try {
      await migrateTo(handle.db, name);
      await run(handle);
    } finally {
      await handle.close();
      await fresh.drop();
    }
  }

  test('the dedup migration has the contract name, and names sort in the order they apply', () => {
    expect(names).toContain('014_machine_offline_notifications');
    expect([...names].sort()).toEqual(names);
  });

  test('apply on an empty database, and again as a no-op', async () => {
    const db = await createTestDb(engine);
    try {
      expect(await appliedMigrations(db.db)).toEqual(names);
      expect(await migrateToLatest(db.db)).toEqual([]);
    } finally {
      await db.dispose();
    }
  });

  test.each(names.slice(0, -1))('apply on a database left at %s, and down to it again', (name) =>
    onDatabaseAt(name, async (handle) => {
      const upTo = names.slice(0, names.indexOf(name) + 1);
      expect(await appliedMigrations(handle.db)).toEqual(upTo);
      expect(await migrateToLatest(handle.db)).toEqual(names.slice(names.indexOf(name) + 1));
      await migrateTo(handle.db, name);
      expect(await appliedMigrations(handle.db)).toEqual(upTo);
    }),
  );

  test("017 gives deliveries a nullable retry_not_before (the receiver's Retry-After); rows delivered before keep NULL", () =>
    onDatabaseAt('016_credential_revision', async (handle) => {
      await sql`INSERT INTO users (email, created_at) VALUES ('a@example.com', ${T})`.execute(handle.db);
      await sql`INSERT INTO events (id, type, machine_id, user_id, occurred_at, payload, created_at) VALUES ('e1', 'machine.offline', 1, 1, ${T}, '{}', ${T})`.execute(handle.db);
      await sql`INSERT INTO deliveries (event_id, machine_id, channel, target_id, next_attempt_at, created_at, updated_at) VALUES ('e1', 1, 'webhook', 1, ${T}, ${T}, ${T})`.execute(handle.db);
      expect(await migrateToLatest(handle.db)).toContain('017_delivery_retry_not_before');
      const column = (await columnsOf(engine, handle.db, 'deliveries')).find((c) => c.name === 'retry_not_before');
      expect(column).toEqual({ name: 'retry_not_before', type: 'text', nullable: true });
      expect((await sql`SELECT retry_not_before FROM deliveries`.execute(handle.db)).rows).toEqual([{ retry_not_before: null }]);
    }));

  test('018 gives service_liveness nullable beat_every_ms, boot_id, pid_namespace and process_started; rows from before keep NULL', () =>
    onDatabaseAt('017_delivery_retry_not_before', async (handle) => {
      await sql`INSERT INTO service_liveness (instance_id, kind, pid, hostname, started_at, heartbeat_at) VALUES ('old', 'daemon', 1, 'box', ${T}, ${T})`.execute(handle.db);
      expect(await migrateToLatest(handle.db)).toContain('018_liveness_process_identity');
      const added = ['beat_every_ms', 'boot_id', 'pid_namespace', 'process_started'];
      const columns = (await columnsOf(engine, handle.db, 'service_liveness')).filter((c) => added.includes(c.name));
      expect(columns).toEqual([
        { name: 'beat_every_ms', type: 'integer', nullable: true },
        { name: 'boot_id', type: 'text', nullable: true },
        { name: 'pid_namespace', type: 'text', nullable: true },
        { name: 'process_started', type: 'text', nullable: true },
      ]);
      const rows = await sql.raw(`SELECT ${added.join(', ')} FROM service_liveness`).execute(handle.db);
      expect(rows.rows).toEqual([{ beat_every_ms: null, boot_id: null, pid_namespace: null, process_started: null }]);
    }));

  test('three processes migrating the same new database at the same moment all succeed, and each migration is applied once', async () => {
    const fresh = await emptyDatabase(engine);
    try {
      const results = await migrateConcurrently(fresh.location, 3);
      expect(results.map((r) => [r.code, r.err])).toEqual([
        [0, ''],
        [0, ''],
        [0, ''],
      ]);
      expect(results.flatMap((r) => JSON.parse(r.out) as string[]).sort()).toEqual(names);
      const check = openDatabase(fresh.location);
      expect(await appliedMigrations(check.db)).toEqual(names);
      await check.close();
    } finally {
      await fresh.drop();
    }
  });
});

// Constraint errors are matched by code or predicate, not with toThrow: better-sqlite3's native part
// keeps the error class of the first Jest module registry that loaded it, so in later test files of
// the same worker its errors are not `instanceof` this file's Error and toThrow would say "did not throw".
describeEachEngine('schema', (engine) => {
  let db: TestDb;
  beforeEach(async () => {
    db = await createTestDb(engine);
  });
  afterEach(() => db.dispose());

  test('machine_offline_notifications has the contract shape: machine_id primary key, notified_at NOT NULL, cascading from machines', async () => {
    expect(await columnsOf(engine, db.db, 'machine_offline_notifications')).toEqual([
      { name: 'machine_id', type: 'integer', nullable: false },
      { name: 'notified_at', type: engine === 'sqlite' ? 'timestamp' : 'timestamp without time zone', nullable: false },
      // the outage's reminder schedule (migration 021)
      { name: 'reminders_sent', type: 'integer', nullable: false },
      { name: 'next_reminder_at', type: 'text', nullable: true },
    ]);
    const userId = await insertUser(db.db);
    const machine = await db.db.insertInto('machines').values({ user_id: userId, name: 'm', created_at: T, updated_at: T }).returning(['id', 'status']).executeTakeFirstOrThrow();
    expect(machine.status).toBe('pending');
    await db.db.insertInto('machine_offline_notifications').values({ machine_id: machine.id, notified_at: T }).execute();
    const twice = await db.db.insertInto('machine_offline_notifications').values({ machine_id: machine.id, notified_at: T }).execute().catch((e: unknown) => e);
    expect(isUniqueViolation(twice)).toBe(true);
    const orphan = await db.db.insertInto('machine_offline_notifications').values({ machine_id: 999, notified_at: T }).execute().catch((e: unknown) => e);
    expect(orphan).toMatchObject({ code: engine === 'sqlite' ? 'SQLITE_CONSTRAINT_FOREIGNKEY' : '23503' });
    await db.db.deleteFrom('machines').where('id', '=', machine.id).execute();
    expect(await db.db.selectFrom('machine_offline_notifications').selectAll().execute()).toEqual([]);
  });

  test('every foreign key cascades on delete, but outage history outlives the maintenance window it records', async () => {
    const keys = await foreignKeys(engine, db.db);
    expect(keys).toContainEqual({ table: 'machine_offline_notifications', references: 'machines', onDelete: 'CASCADE' });
    expect(keys).toContainEqual({ table: 'deliveries', references: 'events', onDelete: 'CASCADE' });
    expect(keys).toContainEqual({ table: 'outage_history', references: 'machines', onDelete: 'CASCADE' });
    expect(keys.filter((k) => k.onDelete !== 'CASCADE')).toEqual([{ table: 'outage_history', references: 'maintenance_windows', onDelete: 'SET NULL' }]);
  });

  test('status only takes pending, online or offline', async () => {
    const userId = await insertUser(db.db);
    const refused = await db.db
      .insertInto('machines')
      .values({ user_id: userId, name: 'm', status: 'up' as never, created_at: T, updated_at: T })
      .execute()
      .catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: engine === 'sqlite' ? 'SQLITE_CONSTRAINT_CHECK' : '23514' });
    expect(await db.db.selectFrom('machines').selectAll().execute()).toEqual([]);
  });

  test('the partial indexes cover only the rows the hot queries can match', async () => {
    const defs = await indexDefinitions(engine, db.db);
    expect(defs.get('idx_machines_status_last_seen')).toMatch(/where \(?"?is_enabled"? = 1\)?$/i);
    expect(defs.get('idx_deliveries_due')).toMatch(/where \(?"?status"? = 'pending'(::text)?\)?$/i);
    expect(defs.get('idx_deliveries_pending_claims')).toMatch(/where \(?"?status"? = 'pending'(::text)?\)?$/i);
    expect(defs.get('idx_service_liveness_resumed')).toMatch(/\("?kind"?, "?ingest_resumed_at"?\)/);
  });

  const usesIndex = (name: string) => (engine === 'sqlite' ? new RegExp(`SEARCH \\w+ USING (COVERING )?INDEX ${name} `) : new RegExp(`(Index|Index Only|Bitmap Index) Scan (using|on) ${name}\\b`));

  test('the sweep candidate queries are range scans on the partial (status, last_seen) index of enabled machines', async () => {
    // A fleet the planner can weigh (on an empty table every partial index of enabled machines looks
    // alike): 2,000 machines, mostly online and fresh, a few just past the cutoff, then fresh statistics.
    const userId = await insertUser(db.db);
    for (let batch = 0; batch < 4; batch++) {
      const rows = Array.from({ length: 500 }, (_, k) => {
        const i = batch * 500 + k;
        const status = i % 20 === 0 ? ('offline' as const) : i % 50 === 1 ? ('pending' as const) : ('online' as const);
        return { user_id: userId, name: `m-${i}`, status, last_seen: new Date(Date.parse(T) + 3_590_000 - i * 1_800).toISOString(), created_at: T, updated_at: T };
      });
      await db.db.insertInto('machines').values(rows).execute();
    }
    await sql`ANALYZE`.execute(db.db);
    const overdue = await planOf(engine, db, `SELECT id FROM machines WHERE status = 'online' AND last_seen < '${T}' AND is_enabled = 1`);
    expect(overdue).toMatch(usesIndex('idx_machines_status_last_seen'));
    if (engine === 'sqlite') expect(overdue).toMatch(/\(status=\? AND last_seen<\?\)/);
    const back = await planOf(engine, db, `SELECT id FROM machines WHERE status = 'offline' AND last_seen >= '${T}' AND is_enabled = 1`);
    expect(back).toMatch(usesIndex('idx_machines_status_last_seen'));
    // Between checks, after a change hint: is a fresh report waiting for a pending or offline machine?
    const arrivals = await planOf(engine, db, `SELECT id FROM machines WHERE status IN ('pending', 'offline') AND last_seen >= '${T}' AND is_enabled = 1 LIMIT 1`);
    expect(arrivals).toMatch(usesIndex('idx_machines_status_last_seen'));
    // The index covers enabled machines only: a query that does not say so cannot use it.
    expect(await planOf(engine, db, `SELECT id FROM machines WHERE status = 'online' AND last_seen < '${T}'`)).not.toMatch(/idx_machines_status_last_seen/);
  });

  test('the dispatcher reads pending deliveries through partial indexes, by channel and by live claim', async () => {
    // A delivery history the planner can weigh (on an empty table both partial indexes look alike):
    // a backlog of 2,000 rows over two channels, due over three months, a few claimed, then fresh statistics.
    const userId = await insertUser(db.db);
    const machineId = await insertMachine(db.db, userId);
    for (let batch = 0; batch < 4; batch++) {
      const ids = Array.from({ length: 500 }, (_, i) => batch * 500 + i);
      await db.db.insertInto('events').values(ids.map((i) => ({ id: `e${i}`, type: 'machine.offline' as const, machine_id: machineId, user_id: userId, occurred_at: T, payload: '{}', created_at: T }))).execute();
      await db.db
        .insertInto('deliveries')
        .values(
          ids.map((i) => ({
            event_id: `e${i}`,
            machine_id: machineId,
            channel: i % 2 === 0 ? ('webhook' as const) : ('telegram' as const),
            target_id: 1,
            status: i % 10 === 0 ? ('delivered' as const) : ('pending' as const),
            next_attempt_at: new Date(Date.parse('2026-11-01T00:00:00.000Z') + i * 3_600_000).toISOString(),
            claimed_until: i % 100 === 0 ? new Date(Date.parse(T) + 30_000).toISOString() : null,
            created_at: T,
            updated_at: T,
          })),
        )
        .execute();
    }
    await sql`ANALYZE`.execute(db.db);
    expect(await planOf(engine, db, `SELECT id FROM deliveries WHERE status = 'pending' AND channel = 'webhook' AND next_attempt_at <= '${T}'`)).toMatch(usesIndex('idx_deliveries_due'));
    expect(await planOf(engine, db, `SELECT MIN(claimed_until) FROM deliveries WHERE status = 'pending' AND claimed_until > '${T}'`)).toMatch(usesIndex('idx_deliveries_pending_claims'));
  });

  test('values reach the code in the same shape on both engines: counts as numbers, flags as 0/1, times as ISO text', async () => {
    const userId = await insertUser(db.db);
    const id = await insertMachine(db.db, userId, { status: 'offline' });
    await db.db.insertInto('machine_offline_notifications').values({ machine_id: id, notified_at: '2026-11-28T03:02:15.000Z' }).execute();
    const count = await db.db.selectFrom('machines').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
    expect(count.n).toBe(1);
    const machine = await db.db.selectFrom('machines').select(['id', 'is_enabled']).where('id', '=', id).executeTakeFirstOrThrow();
    expect(machine).toEqual({ id, is_enabled: 1 });
    const dedup = await db.db.selectFrom('machine_offline_notifications').select('notified_at').executeTakeFirstOrThrow();
    expect(dedup.notified_at).toBe('2026-11-28T03:02:15.000Z');
  });

  test('the credential revision moves on every key or enabled change, made by any connection, and not on a report', async () => {
    const revision = async () => Number((await sql<{ revision: number }>`SELECT revision FROM credential_revision`.execute(db.db)).rows[0]!.revision);
    const userId = await insertUser(db.db);
    const id = await insertMachine(db.db, userId);
    const before = await revision();
    await db.db.insertInto('machine_api_keys').values({ machine_id: id, key_hash: 'a'.repeat(64), created_at: T, revoked_at: null }).execute();
    const afterKey = await revision();
    expect(afterKey).toBeGreaterThan(before);
    await db.db.updateTable('machines').set({ last_seen: '2026-11-28T03:00:01.000Z' }).where('id', '=', id).execute();
    expect(await revision()).toBe(afterKey);
    await db.db.updateTable('machines').set({ is_enabled: 0 }).where('id', '=', id).execute();
    expect(await revision()).toBeGreaterThan(afterKey);
  });

  test("the README's troubleshooting query works in the engine's own shell on a machine that has reported", async () => {
    const userId = await insertUser(db.db);
    await db.db.insertInto('machines').values({ user_id: userId, name: 'production-server', last_seen: T, created_at: T, updated_at: T }).execute();
    if (engine === 'sqlite') {
      await sql`PRAGMA wal_checkpoint(TRUNCATE)`.execute(db.db);
      const out = execFileSync('sqlite3', [db.path, "SELECT id, name, status, datetime(last_seen, 'utc') FROM machines;"], { env: { ...process.env, TZ: 'UTC' } }).toString();
      expect(out.trim()).toBe('1|production-server|pending|2026-11-28 03:00:00');
      const local = execFileSync('sqlite3', [db.path, "SELECT id, name, status, datetime(last_seen, 'localtime') FROM machines;"]).toString();
      expect(local).toMatch(/^1\|production-server\|pending\|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/m);
    } else {
      const out = execFileSync('psql', [db.path, '-AXt', '-c', 'SELECT id, name, status, last_seen FROM machines;']).toString();
      expect(out.trim()).toBe(`1|production-server|pending|${T}`);
    }
  });
});
