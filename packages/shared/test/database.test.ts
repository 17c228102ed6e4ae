import { execFileSync, spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'kysely';
import { appliedMigrations, describeDatabase, migrateTo, migrateToLatest, migrations, openDatabase, openFailureMessage, type DatabaseHandle } from '@lunasentri/shared';
import { createTestDb, tempDir } from '../../../test/support/db';
import { sqliteConnection } from '../src/db/sqlite';

const names = Object.keys(migrations);

describe('openDatabase', () => {
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
});

describe('migrations', () => {
  test('the dedup migration has the contract name', () => {
    expect(names).toContain('014_machine_offline_notifications');
    expect([...names].sort()).toEqual(names);
  });

  test('apply on an empty database, and again as a no-op', async () => {
    const db = await createTestDb();
    try {
      expect(await appliedMigrations(db.db)).toEqual(names);
      expect(await migrateToLatest(db.db)).toEqual([]);
    } finally {
      await db.dispose();
    }
  });

  /** A fresh database file migrated up to `name` (and no further), for `run`; closed and removed after. */
  async function onDatabaseAt(name: string, run: (handle: DatabaseHandle, raw: ReturnType<typeof sqliteConnection>) => Promise<void>): Promise<void> {
    const { dir, cleanup } = tempDir();
    const handle = openDatabase(join(dir, 'db.sqlite'));
    try {
      await migrateTo(handle.db, name);
      await run(handle, sqliteConnection(handle));
    } finally {
      await handle.close();
      cleanup();
    }
  }
  const T = '2026-11-28T03:00:00.000Z';

  test.each(names.slice(0, -1))('apply on a database left at %s', (name) =>
    onDatabaseAt(name, async (handle) => {
      expect(await appliedMigrations(handle.db)).toEqual(names.slice(0, names.indexOf(name) + 1));
      const applied = await migrateToLatest(handle.db);
      expect(applied).toEqual(names.slice(names.indexOf(name) + 1));
    }),
  );

  test("017 gives deliveries a nullable retry_not_before (the receiver's Retry-After); rows delivered before keep NULL", () =>
    onDatabaseAt('016_credential_revision', async (handle, raw) => {
      raw.prepare("INSERT INTO users (email, created_at) VALUES ('a@example.com', ?)").run(T);
      raw.prepare("INSERT INTO events (id, type, machine_id, user_id, occurred_at, payload, created_at) VALUES ('e1', 'machine.offline', 1, 1, ?, '{}', ?)").run(T, T);
      raw
        .prepare("INSERT INTO deliveries (event_id, machine_id, channel, target_id, next_attempt_at, created_at, updated_at) VALUES ('e1', 1, 'webhook', 1, ?, ?, ?)")
        .run(T, T, T);
      expect(await migrateToLatest(handle.db)).toContain('017_delivery_retry_not_before');
      const column = (raw.prepare('PRAGMA table_info(deliveries)').all() as Array<{ name: string; type: string; notnull: number }>).find((c) => c.name === 'retry_not_before');
      expect(column).toMatchObject({ type: 'TEXT', notnull: 0 });
      expect(raw.prepare('SELECT retry_not_before FROM deliveries').pluck().all()).toEqual([null]);
    }));

  test('018 gives service_liveness nullable beat_every_ms, boot_id, pid_namespace and process_started; rows from before keep NULL', () =>
    onDatabaseAt('017_delivery_retry_not_before', async (handle, raw) => {
      raw.prepare("INSERT INTO service_liveness (instance_id, kind, pid, hostname, started_at, heartbeat_at) VALUES ('old', 'daemon', 1, 'box', ?, ?)").run(T, T);
      expect(await migrateToLatest(handle.db)).toContain('018_liveness_process_identity');
      const added = ['beat_every_ms', 'boot_id', 'pid_namespace', 'process_started'];
      const columns = raw.prepare('PRAGMA table_info(service_liveness)').all() as Array<{ name: string; type: string; notnull: number }>;
      expect(columns.filter((c) => added.includes(c.name)).map((c) => [c.name, c.type, c.notnull])).toEqual([
        ['beat_every_ms', 'INTEGER', 0],
        ['boot_id', 'TEXT', 0],
        ['pid_namespace', 'TEXT', 0],
        ['process_started', 'TEXT', 0],
      ]);
      expect(raw.prepare(`SELECT ${added.join(', ')} FROM service_liveness`).all()).toEqual([{ beat_every_ms: null, boot_id: null, pid_namespace: null, process_started: null }]);
    }));

  test('two processes migrating the same new file at the same moment both succeed', async () => {
    const { dir, cleanup } = tempDir();
    const path = join(dir, 'race.db');
    const script = `
      const { openDatabase, migrateToLatest } = require(${JSON.stringify(join(__dirname, '..', 'dist', 'index.js'))});
      const handle = openDatabase(process.argv[1]);
      const start = Number(process.argv[2]);
      while (Date.now() < start) {}
      migrateToLatest(handle.db).then(async (applied) => {
        process.stdout.write(JSON.stringify(applied));
        await handle.close();
      }, (error) => { console.error(error); process.exit(1); });`;
    const start = Date.now() + 1500;
    const run = () =>
      new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
        const child = spawn(process.execPath, ['-e', script, path, String(start)]);
        let out = '';
        let err = '';
        child.stdout.on('data', (d) => (out += d));
        child.stderr.on('data', (d) => (err += d));
        child.on('close', (code) => resolve({ code, out, err }));
      });
    try {
      const [a, b] = await Promise.all([run(), run()]);
      expect(a.err).toBe('');
      expect(b.err).toBe('');
      expect([a.code, b.code]).toEqual([0, 0]);
      // Between them each migration was applied exactly once.
      const applied = [...JSON.parse(a.out), ...JSON.parse(b.out)].sort();
      expect(applied).toEqual(names);
      const check = openDatabase(path);
      expect(await appliedMigrations(check.db)).toEqual(names);
      await check.close();
    } finally {
      cleanup();
    }
  });
});

// SQLite errors are matched by code, not with toThrow: better-sqlite3's native part keeps the error
// class of the first Jest module registry that loaded it, so in later test files of the same worker
// its errors are not `instanceof` this file's Error and toThrow would report "did not throw".
describe('schema', () => {
  test('machine_offline_notifications has the contract shape and cascades on machine delete', async () => {
    const db = await createTestDb();
    try {
      const columns = db.sqlite.prepare(`PRAGMA table_info(machine_offline_notifications)`).all() as Array<{
        name: string;
        type: string;
        notnull: number;
        pk: number;
      }>;
      expect(columns.map((c) => [c.name, c.type, c.notnull, c.pk])).toEqual([
        ['machine_id', 'INTEGER', 0, 1],
        ['notified_at', 'TIMESTAMP', 1, 0],
        // the outage's reminder schedule (migration 021)
        ['reminders_sent', 'INTEGER', 1, 0],
        ['next_reminder_at', 'TEXT', 0, 0],
      ]);
      const fks = db.sqlite.prepare(`PRAGMA foreign_key_list(machine_offline_notifications)`).all() as Array<{
        table: string;
        from: string;
        to: string;
        on_delete: string;
      }>;
      expect(fks).toEqual([expect.objectContaining({ table: 'machines', from: 'machine_id', to: 'id', on_delete: 'CASCADE' })]);

      const now = '2026-11-28T03:00:00.000Z';
      const user = await db.db.insertInto('users').values({ email: 'a@example.com', created_at: now }).returning('id').executeTakeFirstOrThrow();
      const machine = await db.db
        .insertInto('machines')
        .values({ user_id: user.id, name: 'm', created_at: now, updated_at: now })
        .returning(['id', 'status'])
        .executeTakeFirstOrThrow();
      expect(machine.status).toBe('pending');
      await db.db.insertInto('machine_offline_notifications').values({ machine_id: machine.id, notified_at: now }).execute();
      await expect(
        db.db.insertInto('machine_offline_notifications').values({ machine_id: machine.id, notified_at: now }).execute(),
      ).rejects.toMatchObject({ code: 'SQLITE_CONSTRAINT_PRIMARYKEY' });
      await expect(
        db.db.insertInto('machine_offline_notifications').values({ machine_id: 999, notified_at: now }).execute(),
      ).rejects.toMatchObject({ code: 'SQLITE_CONSTRAINT_FOREIGNKEY' });
      await db.db.deleteFrom('machines').where('id', '=', machine.id).execute();
      expect(await db.db.selectFrom('machine_offline_notifications').selectAll().execute()).toEqual([]);
    } finally {
      await db.dispose();
    }
  });

  test('status only takes pending, online or offline', async () => {
    const db = await createTestDb();
    try {
      const now = '2026-11-28T03:00:00.000Z';
      const user = await db.db.insertInto('users').values({ email: 'a@example.com', created_at: now }).returning('id').executeTakeFirstOrThrow();
      await expect(
        db.db.insertInto('machines').values({ user_id: user.id, name: 'm', status: 'up' as never, created_at: now, updated_at: now }).execute(),
      ).rejects.toMatchObject({ code: 'SQLITE_CONSTRAINT_CHECK' });
    } finally {
      await db.dispose();
    }
  });

  test('the sweep candidate queries are range scans on the partial (status, last_seen) index of enabled machines', async () => {
    const db = await createTestDb();
    try {
      const plan = (query: string) =>
        (db.sqlite.prepare(`EXPLAIN QUERY PLAN ${query}`).all() as Array<{ detail: string }>).map((r) => r.detail).join('; ');
      expect(plan(`SELECT id FROM machines WHERE status = 'online' AND last_seen < '2026-11-28T03:00:00.000Z' AND is_enabled = 1`)).toMatch(
        /SEARCH machines USING (COVERING )?INDEX idx_machines_status_last_seen \(status=\? AND last_seen<\?\)/,
      );
      expect(plan(`SELECT id FROM machines WHERE status = 'offline' AND last_seen >= '2026-11-28T03:00:00.000Z' AND is_enabled = 1`)).toMatch(
        /SEARCH machines USING (COVERING )?INDEX idx_machines_status_last_seen \(status=\? AND last_seen>\?\)/,
      );
      // The index covers enabled machines only: a query that does not say so cannot use it.
      expect(plan(`SELECT id FROM machines WHERE status = 'online' AND last_seen < '2026-11-28T03:00:00.000Z'`)).not.toMatch(/idx_machines_status_last_seen/);
    } finally {
      await db.dispose();
    }
  });

  test('the dispatcher reads pending deliveries through partial indexes, by channel and by live claim', async () => {
    const db = await createTestDb();
    try {
      const plan = (query: string) =>
        (db.sqlite.prepare(`EXPLAIN QUERY PLAN ${query}`).all() as Array<{ detail: string }>).map((r) => r.detail).join('; ');
      const t = '2026-11-28T03:00:00.000Z';
      expect(plan(`SELECT id FROM deliveries WHERE status = 'pending' AND channel = 'webhook' AND next_attempt_at <= '${t}'`)).toMatch(
        /SEARCH deliveries USING (COVERING )?INDEX idx_deliveries_due \(channel=\? AND next_attempt_at<\?\)/,
      );
      expect(plan(`SELECT MIN(claimed_until) FROM deliveries WHERE status = 'pending' AND claimed_until > '${t}'`)).toMatch(
        /SEARCH deliveries USING (COVERING )?INDEX idx_deliveries_pending_claims \(claimed_until>\?\)/,
      );
      const indexes = db.sqlite.prepare(`SELECT name, sql FROM sqlite_master WHERE type = 'index' AND name LIKE 'idx_%'`).all() as Array<{ name: string; sql: string }>;
      const sqlOf = (name: string) => indexes.find((i) => i.name === name)?.sql;
      expect(sqlOf('idx_machines_status_last_seen')).toMatch(/where "is_enabled" = 1$/i);
      expect(sqlOf('idx_deliveries_due')).toMatch(/where "status" = 'pending'$/i);
      expect(sqlOf('idx_service_liveness_resumed')).toMatch(/\("kind", "ingest_resumed_at"\)/);
    } finally {
      await db.dispose();
    }
  });

  test('the sqlite3 troubleshooting query works on a machine that has reported', async () => {
    const db = await createTestDb();
    try {
      const now = '2026-11-28T03:00:00.000Z';
      const user = await db.db.insertInto('users').values({ email: 'a@example.com', created_at: now }).returning('id').executeTakeFirstOrThrow();
      await db.db
        .insertInto('machines')
        .values({ user_id: user.id, name: 'production-server', last_seen: now, created_at: now, updated_at: now })
        .execute();
      await sql`PRAGMA wal_checkpoint(TRUNCATE)`.execute(db.db);
      const out = execFileSync('sqlite3', [db.path, "SELECT id, name, status, datetime(last_seen, 'utc') FROM machines;"], {
        env: { ...process.env, TZ: 'UTC' },
      }).toString();
      expect(out.trim()).toBe('1|production-server|pending|2026-11-28 03:00:00');
      const local = execFileSync('sqlite3', [db.path, "SELECT id, name, status, datetime(last_seen, 'localtime') FROM machines;"]).toString();
      expect(local).toMatch(/^1\|production-server\|pending\|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/m);
    } finally {
      await db.dispose();
    }
  });
});
