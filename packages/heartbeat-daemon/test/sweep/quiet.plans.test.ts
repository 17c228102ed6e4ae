import { sql, type Compilable } from 'kysely';
import { createTestDb, type TestDb } from '../../../../test/support/db';
import { describeEachEngine } from '../../../../test/support/engines';
import { earliestProtectingQuietEndQuery, offlineCandidates } from '../../src/sweep/machines.repository';
import { dueMachineIdsQuery, dueRemindersQuery, dueWindowsQuery } from '../../src/sweep/quiet.repository';

/*
 * The quiet rules keep the sweep index-driven (ARCHITECTURE "Why it is fast"): every query they add
 * to a check is a seek or range on an index of a due time, never a scan of the fleet. On PostgreSQL
 * sequential scans are priced out for the check, since an empty test table would otherwise be read
 * whole whatever the indexes.
 */
describeEachEngine('query plans of the quiet rules', (engine) => {
  let db: TestDb;
  beforeEach(async () => {
    db = await createTestDb(engine);
  });
  afterEach(() => db.dispose());

  const NOW = '2026-11-28T03:00:00.000Z';

  async function plan(query: Compilable): Promise<string> {
    const compiled = query.compile();
    if (engine === 'sqlite') {
      const rows = db.sqlite.prepare(`EXPLAIN QUERY PLAN ${compiled.sql}`).all(...(compiled.parameters as unknown[])) as Array<{ detail: string }>;
      return rows.map((r) => r.detail).join(' | ');
    }
    return db.db.transaction().execute(async (trx) => {
      await sql`SET LOCAL enable_seqscan = off`.execute(trx);
      const rows = await sql.raw<{ 'QUERY PLAN': string }>(`EXPLAIN ${compiled.sql.replace(/\$(\d+)/g, (_m, n: string) => literal(compiled.parameters[Number(n) - 1]))}`).execute(trx);
      return rows.rows.map((r) => r['QUERY PLAN']).join(' | ');
    });
  }
  const literal = (value: unknown) => (typeof value === 'number' ? String(value) : `'${String(value).replace(/'/g, "''")}'`);

  test.each([
    ['due machine reviews', 'idx_machines_quiet_due', () => dueMachineIdsQuery(db.db, NOW, 250)],
    ['due reminders', 'idx_offline_notifications_reminder', () => dueRemindersQuery(db.db, NOW, 250)],
    ['due window ends', 'idx_maintenance_windows_next_end', () => dueWindowsQuery(db.db, NOW, 250)],
    ['offline candidates (with the quiet end)', 'idx_machines_status_last_seen', () => offlineCandidates(db.db, NOW, 250)],
    ['the earliest protecting quiet end', 'idx_machines_status_last_seen', () => earliestProtectingQuietEndQuery(db.db, NOW)],
    ['the earliest machine due time', 'idx_machines_quiet_due', () => db.db.selectFrom('machines').select('quiet_due_at').where('quiet_due_at', 'is not', null).where(sql<boolean>`is_enabled = 1`).orderBy('quiet_due_at').limit(1)],
    ["an owner's windows", 'idx_maintenance_windows_user', () => db.db.selectFrom('maintenance_windows').selectAll().where('user_id', '=', 1).where('deleted_at', 'is', null)],
    ["an owner's machines (a window over all of them)", 'idx_machines_user', () => db.db.selectFrom('machines').select('id').where('user_id', '=', 1)],
  ] as const)('%s: read through %s', async (_name, index, query) => {
    const text = await plan(query());
    // PostgreSQL's choice among indexes on an empty table says nothing; that it uses one does.
    if (engine === 'sqlite') expect(text).toContain(index);
    else expect(text).toMatch(/Index (Only )?Scan/);
    expect(text).not.toMatch(/\bSCAN machines\b(?! USING)|Seq Scan/);
  });
});
