import { isPostgresUrl } from './engine';
import type { DatabaseHandle, OpenOptions } from './port';
import { isPostgresUniqueViolation, openPostgres } from './postgres';
import { isSqliteUniqueViolation, openSqlite } from './sqlite';

/**
 * Opens the database a `--db` / `DATABASE_URL` / `DB_PATH` setting names: a `postgres://` or
 * `postgresql://` URL selects PostgreSQL, anything else is a SQLite file path (or `:memory:`).
 * Does not migrate: call {@link migrateToLatest} after.
 * @throws MissingDatabaseError when a SQLite file does not exist and `create` is false (or `readonly`).
 */
export function openDatabase(location: string, options: OpenOptions = {}): DatabaseHandle {
  return isPostgresUrl(location) ? openPostgres(location.trim(), options) : openSqlite(location, options);
}

/** A UNIQUE constraint refused the write, whichever engine said so. */
export function isUniqueViolation(error: unknown): boolean {
  return isSqliteUniqueViolation(error) || isPostgresUniqueViolation(error);
}
