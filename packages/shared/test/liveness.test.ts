import { describeEachEngine, testOn } from '../../../test/support/engines';
import { readIngestLiveness, recordBeat, recordStopped, registerInstance } from '@lunasentri/shared';
import { TestClock } from '../../../test/support/test-clock';
import { createTestDb, fillDisk, type TestDb } from '../../../test/support/db';

describeEachEngine('ingest liveness', (engine) => {
  let db: TestDb;
  let clock: TestClock;
  beforeEach(async () => {
    db = await createTestDb(engine);
    clock = new TestClock();
  });
  afterEach(() => db.dispose());

  test('with no API ever recorded, ingest counts as live and never-recorded', async () => {
    expect(await readIngestLiveness(db.db, clock.now())).toEqual({ everRecorded: false, live: true, resumedAt: null, beatAt: null, downSince: null });
  });

  test('a first API start is a resume; a second start while the first is live is not', async () => {
    const first = await registerInstance(db.db, 'api', clock);
    const started = clock.now().toISOString();
    clock.advance(1_000);
    await registerInstance(db.db, 'api', clock);
    const state = await readIngestLiveness(db.db, clock.now());
    expect(state).toEqual({ everRecorded: true, live: true, resumedAt: started, beatAt: clock.now().toISOString(), downSince: null });
    expect(first).toMatch(/^[0-9a-f-]{36}$/);
  });

  test('a graceful stop is seen at once; a missing beat after the stale window', async () => {
    const a = await registerInstance(db.db, 'api', clock);
    clock.advance(500);
    await recordStopped(db.db, a, clock);
    expect(await readIngestLiveness(db.db, clock.now())).toMatchObject({ live: false, downSince: clock.now().toISOString() });

    const b = await registerInstance(db.db, 'api', clock);
    clock.advance(5_000);
    expect((await readIngestLiveness(db.db, clock.now())).live).toBe(true); // exactly at the window: still live
    clock.advance(1);
    expect((await readIngestLiveness(db.db, clock.now())).live).toBe(false);
    // The stalled instance comes back: that is a resume at the time of its beat.
    clock.advance(10_000);
    await recordBeat(db.db, b, clock);
    expect(await readIngestLiveness(db.db, clock.now())).toMatchObject({ live: true, resumedAt: clock.now().toISOString() });
  });

  test("the latest beat is that of a live API instance: a stopped one's last stamp is not a beat", async () => {
    const a = await registerInstance(db.db, 'api', clock);
    const b = await registerInstance(db.db, 'api', clock);
    clock.advance(700);
    await recordBeat(db.db, a, clock);
    const beat = clock.now().toISOString();
    clock.advance(200);
    await recordStopped(db.db, b, clock);
    expect(await readIngestLiveness(db.db, clock.now())).toMatchObject({ live: true, beatAt: beat });
    await registerInstance(db.db, 'daemon', clock);
    expect((await readIngestLiveness(db.db, clock.now())).beatAt).toBe(beat);
  });

  test('daemon rows do not count as ingest', async () => {
    await registerInstance(db.db, 'daemon', clock);
    expect((await readIngestLiveness(db.db, clock.now())).everRecorded).toBe(false);
  });

  testOn('sqlite', engine)('an API liveness write on a full disk fails with the disk error, not with a failed rollback', async () => {
    fillDisk(db);
    // Pack service_liveness's pages until no row fits: the next instance needs a page the disk cannot give.
    const at = clock.now().toISOString();
    const filler = db.sqlite.prepare("INSERT INTO service_liveness (instance_id, kind, pid, hostname, started_at, heartbeat_at) VALUES (?, 'daemon', 1, ?, ?, ?)");
    let n = 0;
    for (const size of [2000, 500, 100, 20, 1]) {
      for (;;) {
        try {
          filler.run(`filler-${n++}`, 'h'.repeat(size), at, at);
        } catch {
          break;
        }
      }
    }
    await expect(registerInstance(db.db, 'api', clock)).rejects.toMatchObject({ code: 'SQLITE_FULL', message: 'database or disk is full' });
    expect((await readIngestLiveness(db.db, clock.now())).everRecorded).toBe(false);
  });

  test('an instance records its beat period and process identity, so another process can tell for certain that it is gone', async () => {
    const api = await registerInstance(db.db, 'api', clock);
    const daemon = await registerInstance(db.db, 'daemon', clock, { beatEveryMs: 30_000, identity: { bootId: 'b', pidNamespace: 'pid:[7]', started: '42' } });
    const row = (id: string) =>
      db.db.selectFrom('service_liveness').select(['pid', 'beat_every_ms', 'boot_id', 'pid_namespace', 'process_started']).where('instance_id', '=', id).executeTakeFirstOrThrow();
    expect(await row(daemon)).toEqual({ pid: process.pid, beat_every_ms: 30_000, boot_id: 'b', pid_namespace: 'pid:[7]', process_started: '42' });
    expect(await row(api)).toMatchObject({ pid: process.pid, beat_every_ms: 1_000 });
  });
});
