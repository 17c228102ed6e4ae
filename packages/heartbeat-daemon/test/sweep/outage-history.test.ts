import { TestClock } from '../../../../test/support/test-clock';
import { createTestDb, type TestDb } from '../../../../test/support/db';
import { describeEachEngine } from '../../../../test/support/engines';
import { insertMachine, insertUser, insertWebhook } from '../../../../test/support/fixtures';
import { createHousekeeping } from '../../src/dispatch/housekeeping.usecases';
import { createSweeper } from '../../src/sweep/sweep.usecases';
import { testLogger } from '../helpers';

const THRESHOLD = 120_000;
const T0 = '2026-11-28T03:00:00.000Z';
const DAY = 24 * 3600_000;

describeEachEngine('the outage history the daemon keeps', (engine) => {
  let db: TestDb;
  let clock: TestClock;
  let log: ReturnType<typeof testLogger>;
  let userId: number;

  beforeEach(async () => {
    db = await createTestDb(engine);
    clock = new TestClock(T0);
    log = testLogger();
    userId = await insertUser(db.db);
  });
  afterEach(async () => {
    await db.dispose();
  });

  const sweep = () => createSweeper({ db: db.db, clock, logger: log.logger, thresholdMs: THRESHOLD }).run();
  const history = () =>
    db.db.selectFrom('outage_history').select(['machine_id', 'kind', 'started_at', 'ended_at']).orderBy('started_at').orderBy('machine_id').execute();
  const report = (id: number) => db.db.updateTable('machines').set({ last_seen: clock.now().toISOString() }).where('id', '=', id).execute();
  const housekeeping = () => createHousekeeping({ db: db.db, clock, logger: log.logger, instanceId: 'daemon-a', channels: ['webhook'] });

  test('going offline opens an outage at the moment of the change; coming back closes it; a first report records nothing', async () => {
    const id = await insertMachine(db.db, userId, { status: 'pending' });
    await report(id);
    await sweep();
    expect(await history()).toEqual([]);

    clock.advance(THRESHOLD + 1);
    await sweep();
    const wentOffline = clock.now().toISOString();
    expect(await history()).toEqual([{ machine_id: id, kind: 'outage', started_at: wentOffline, ended_at: null }]);

    clock.advance(60_000);
    await report(id);
    await sweep();
    expect(await history()).toEqual([{ machine_id: id, kind: 'outage', started_at: wentOffline, ended_at: clock.now().toISOString() }]);
  });

  test('a batch of machines going offline and back writes one interval each, and no other machine is touched', async () => {
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push(await insertMachine(db.db, userId, { name: `m${i}`, status: 'online', last_seen: T0, status_changed_at: T0 }));
    const steady = await insertMachine(db.db, userId, { name: 'steady', status: 'online', last_seen: T0, status_changed_at: T0 });
    clock.advance(THRESHOLD + 1);
    await report(steady);
    await sweep();
    expect((await history()).map((h) => h.machine_id)).toEqual(ids);
    clock.advance(1_000);
    for (const id of ids.slice(0, 2)) await report(id);
    await sweep();
    expect((await history()).map((h) => h.ended_at === null)).toEqual([false, false, true, true, true]);
  });

  test('is kept 400 days after an outage ended, whatever the event retention; an open outage is never pruned; pruning runs once an hour', async () => {
    await insertWebhook(db.db, userId, 'https://hooks.example.com/a');
    const done = await insertMachine(db.db, userId, { name: 'done', status: 'online', last_seen: T0, status_changed_at: T0 });
    const open = await insertMachine(db.db, userId, { name: 'open', status: 'online', last_seen: T0, status_changed_at: T0 });
    clock.advance(THRESHOLD + 1);
    await sweep();
    clock.advance(1_000);
    await report(done);
    await sweep();
    expect(await history()).toHaveLength(2);

    clock.advance(40 * DAY);
    await housekeeping().runOnce();
    expect(await db.db.selectFrom('events').select('id').execute()).toEqual([]); // events: gone after 30 days
    expect(await history()).toHaveLength(2);

    clock.advance(360 * DAY - 60_000); // 400 days less a minute (and a second) after the recovery
    await housekeeping().runOnce();
    expect(await history()).toHaveLength(2);
    clock.advance(2 * 60_000);
    await housekeeping().runOnce(); // within the hour: not looked at again
    expect(await history()).toHaveLength(2);
    clock.advance(3600_000);
    await housekeeping().runOnce();
    expect(await history()).toEqual([{ machine_id: open, kind: 'outage', started_at: expect.any(String), ended_at: null }]);
    expect(await log.messages()).toContain('Deleted 1 outage-history interval(s) that ended more than 400 days ago');
  });

  test('goes with its machine', async () => {
    const id = await insertMachine(db.db, userId, { status: 'online', last_seen: T0, status_changed_at: T0 });
    clock.advance(THRESHOLD + 1);
    await sweep();
    await db.db.deleteFrom('machines').where('id', '=', id).execute();
    expect(await history()).toEqual([]);
  });
});
