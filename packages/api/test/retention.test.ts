import { createTestDb, type TestDb } from '../../../test/support/db';
import { describeEachEngine } from '../../../test/support/engines';
import { insertMachine, insertUser } from '../../../test/support/fixtures';
import { pruneMetrics } from '../src/ingest/metrics.retention';

describeEachEngine('metrics history retention', (engine) => {
  let db: TestDb;

  beforeEach(async () => {
    db = await createTestDb(engine);
  });

  afterEach(async () => {
    await db.dispose();
  });

  it('deletes only rows recorded before the cutoff, in chunks, and reports how many', async () => {
    const machine = await insertMachine(db.db, await insertUser(db.db));
    const rows = Array.from({ length: 12_001 }, (_, i) => ({
      machine_id: machine,
      recorded_at: new Date(Date.parse('2026-11-20T00:00:00.000Z') + i * 1_000).toISOString(),
      cpu_pct: 1,
      mem_used_pct: 1,
      disk_used_pct: 1,
      net_rx_bytes: 0,
      net_tx_bytes: 0,
      uptime_s: i,
    }));
    for (let i = 0; i < rows.length; i += 1_000) await db.db.insertInto('machine_metrics').values(rows.slice(i, i + 1_000)).execute();
    const cutoff = rows[11_000].recorded_at;
    expect(await pruneMetrics(db.db, cutoff)).toBe(11_000);
    const left = await db.db.selectFrom('machine_metrics').select('recorded_at').orderBy('recorded_at').execute();
    expect(left).toHaveLength(1_001);
    expect(left[0].recorded_at).toBe(cutoff);
    expect(await pruneMetrics(db.db, cutoff)).toBe(0);
  });
});
