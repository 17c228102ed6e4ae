import type { DatabaseHandle, OpenOptions } from './port';
import { isSqliteUniqueViolation, openSqlite } from './sqlite';

/**
 * Opens the database a `--db` / `DB_PATH` setting names: today a SQLite file path (or `:memory:`).
 * Does not migrate: call {@link migrateToLatest} after.
 * @throws MissingDatabaseError when the file does not exist and `create` is false (or `readonly`).
 */
export function openDatabase(location: string, options: OpenOptions = {}): DatabaseHandle {
  return openSqlite(location, options);
}

/** A UNIQUE constraint refused the write, whichever engine said so. */
export function isUniqueViolation(error: unknown): boolean {
  return isSqliteUniqueViolation(error);
}
