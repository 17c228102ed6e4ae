import pg from 'pg';
import Cursor from 'pg-cursor';
import { Kysely, PostgresDialect } from 'kysely';
import type { DatabaseHandle, OpenOptions } from '../port';
import type { Database } from '../schema';
import { postgresChangeFeed } from './postgres.change-feed';
import { DatabaseUnreachableError, describePostgresUrl } from './postgres.describe';
import { postgresIngestStore } from './postgres.ingest-store';
import { postgresMachineKeyLookup } from './postgres.key-lookup';

const INT8 = 20;
const TIMESTAMP = 1114;
const TIMESTAMPTZ = 1184;

/**
 * Values reach the code in the same shape as from SQLite: counts and bigints as numbers (pg returns
 * them as strings by default), and `TIMESTAMP`/`TIMESTAMPTZ` columns as ISO-8601 UTC text with
 * milliseconds (pg returns Dates). Every other column is stored as the same text or integer as on SQLite.
 */
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === INT8) return (value: string) => Number(value);
    if (oid === TIMESTAMP) return (value: string) => new Date(`${value.replace(' ', 'T')}Z`).toISOString();
    if (oid === TIMESTAMPTZ) return (value: string) => new Date(value).toISOString();
    return pg.types.getTypeParser(oid, format as 'text');
  },
} as pg.CustomTypesConfig;

/** Pool settings from the open options: a short busy timeout becomes PostgreSQL's lock_timeout. */
function poolConfig(url: string, options: OpenOptions): pg.PoolConfig {
  const lockTimeout = options.busyTimeoutMs === undefined ? '' : ` -c lock_timeout=${Math.trunc(options.busyTimeoutMs)}`;
  return { connectionString: url, types, max: 10, connectionTimeoutMillis: 10_000, allowExitOnIdle: true, options: `-c TimeZone=UTC${lockTimeout}` };
}

/** The text of a connection failure, with the password scrubbed in case a driver message ever carries it. */
function unreachable(url: string, error: unknown): DatabaseUnreachableError {
  const u = new URL(url);
  const password = decodeURIComponent(u.password);
  let reason = error instanceof Error ? error.message || (error as NodeJS.ErrnoException).code || error.name : String(error);
  if (password) reason = reason.split(password).join('[redacted]');
  const where = `PostgreSQL database "${u.pathname.slice(1) || '(default)'}" on ${u.hostname}:${u.port || '5432'}`;
  return new DatabaseUnreachableError(`cannot reach ${where}: ${reason}`);
}

/**
 * Opens a PostgreSQL database through a `pg` pool and Kysely's PostgreSQL dialect. Nothing is sent
 * until the first query; a connection that cannot be made fails that query with a
 * {@link DatabaseUnreachableError} naming host and database. Does not migrate.
 */
export function openPostgres(url: string, options: OpenOptions = {}): DatabaseHandle {
  const pool = new pg.Pool(poolConfig(url, options));
  // An idle client losing its connection (a restart of the server) must not crash the process: the
  // pool drops that client, and the next query opens a new connection or fails to its caller.
  pool.on('error', () => undefined);
  const connectingPool = {
    connect: () => pool.connect().catch((error: unknown) => Promise.reject(unreachable(url, error))),
    end: () => pool.end(),
  };
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: connectingPool, cursor: Cursor }) });
  let closed = false;
  return {
    engine: 'postgres',
    db,
    path: describePostgresUrl(url),
    reopen: (more) => openPostgres(url, { ...options, ...more }),
    changeFeed: () => postgresChangeFeed(url, types),
    ingestStore: () => postgresIngestStore(db),
    machineKeyLookup: () => postgresMachineKeyLookup(db),
    async close() {
      if (closed) return;
      closed = true;
      await db.destroy();
    },
  };
}
