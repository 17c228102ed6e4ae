import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely } from 'kysely';
import { BUSY_TIMEOUT_MS, type DatabaseHandle, type OpenOptions } from '../port';
import type { Database } from '../schema';
import { sqliteChangeFeed } from './sqlite.change-feed';
import { SharedFileSqliteDialect } from './sqlite.dialect';
import { sqliteIngestStore } from './sqlite.ingest-store';
import { sqliteMachineKeyLookup } from './sqlite.key-lookup';

/** A database that does not exist where a command that must not create one was pointed. */
export class MissingDatabaseError extends Error {
  override name = 'MissingDatabaseError';
  constructor(readonly path: string) {
    super(`no database at ${path}`);
  }
}

/** The raw connection behind each handle: only this folder's own code (and its tests) reach it. */
const connections = new WeakMap<DatabaseHandle, SqliteDatabase.Database>();

/** The better-sqlite3 connection of a SQLite handle, for the SQLite-specific parts of the port. */
export function sqliteConnection(handle: DatabaseHandle): SqliteDatabase.Database {
  const connection = connections.get(handle);
  if (!connection) throw new Error('not a SQLite database handle');
  return connection;
}

/**
 * Opens (creating it if needed and allowed: parent folders and a 0600 file) the SQLite database and
 * applies the pragmas every connection must have: WAL, `foreign_keys=ON`, `synchronous=NORMAL` and a
 * busy timeout. Does not migrate.
 */
export function openSqlite(path: string, options: OpenOptions = {}): DatabaseHandle {
  const memory = path === ':memory:';
  const file = memory ? path : resolve(path);
  if (!memory && !options.readonly) {
    if (!existsSync(file)) {
      if (options.create === false) throw new MissingDatabaseError(file);
      makeParentFolders(dirname(file));
      // Created by us first so it is never world-readable: it holds webhook secrets.
      closeSync(openSync(file, 'a', 0o600));
      chmodSync(file, 0o600);
    }
  } else if (!memory && !existsSync(file)) {
    throw new MissingDatabaseError(file);
  }
  const sqlite = new SqliteDatabase(file, { readonly: options.readonly ?? false, fileMustExist: options.readonly ?? false });
  applyPragmas(sqlite, options.busyTimeoutMs ?? BUSY_TIMEOUT_MS);
  const db = new Kysely<Database>({ dialect: new SharedFileSqliteDialect({ database: sqlite }) });
  return wrap(sqlite, db, file, async () => {
    await db.destroy(); // closes the better-sqlite3 connection too
  });
}

function wrap(sqlite: SqliteDatabase.Database, db: Kysely<Database>, file: string, destroy: () => Promise<void>): DatabaseHandle {
  let closed = false;
  const handle: DatabaseHandle = {
    engine: 'sqlite',
    db,
    path: file,
    reopen(options) {
      // One in-memory database per connection: a second connection would be another, empty database.
      if (file === ':memory:') return wrap(sqlite, db, file, async () => undefined);
      return openSqlite(file, { ...options, create: false });
    },
    changeFeed: () => sqliteChangeFeed(sqlite),
    ingestStore: () => sqliteIngestStore(db, sqlite),
    machineKeyLookup: () => sqliteMachineKeyLookup(sqlite),
    async close() {
      if (closed) return;
      closed = true;
      await destroy();
    },
  };
  connections.set(handle, sqlite);
  return handle;
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
