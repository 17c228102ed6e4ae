import { Migrator, type MigrationResult, type Kysely } from 'kysely';
import { migrations } from './migrations';
import type { Database } from './schema';
import { isSqliteBusy } from './sqlite';

export class MigrationError extends Error {
  override name = 'MigrationError';
}

function newMigrator(db: Kysely<Database>): Migrator {
  return new Migrator({ db, provider: { getMigrations: async () => migrations } });
}

export interface MigrateOptions {
  /** How many times to start over when another process holds the write lock. Default 50. */
  attempts?: number;
}

/**
 * Applies every pending migration. Safe when several processes start on the same new file at once:
 * a transaction that loses the race to another writer (SQLITE_BUSY, even past the busy timeout for a
 * read-to-write upgrade in WAL mode) is rolled back and retried; the winner's migrations are then seen
 * as applied. Returns the names applied by this call.
 */
export async function migrateToLatest(db: Kysely<Database>, options: MigrateOptions = {}): Promise<string[]> {
  const attempts = options.attempts ?? 50;
  for (let attempt = 1; ; attempt++) {
    const { error, results } = await newMigrator(db).migrateToLatest();
    if (!error) return appliedNames(results);
    if (!isSqliteBusy(error) || attempt >= attempts) {
      throw new MigrationError(`migration failed: ${error instanceof Error ? error.message : String(error)}`);
    }
    await new Promise((r) => setTimeout(r, 20 + Math.random() * 80));
  }
}

/** Migrates up or down to exactly `name` (tests and rollbacks). */
export async function migrateTo(db: Kysely<Database>, name: string): Promise<string[]> {
  const { error, results } = await newMigrator(db).migrateTo(name);
  if (error) throw new MigrationError(`migration to ${name} failed: ${error instanceof Error ? error.message : String(error)}`);
  return appliedNames(results);
}

/** Names of applied migrations, oldest first. */
export async function appliedMigrations(db: Kysely<Database>): Promise<string[]> {
  const all = await newMigrator(db).getMigrations();
  return all.filter((m) => m.executedAt !== undefined).map((m) => m.name);
}

function appliedNames(results: MigrationResult[] | undefined): string[] {
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/**
 * Migrations this code has that the database has not applied yet, oldest first. Only reads: a command
 * that must not migrate (`lunasentri-heartbeat status`) asks it before reading columns a newer
 * migration adds. A file without tables has them all pending.
 */
export async function pendingMigrations(db: Kysely<Database>): Promise<string[]> {
  const all = await newMigrator(db).getMigrations();
  return all.filter((m) => m.executedAt === undefined).map((m) => m.name);
}
