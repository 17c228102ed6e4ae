import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type SqliteDatabase from 'better-sqlite3';
import { migrateToLatest, openDatabase, type DatabaseHandle } from '@lunasentri/shared';
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
  /** The handle's own connection, raw (see {@link rawSqlite}). */
  sqlite: SqliteDatabase.Database;
  /** Closes the connection and removes the temp folder. */
  dispose(): Promise<void>;
}

/** A real SQLite file in a temp folder with every migration applied. */
export async function createTestDb(): Promise<TestDb> {
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
