import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely } from 'kysely';
import { SharedFileSqliteDialect } from './dialect';
import type { Database } from './schema';

/** Default busy timeout: a writer waits this long for another connection's write to finish. */
export const BUSY_TIMEOUT_MS = 10_000;

export interface DatabaseHandle {
  /** Kysely over the connection. */
  db: Kysely<Database>;
  /** The same connection, raw: for PRAGMAs and bulk work Kysely has no words for. */
  sqlite: SqliteDatabase.Database;
  /** Absolute file path, or `:memory:`. */
  path: string;
  close(): Promise<void>;
}

export interface OpenOptions {
  readonly?: boolean;
  busyTimeoutMs?: number;
}

/**
 * Opens (creating it if needed: parent folder and a 0600 file) the SQLite database and applies the
 * pragmas every connection must have: WAL, `foreign_keys=ON`, `synchronous=NORMAL` and a busy timeout.
 * Does not migrate: call {@link migrateToLatest} after.
 */
export function openDatabase(path: string, options: OpenOptions = {}): DatabaseHandle {
  const memory = path === ':memory:';
  const file = memory ? path : resolve(path);
  if (!memory && !options.readonly) {
    makeParentFolders(dirname(file));
    if (!existsSync(file)) {
      // Created by us first so it is never world-readable: it holds webhook secrets.
      closeSync(openSync(file, 'a', 0o600));
      chmodSync(file, 0o600);
    }
  }
  const sqlite = new SqliteDatabase(file, { readonly: options.readonly ?? false, fileMustExist: options.readonly ?? false });
  applyPragmas(sqlite, options.busyTimeoutMs ?? BUSY_TIMEOUT_MS);
  const db = new Kysely<Database>({ dialect: new SharedFileSqliteDialect({ database: sqlite }) });
  let closed = false;
  return {
    db,
    sqlite,
    path: file,
    async close() {
      if (closed) return;
      closed = true;
      await db.destroy(); // closes the better-sqlite3 connection too
    },
  };
}

/**
 * Creates the missing folders above the file, one level at a time from the nearest existing one.
 * Not `mkdirSync(…, { recursive: true })`: on Node 20 that spins forever at 100% CPU under /proc
 * (`--db /proc/nope/x.db`); level by level, the first refusal is a clear error.
 */
function makeParentFolders(folder: string): void {
  const missing: string[] = [];
  let current = folder;
  while (!existsSync(current)) {
    missing.push(current);
    const parent = dirname(current);
    if (parent === current) break;
    current = parent;
  }
  for (const level of missing.reverse()) mkdirSync(level, { mode: 0o700 });
}

function applyPragmas(sqlite: SqliteDatabase.Database, busyTimeoutMs: number): void {
  // busy_timeout first: switching to WAL needs a lock another process may briefly hold.
  sqlite.pragma(`busy_timeout = ${Math.trunc(busyTimeoutMs)}`);
  if (!sqlite.readonly) sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('synchronous = NORMAL');
}
