import type * as PostgresOpen from './postgres.open';
import type { DatabaseHandle, OpenOptions } from '../port';

export { describePostgresUrl, DatabaseUnreachableError } from './postgres.describe';
export { isPostgresUniqueViolation } from './postgres.errors';

/**
 * Opens a PostgreSQL database (see postgres.open.ts). The driver (`pg`, `pg-cursor`, some thirty
 * modules) is loaded on the first call: a process on SQLite never holds it in memory.
 */
export function openPostgres(url: string, options: OpenOptions = {}): DatabaseHandle {
  return (require('./postgres.open') as typeof PostgresOpen).openPostgres(url, options);
}
