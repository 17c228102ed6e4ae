import { createRedactor } from '../log/redact';
import { errorMessage } from '../process/process.errors';
import { databaseSecrets, describeDatabase, isPostgresUrl } from './engine';
import type { DatabaseHandle, OpenOptions } from './port';
import { isPostgresUniqueViolation, openPostgres } from './postgres';
import { MissingDatabaseError, isSqliteUniqueViolation, openSqlite } from './sqlite';

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

/**
 * The one line a command prints when the database its setting names cannot be opened. A missing
 * SQLite file (only `serve`, `run` and `migrate` create one) says how to create it; anything else
 * names the database (never a PostgreSQL password) and the reason.
 */
export function openFailureMessage(location: string, error: unknown): string {
  if (error instanceof MissingDatabaseError) return `no database at ${error.path}; run lunasentri-api migrate --db ${error.path} first`;
  const reason = createRedactor(databaseSecrets(location)).redact(errorMessage(error));
  return `cannot open database ${describeDatabase(location)}: ${reason}`;
}
