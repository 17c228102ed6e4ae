import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type SqliteDatabase from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { migrateToLatest, openDatabase, type DatabaseEngine, type DatabaseHandle } from '@lunasentri/shared';
import { POSTGRES_URL } from './engines';
// Tests reach below the database port on purpose (triggers, locks, query plans); production code never does.
import { sqliteConnection } from '../../packages/shared/src/db/sqlite';

/** The better-sqlite3 connection behind a SQLite handle: for triggers, held locks and query plans in tests. */
export function rawSqlite(handle: DatabaseHandle): SqliteDatabase.Database {
  return sqliteConnection(handle);
}

/** A fresh temp folder, removed by the returned cleanup. */
export function tempDir(prefix = 'lunasentri-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface TestDb extends DatabaseHandle {
  /** The handle's own connection, raw (see {@link rawSqlite}); SQLite only. */
  readonly sqlite: SqliteDatabase.Database;
  /** Closes the connection and removes the database (its temp folder, or the PostgreSQL database). */
  dispose(): Promise<void>;
}

/**
 * A fresh database with every migration applied: a real SQLite file in a temp folder, or a new
 * PostgreSQL database on the test server (copied from a migrated template, made once per process).
 */
export async function createTestDb(engine: DatabaseEngine = 'sqlite'): Promise<TestDb> {
  if (engine === 'postgres') return createPostgresTestDb();
  const { dir, cleanup } = tempDir();
  const handle = openDatabase(join(dir, 'lunasentri.db'));
  await migrateToLatest(handle.db);
  return Object.assign(handle, {
    sqlite: sqliteConnection(handle),
    async dispose() {
      await handle.close();
      cleanup();
    },
  });
}

let admin: DatabaseHandle | null = null;
let template: Promise<string> | null = null;

/** A URL for database `name` on the test server. */
function postgresUrl(name: string): string {
  if (!POSTGRES_URL) throw new Error('no PostgreSQL test server (LUNASENTRI_TEST_POSTGRES_URL is not set)');
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

/** The migrated template of this test process; a database copied from it takes a few milliseconds. */
function migratedTemplate(): Promise<string> {
  template ??= (async () => {
    admin ??= openDatabase(POSTGRES_URL!);
    const name = `lunasentri_tpl_${process.pid}_${randomBytes(3).toString('hex')}`;
    await sql.raw(`CREATE DATABASE ${name}`).execute(admin.db);
    const handle = openDatabase(postgresUrl(name));
    await migrateToLatest(handle.db);
    await handle.close();
    return name;
  })();
  return template;
}

async function createPostgresTestDb(): Promise<TestDb> {
  const source = await migratedTemplate();
  const name = `lunasentri_t_${randomBytes(6).toString('hex')}`;
  await sql.raw(`CREATE DATABASE ${name} TEMPLATE ${source}`).execute(admin!.db);
  const handle = openDatabase(postgresUrl(name));
  const db = Object.assign(handle, {
    async dispose() {
      await handle.close();
      await sql.raw(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).execute(admin!.db);
    },
  });
  return Object.defineProperty(db, 'sqlite', {
    get(): never {
      throw new Error('a PostgreSQL test database has no SQLite connection');
    },
  }) as TestDb;
}

/**
 * Where a new, empty (unmigrated) database can be made: a file path in a temp folder, or a new
 * database on the PostgreSQL test server. `drop` removes it (close every handle on it first).
 */
export async function emptyDatabase(engine: DatabaseEngine): Promise<{ location: string; drop: () => Promise<void> }> {
  if (engine === 'sqlite') {
    const { dir, cleanup } = tempDir();
    return { location: join(dir, 'lunasentri.db'), drop: async () => cleanup() };
  }
  admin ??= openDatabase(POSTGRES_URL ?? postgresUrl('postgres'));
  const name = `lunasentri_empty_${randomBytes(6).toString('hex')}`;
  await sql.raw(`CREATE DATABASE ${name}`).execute(admin.db);
  return { location: postgresUrl(name), drop: async () => void (await sql.raw(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).execute(admin!.db)) };
}

/**
 * A full disk, as SQLite reports it: from now on this connection cannot add a page to the file
 * (`PRAGMA max_page_count` at its current size), so the next write that needs one fails with
 * SQLITE_FULL ("database or disk is full") and SQLite rolls the whole transaction back by itself.
 * Returns the undo (space freed).
 */
export function fillDisk(handle: DatabaseHandle): () => void {
  const sqlite = rawSqlite(handle);
  const before = sqlite.pragma('max_page_count', { simple: true }) as number;
  sqlite.pragma(`max_page_count = ${sqlite.pragma('page_count', { simple: true }) as number}`);
  return () => {
    sqlite.pragma(`max_page_count = ${before}`);
  };
}
