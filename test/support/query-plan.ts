import { CompiledQuery, sql } from 'kysely';
import type { TestDb } from './db';

/**
 * The plan the engine picks for a query, as one line: SQLite's `EXPLAIN QUERY PLAN` details, or
 * PostgreSQL's `EXPLAIN` with sequential scans forbidden (a tiny table is cheapest to scan, which
 * would hide which index the planner takes).
 */
export async function queryPlan(db: TestDb, query: CompiledQuery): Promise<string> {
  if (db.engine === 'sqlite') {
    return (db.sqlite.prepare(`EXPLAIN QUERY PLAN ${query.sql}`).all(...(query.parameters as unknown[])) as Array<{ detail: string }>).map((p) => p.detail).join(' | ');
  }
  return db.db.connection().execute(async (connection) => {
    await sql`SET enable_seqscan = off`.execute(connection);
    try {
      const rows = await connection.executeQuery<{ 'QUERY PLAN': string }>(CompiledQuery.raw(`EXPLAIN ${query.sql}`, [...query.parameters]));
      return rows.rows.map((r) => r['QUERY PLAN'].trim()).join(' | ');
    } finally {
      await sql`RESET enable_seqscan`.execute(connection);
    }
  });
}

/** What a plan says when it reads `index` by an equality or range on its first column, on either engine. */
export function usesIndex(engine: TestDb['engine'], index: string): RegExp {
  return engine === 'sqlite' ? new RegExp(`USING (COVERING )?INDEX ${index} \\(\\w+[=<>]`) : new RegExp(`(Index (Only )?Scan using|Bitmap Index Scan on) ${index}\\b`);
}
