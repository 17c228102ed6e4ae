import { resolve } from 'node:path';
import { PostgresAdapter, sql, type Expression, type Kysely, type RawBuilder, type SelectQueryBuilder } from 'kysely';
import type { DatabaseEngine } from './port';

/** Which engine a Kysely instance talks to (migrations and the few engine-aware query helpers ask). */
export function engineOf(db: Kysely<any>): DatabaseEngine {
  return db.getExecutor().adapter instanceof PostgresAdapter ? 'postgres' : 'sqlite';
}

/** The PostgreSQL channel writers notify so listening daemons look at once (see the change feed). */
export const CHANGES_CHANNEL = 'lunasentri_changes';

/**
 * Tells the daemons' change feeds that this transaction wrote something worth a look (delivered at
 * commit). SQLite needs nothing: every commit appends to the write-ahead log, which the feed watches.
 */
export async function announceChange(db: Kysely<any>): Promise<void> {
  if (engineOf(db) !== 'postgres') return;
  await sql`SELECT pg_notify(${CHANGES_CHANNEL}, '')`.execute(db);
}

/** Whether a database setting names PostgreSQL (`postgres://…` or `postgresql://…`) rather than a SQLite path. */
export function isPostgresUrl(location: string): boolean {
  return /^postgres(ql)?:\/\//i.test(location.trim());
}

/**
 * Rows a claim or a transition is about to change, locked so that several daemons split the work:
 * on PostgreSQL `FOR UPDATE SKIP LOCKED` (another daemon's rows are passed over, not waited for); on
 * SQLite nothing, since its transactions take the whole database's write lock up front (`BEGIN
 * IMMEDIATE`), so no two claims or sweeps ever overlap. `of`: the table whose rows are locked when
 * the query joins others.
 */
export function lockedForClaim<DB, TB extends keyof DB, O>(db: Kysely<any>, query: SelectQueryBuilder<DB, TB, O>, of?: TB): SelectQueryBuilder<DB, TB, O> {
  if (engineOf(db) !== 'postgres') return query;
  return (of === undefined ? query.forUpdate() : query.forUpdate(of as never)).skipLocked();
}

/** The secrets a database setting carries (a PostgreSQL URL's password), for the process's redactor. */
export function databaseSecrets(location: string): string[] {
  if (!isPostgresUrl(location)) return [];
  try {
    const password = decodeURIComponent(new URL(location.trim()).password);
    return password ? [password, encodeURIComponent(password)] : [];
  } catch {
    return [];
  }
}

/**
 * The database setting as log lines and errors may show it: a SQLite file as its absolute path (so
 * `./data/lunasentri.db` says which folder it means), a PostgreSQL URL without its password.
 */
export function describeDatabase(location: string): string {
  if (!isPostgresUrl(location)) return location === ':memory:' ? location : resolve(location);
  try {
    const u = new URL(location.trim());
    u.password = '';
    u.search = '';
    return u.toString();
  } catch {
    return 'postgres://(unparsable URL)';
  }
}

/**
 * After a bulk write (a burst of thousands of transitions), brings the query planner's statistics up
 * to date at once. PostgreSQL plans from statistics, and until autovacuum's next round (up to a
 * minute) it believes the outbox is as small as it was: the claim's stream-order check then probes
 * the wrong index for every row (seconds per claim at 10,000 rows instead of milliseconds). SQLite
 * keeps no statistics for these plans: nothing to do there.
 */
export async function refreshPlannerStatistics(db: Kysely<any>): Promise<void> {
  if (engineOf(db) !== 'postgres') return;
  await sql`ANALYZE deliveries, events, machine_offline_notifications, machines`.execute(db);
}

/**
 * The texts of a group joined into one, in no particular order: SQLite's `group_concat`, PostgreSQL's
 * `string_agg`. A reader of many small rows per key (the dashboard's outage history) gets one row per
 * key instead, which costs far less to hand to JavaScript than thousands of row objects. No `ORDER
 * BY` inside: SQLite would sort each group in a temporary b-tree, doubling the cost, for readers that
 * sort anyway.
 */
export function joinedTexts(db: Kysely<any>, text: Expression<string>, separator: string): RawBuilder<string> {
  const fn = engineOf(db) === 'postgres' ? sql.raw('string_agg') : sql.raw('group_concat');
  return sql<string>`${fn}(${text}, ${sql.lit(separator)})`;
}
