import { sql } from 'kysely';
import { recordBeat, recordStopped, registerInstance, type DatabaseHandle } from '@lunasentri/shared';
import { TestClock } from '../../../../test/support/test-clock';
import { createTestDb, type TestDb } from '../../../../test/support/db';
import { describeEachEngine, testOn } from '../../../../test/support/engines';
import { insertMachine, insertTelegramRecipient, insertUser, insertWebhook, setPreferences } from '../../../../test/support/fixtures';
import { INGEST_DOWN_START_GRACE_MS, type IngestState } from '../../src/sweep/heartbeat.models';
import {
  earliestFreshLastSeenQuery,
  earliestProtectingEnableQuery,
  findMachine,
  offlineCandidates,
  pendingWithFreshReport,
  recoveryCandidates,
} from '../../src/sweep/machines.repository';
import { createSweeper } from '../../src/sweep/sweep.usecases';
import { outageAudiences } from '../../src/sweep/recipients.repository';
import { applyTransitions } from '../../src/sweep/transitions.usecases';
import { queryPlan, recordingKysely, secondConnection, testLogger } from '../helpers';

const THRESHOLD = 120_000;
const T0 = '2026-11-28T03:00:00.000Z';
const UP: IngestState = { down: false, resumedAt: null, beatAt: null };

describeEachEngine('the sweep on a real database', (engine) => {
  let db: TestDb;
  let clock: TestClock;
  let log: ReturnType<typeof testLogger>;
  let userId: number;
  const others: DatabaseHandle[] = [];

  beforeEach(async () => {
    db = await createTestDb(engine);
    clock = new TestClock(T0);
    log = testLogger();
    userId = await insertUser(db.db);
  });
  afterEach(async () => {
    for (const other of others.splice(0)) await other.close();
    await db.dispose();
  });

  const sweeper = (handle: DatabaseHandle = db, batchSize?: number) =>
    createSweeper({ db: handle.db, clock, logger: log.logger, thresholdMs: THRESHOLD, batchSize });
  const events = () => db.db.selectFrom('events').selectAll().orderBy('occurred_at').orderBy('id').execute();
  const deliveries = () => db.db.selectFrom('deliveries').selectAll().orderBy('id').execute();
  const machine = (id: number) => db.db.selectFrom('machines').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  const dedup = () => db.db.selectFrom('machine_offline_notifications').select(['machine_id', 'notified_at']).execute();
  const report = (handle: DatabaseHandle, id: number) =>
    handle.db.updateTable('machines').set({ last_seen: clock.now().toISOString() }).where('id', '=', id).execute();
  const other = async () => {
    const handle = await secondConnection(db.path);
    others.push(handle);
    return handle;
  };

  test('sends one offline notification per outage, even across daemon restarts', async () => {
    const hook = await insertWebhook(db.db, userId, 'https://hooks.example.com/a');
    const id = await insertMachine(db.db, userId, { status: 'online', last_seen: T0, status_changed_at: T0 });

    clock.advance(THRESHOLD);
    expect((await sweeper().run()).transitions).toEqual([]); // exactly at the threshold: still online
    clock.advance(1);
    const first = await sweeper().run();
    expect(first.transitions).toEqual([{ machineId: id, kind: 'went-offline', eventId: expect.any(String), deliveries: 1 }]);

    // Restarts: fresh sweeper instances on fresh connections to the same file, later and later.
    for (let i = 0; i < 3; i++) {
      clock.advance(60_000);
      expect((await sweeper(await other()).run()).transitions).toEqual([]);
    }
    const all = await events();
    expect(all.map((e) => e.type)).toEqual(['machine.offline']);
    expect(await deliveries()).toMatchObject([{ event_id: all[0].id, channel: 'webhook', target_id: hook, status: 'pending', attempts: 0 }]);
    expect(await dedup()).toEqual([{ machine_id: id, notified_at: '2026-11-28T03:02:00.001Z' }]);
    expect(await machine(id)).toMatchObject({ status: 'offline', status_changed_at: '2026-11-28T03:02:00.001Z' });
    expect(JSON.parse(all[0].payload)).toEqual({
      event: 'machine.offline',
      event_id: all[0].id,
      occurred_at: '2026-11-28T03:02:00.001Z',
      machine: { id, name: 'production-server', hostname: 'prod-01.example.com', description: 'Main API server', status: 'offline', last_seen: T0 },
    });
  });

  test('logs the offline line with the silence rounded to whole seconds, the Go way', async () => {
    await insertMachine(db.db, userId, { status: 'online', last_seen: T0 });
    clock.advance(135_400);
    await sweeper().run();
    expect(await log.messages()).toContain('Machine 1 (production-server) went offline (last seen: 2m15s ago)');
  });

  test('the dedup row holds even when the status was reset by hand: no second offline event for one outage', async () => {
    const id = await insertMachine(db.db, userId, { status: 'online', last_seen: T0 });
    clock.advance(THRESHOLD + 1);
    await sweeper().run();
    await db.db.updateTable('machines').set({ status: 'online' }).where('id', '=', id).execute();
    clock.advance(1_000);
    const again = await sweeper().run();
    expect(again.transitions).toEqual([{ machineId: id, kind: 'went-offline', eventId: null, deliveries: 0 }]);
    expect((await events()).length).toBe(1);
  });

  test('recovery deletes the dedup row and sends machine.online with the downtime', async () => {
    await insertWebhook(db.db, userId, 'https://hooks.example.com/a');
    const id = await insertMachine(db.db, userId, { status: 'online', last_seen: T0 });
    clock.advance(THRESHOLD + 1);
    await sweeper().run();
    const wentOffline = clock.now().toISOString();

    clock.advance(300_000);
    await report(await other(), id); // ingest, on its own connection
    clock.advance(500);
    const result = await sweeper().run();
    expect(result.transitions).toEqual([{ machineId: id, kind: 'came-online', eventId: expect.any(String), deliveries: 1 }]);
    expect(await dedup()).toEqual([]);
    expect(await machine(id)).toMatchObject({ status: 'online', status_changed_at: clock.now().toISOString() });
    const online = (await events())[1];
    expect(online.type).toBe('machine.online');
    expect(JSON.parse(online.payload)).toMatchObject({
      event: 'machine.online',
      event_id: online.id,
      machine: { id, status: 'online', last_seen: '2026-11-28T03:07:00.001Z' },
      offline_since: wentOffline,
      downtime_seconds: 300,
    });
    expect(await log.messages()).toContain('Machine 1 (production-server) came back online');
    // The deliveries of one machine and target come in event order.
    expect((await deliveries()).map((d) => d.event_id)).toEqual((await events()).map((e) => e.id));
  });

  test('a recovery goes only to the channels told of the outage: never a lone machine.online to a channel added meanwhile', async () => {
    const delivered = await insertWebhook(db.db, userId, 'https://hooks.example.com/delivered');
    const stillPending = await insertWebhook(db.db, userId, 'https://hooks.example.com/pending');
    const refused = await insertWebhook(db.db, userId, 'https://hooks.example.com/refused');
    const switchedOff = await insertWebhook(db.db, userId, 'https://hooks.example.com/off');
    const chat = await insertTelegramRecipient(db.db, userId, 4242);
    const id = await insertMachine(db.db, userId, { status: 'online', last_seen: T0 });
    clock.advance(THRESHOLD + 1);
    await sweeper().run();
    const [offline] = await events();
    // What became of the offline notification: delivered, still to be sent, refused for good (400), dead.
    const mark = (channel: 'webhook' | 'telegram', target: number, status: 'delivered' | 'failed' | 'dead') =>
      db.db.updateTable('deliveries').set({ status }).where('event_id', '=', offline.id).where('channel', '=', channel).where('target_id', '=', target).execute();
    await mark('webhook', delivered, 'delivered');
    await mark('webhook', refused, 'failed');
    await mark('webhook', switchedOff, 'delivered');
    await mark('telegram', chat, 'dead');
    await db.db.updateTable('webhooks').set({ is_active: 0 }).where('id', '=', switchedOff).execute();
    // Channels added during the outage.
    await insertWebhook(db.db, userId, 'https://hooks.example.com/added');
    await insertTelegramRecipient(db.db, userId, 4343);

    clock.advance(60_000);
    await report(db, id);
    expect((await sweeper().run()).transitions).toMatchObject([{ kind: 'came-online', deliveries: 2 }]);
    const online = (await events())[1];
    const recovery = (await deliveries()).filter((d) => d.event_id === online.id);
    expect(recovery.map((d) => [d.channel, d.target_id])).toEqual([
      ['webhook', delivered],
      ['webhook', stillPending], // its offline notification goes first: each stream stays in order
    ]);

    // The next outage is announced to every active channel, and so is its recovery.
    clock.advance(THRESHOLD + 1);
    expect((await sweeper().run()).transitions).toMatchObject([{ kind: 'went-offline', deliveries: 6 }]);
    clock.advance(1_000);
    await report(db, id);
    expect((await sweeper().run()).transitions).toMatchObject([{ kind: 'came-online', deliveries: 6 }]);
  });

  test('an outage whose offline event is no longer stored (retention) ends with a recovery to the current channels', async () => {
    const hook = await insertWebhook(db.db, userId, 'https://hooks.example.com/a');
    const id = await insertMachine(db.db, userId, { status: 'online', last_seen: T0 });
    clock.advance(THRESHOLD + 1);
    await sweeper().run();
    await db.db.deleteFrom('events').execute(); // its deliveries go with it
    const chat = await insertTelegramRecipient(db.db, userId, 4242);
    clock.advance(31 * 24 * 3600_000);
    await report(db, id);
    expect((await sweeper().run()).transitions).toMatchObject([{ kind: 'came-online', deliveries: 2 }]);
    expect((await deliveries()).map((d) => [d.channel, d.target_id])).toEqual([
      ['webhook', hook],
      ['telegram', chat],
    ]);
  });

  test('an outage announced to no channel ends with no recovery notification', async () => {
    const id = await insertMachine(db.db, userId, { status: 'online', last_seen: T0 });
    clock.advance(THRESHOLD + 1);
    expect((await sweeper().run()).transitions).toMatchObject([{ kind: 'went-offline', deliveries: 0 }]);
    await insertWebhook(db.db, userId, 'https://hooks.example.com/late');
    clock.advance(5_000);
    await report(db, id);
    expect((await sweeper().run()).transitions).toMatchObject([{ kind: 'came-online', deliveries: 0 }]);
    expect(await deliveries()).toEqual([]);
  });

  testOn('sqlite', engine)("finding who was told of a batch's outages is one statement on the events and deliveries indexes", async () => {
    const recording = recordingKysely(db.sqlite);
    const outages = new Map([
      [1, T0],
      [2, T0],
    ]);
    await recording.db.transaction().execute((trx) => outageAudiences(trx, outages));
    const reads = recording.statements.filter((st) => /from "events"/i.test(st.sql));
    expect(reads).toHaveLength(1);
    const plan = queryPlan(db.sqlite, reads[0]!);
    expect(plan).toContain('idx_events_machine_time');
    expect(plan).not.toMatch(/SCAN (e|d)\b/);
  });

  test("a pending machine whose only report is already stale stays pending, with no alert, until it reports fresh", async () => {
    await insertWebhook(db.db, userId, 'https://hooks.example.com/a');
    const id = await insertMachine(db.db, userId, { status: 'pending' });
    await report(db, id); // the daemon was down meanwhile: by the next check this report is stale
    clock.advance(THRESHOLD + 1);
    expect((await sweeper().run()).transitions).toEqual([]);
    expect(await machine(id)).toMatchObject({ status: 'pending' });
    expect(await events()).toEqual([]);
    expect(await deliveries()).toEqual([]);
    clock.advance(THRESHOLD * 3);
    expect((await sweeper().run()).transitions).toEqual([]); // still never seen online: still no alert
    await report(db, id);
    clock.advance(THRESHOLD); // exactly at the threshold the report is still fresh
    expect((await sweeper().run()).transitions).toEqual([{ machineId: id, kind: 'first-report', eventId: null, deliveries: 0 }]);
    expect(await machine(id)).toMatchObject({ status: 'online' });
    expect(await events()).toEqual([]);
  });

  test("a new machine's first report makes it online and sends nothing", async () => {
    await insertWebhook(db.db, userId, 'https://hooks.example.com/a');
    const id = await insertMachine(db.db, userId, { status: 'pending' });
    clock.advance(THRESHOLD * 5);
    expect((await sweeper().run()).transitions).toEqual([]); // never reported: pending forever, no alert
    await report(db, id);
    clock.advance(100);
    expect((await sweeper().run()).transitions).toEqual([{ machineId: id, kind: 'first-report', eventId: null, deliveries: 0 }]);
    expect(await machine(id)).toMatchObject({ status: 'online' });
    expect(await events()).toEqual([]);
    expect((await log.messages()).filter((m) => !m.includes('first time'))).toEqual([]);
  });

  test('disabling and re-enabling send nothing; a re-enabled machine gets a full threshold', async () => {
    await insertWebhook(db.db, userId, 'https://hooks.example.com/a');
    const id = await insertMachine(db.db, userId, { status: 'online', last_seen: T0 });
    await db.db.updateTable('machines').set({ is_enabled: 0 }).where('id', '=', id).execute();
    clock.advance(THRESHOLD * 10);
    expect((await sweeper().run()).transitions).toEqual([]);

    await db.db.updateTable('machines').set({ is_enabled: 1, enabled_at: clock.now().toISOString() }).where('id', '=', id).execute();
    clock.advance(THRESHOLD);
    expect((await sweeper().run()).transitions).toEqual([]);
    expect(await events()).toEqual([]);
    clock.advance(1);
    expect((await sweeper().run()).transitions.map((t) => t.kind)).toEqual(['went-offline']);

    // Disabled while offline, then re-enabled: no recovery without a report.
    await db.db.updateTable('machines').set({ is_enabled: 0 }).where('id', '=', id).execute();
    clock.advance(60_000);
    await db.db.updateTable('machines').set({ is_enabled: 1, enabled_at: clock.now().toISOString() }).where('id', '=', id).execute();
    clock.advance(1_000);
    expect((await sweeper().run()).transitions).toEqual([]);
    expect((await events()).map((e) => e.type)).toEqual(['machine.offline']);
  });

  test('an API liveness gap pauses offline events, warns once, and gives a full threshold after it', async () => {
    const id = await insertMachine(db.db, userId, { status: 'online', last_seen: T0 });
    const quiet = await insertMachine(db.db, userId, { name: 'quiet', status: 'online', last_seen: T0 });
    const api = await registerInstance(db.db, 'api', clock);
    const s = sweeper();
    clock.advance(1_000);
    await recordBeat(db.db, api, clock); // the API beats once more, then hangs
    await report(db, id);
    await report(db, quiet);

    clock.advance(THRESHOLD * 3);
    expect((await s.run()).transitions).toEqual([]);
    clock.advance(60_000);
    expect((await s.run()).transitions).toEqual([]);
    const warnings = (await log.messages()).filter((m) => m.startsWith('Ingest is down'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('since 2026-11-28T03:00:01.000Z');

    // Ingest comes back: a fresh API instance records the resume.
    const newApi = await registerInstance(db.db, 'api', clock);
    const resumedAt = clock.now().getTime();
    // A live API beats about once a second; `id` reports 30 s after the resume, `quiet` never does.
    while (clock.now().getTime() < resumedAt + THRESHOLD) {
      clock.advance(1_000);
      await recordBeat(db.db, newApi, clock);
      if (clock.now().getTime() === resumedAt + 30_000) await report(db, id);
    }
    expect((await s.run()).transitions).toEqual([]);
    expect(await log.messages()).toContain('Ingest is back: machines get a full threshold (2m0s) to report before they can go offline');
    clock.set(resumedAt + THRESHOLD + 1);
    await recordBeat(db.db, newApi, clock);
    const result = await s.run();
    expect(result.transitions.map((t) => [t.machineId, t.kind])).toEqual([[quiet, 'went-offline']]);
    expect((await events()).map((e) => [e.machine_id, e.type])).toEqual([[quiet, 'machine.offline']]);
  });

  test('with an API recording liveness, a silent machine goes offline once a beat after its crossing shows ingest was live, not before', async () => {
    const id = await insertMachine(db.db, userId, { status: 'online', last_seen: T0 });
    const api = await registerInstance(db.db, 'api', clock);
    const s = sweeper();
    // The API beats once a second until just before the machine's crossing, then it is killed.
    while (clock.now().getTime() < Date.parse(T0) + THRESHOLD - 1_000) {
      clock.advance(1_000);
      await recordBeat(db.db, api, clock);
    }
    clock.advance(1_500); // past the threshold by our clock, the API not stale yet
    const waiting = await s.run();
    expect(waiting.transitions).toEqual([]);
    expect(waiting.ingest.down).toBe(false);
    expect(waiting.nextCheckAt.getTime()).toBe(clock.now().getTime() + 1_000); // about one beat later
    expect(await machine(id)).toMatchObject({ status: 'online' });

    await recordBeat(db.db, api, clock); // ingest was live after the crossing: the silence is real
    expect((await s.run()).transitions).toMatchObject([{ machineId: id, kind: 'went-offline' }]);
  });

  test('a graceful API stop pauses offline events at once, without waiting for its beats to go stale', async () => {
    await insertMachine(db.db, userId, { status: 'online', last_seen: T0 });
    const s = sweeper();
    const api = await registerInstance(db.db, 'api', clock);
    clock.advance(THRESHOLD + 1);
    await recordBeat(db.db, api, clock);
    await recordStopped(db.db, api, clock);
    expect((await s.run()).transitions).toEqual([]);
    expect((await log.messages()).filter((m) => m.startsWith('Ingest is down'))).toHaveLength(1);
  });

  test('a daemon starting before the API neither warns nor alerts; an API that does not come is warned of when the grace ends', async () => {
    const id = await insertMachine(db.db, userId, { status: 'online', last_seen: T0 });
    // Yesterday's run: the API stopped gracefully, long past every machine's threshold.
    const old = await registerInstance(db.db, 'api', clock);
    await recordStopped(db.db, old, clock);
    clock.advance(THRESHOLD * 10);

    // Both start again; the daemon is first.
    const s = sweeper();
    const first = await s.run();
    expect(first.transitions).toEqual([]);
    expect(first.nextCheckAt.getTime()).toBe(clock.now().getTime() + INGEST_DOWN_START_GRACE_MS);
    clock.advance(1_000);
    const api = await registerInstance(db.db, 'api', clock); // ingest resumes: every machine gets a full threshold
    expect((await s.run()).transitions).toEqual([]);
    clock.advance(INGEST_DOWN_START_GRACE_MS);
    await recordBeat(db.db, api, clock);
    expect((await s.run()).transitions).toEqual([]);
    expect((await log.messages()).filter((m) => m.startsWith('Ingest'))).toEqual([]);
    expect((await machine(id)).status).toBe('online');

    // Later the API really goes away: warned at once, and still no alert.
    await recordStopped(db.db, api, clock);
    clock.advance(THRESHOLD + 1);
    expect((await s.run()).transitions).toEqual([]);
    expect((await log.messages()).filter((m) => m.startsWith('Ingest is down'))).toHaveLength(1);

    // A daemon that starts while the API stays away warns once its grace is over.
    const late = createSweeper({ db: db.db, clock, logger: log.logger, thresholdMs: THRESHOLD });
    await late.run();
    expect((await log.messages()).filter((m) => m.startsWith('Ingest is down'))).toHaveLength(1);
    clock.advance(INGEST_DOWN_START_GRACE_MS);
    await late.run();
    expect((await log.messages()).filter((m) => m.startsWith('Ingest is down'))).toHaveLength(2);
  });

  test('two daemons on one file: the second to commit finds the status changed and writes nothing', async () => {
    await insertWebhook(db.db, userId, 'https://hooks.example.com/a');
    const id = await insertMachine(db.db, userId, { status: 'online', last_seen: T0 });
    clock.advance(THRESHOLD + 1);
    const ctx = { now: clock.now(), thresholdMs: THRESHOLD, ingest: UP };
    const seenByA = (await findMachine(db.db, id))!; // daemon A has read its candidate…

    const b = await other();
    const byB = await createSweeper({ db: b.db, clock, logger: log.logger, thresholdMs: THRESHOLD }).run(); // …daemon B commits first
    expect(byB.transitions).toHaveLength(1);

    expect(await applyTransitions({ db: db.db, logger: log.logger }, [seenByA], 'went-offline', ctx)).toEqual([]);
    expect(await events()).toHaveLength(1);
    expect(await deliveries()).toHaveLength(1);

    // Same for the recovery.
    clock.advance(10_000);
    await report(b, id);
    const offlineSeenByA = (await findMachine(db.db, id))!;
    await createSweeper({ db: b.db, clock, logger: log.logger, thresholdMs: THRESHOLD }).run();
    expect(await applyTransitions({ db: db.db, logger: log.logger }, [offlineSeenByA], 'came-online', { ...ctx, now: clock.now() })).toEqual([]);
    expect((await events()).map((e) => e.type)).toEqual(['machine.offline', 'machine.online']);
  });

  test('a daemon racing ingest never turns a fresh report into an offline event', async () => {
    const id = await insertMachine(db.db, userId, { status: 'online', last_seen: T0 });
    clock.advance(THRESHOLD + 1);
    const stale = (await findMachine(db.db, id))!;
    await report(await other(), id); // the heartbeat lands between our read and our write
    const ctx = { now: clock.now(), thresholdMs: THRESHOLD, ingest: UP };
    expect(await applyTransitions({ db: db.db, logger: log.logger }, [stale], 'went-offline', ctx)).toEqual([]);
    expect(await machine(id)).toMatchObject({ status: 'online' });
    expect(await events()).toEqual([]);
  });

  test("recipients are the owner's active channels, filtered by the owner's preferences", async () => {
    const hookA = await insertWebhook(db.db, userId, 'https://hooks.example.com/a');
    await insertWebhook(db.db, userId, 'https://hooks.example.com/inactive', 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 0);
    const chat = await insertTelegramRecipient(db.db, userId, 4242);
    await insertTelegramRecipient(db.db, userId, 4343, 0);
    const stranger = await insertUser(db.db, 'stranger@example.com');
    await insertWebhook(db.db, stranger, 'https://hooks.example.com/stranger');
    await setPreferences(db.db, userId, 0, 1); // offline off, online on
    const id = await insertMachine(db.db, userId, { status: 'online', last_seen: T0 });

    clock.advance(THRESHOLD + 1);
    expect((await sweeper().run()).transitions).toMatchObject([{ kind: 'went-offline', deliveries: 0 }]);
    clock.advance(5_000);
    await report(db, id);
    expect((await sweeper().run()).transitions).toMatchObject([{ kind: 'came-online', deliveries: 2 }]);
    expect((await deliveries()).map((d) => [d.channel, d.target_id])).toEqual([
      ['webhook', hookA],
      ['telegram', chat],
    ]);
    // The offline event exists (and is visible) although nobody wanted it delivered.
    expect((await events()).map((e) => e.type)).toEqual(['machine.offline', 'machine.online']);
  });

  test('handles more transitions than one batch of candidates', async () => {
    for (let i = 0; i < 7; i++) await insertMachine(db.db, userId, { name: `m${i}`, status: 'online', last_seen: T0 });
    clock.advance(THRESHOLD + 1);
    const result = await sweeper(db, 2).run();
    expect(result.transitions).toHaveLength(7);
    expect(await dedup()).toHaveLength(7);
  });

  /** `count` online machines, reporting 1 s apart (so candidates come in id order), silent since. */
  async function staleFleet(count: number, owners: number[] = [userId]): Promise<number[]> {
    const ids: number[] = [];
    for (let i = 0; i < count; i++) {
      const lastSeen = new Date(Date.parse(T0) + i * 1_000).toISOString();
      ids.push(await insertMachine(db.db, owners[i % owners.length]!, { name: `m${i}`, status: 'online', last_seen: lastSeen }));
    }
    clock.set(Date.parse(T0) + count * 1_000 + THRESHOLD);
    return ids;
  }

  testOn('sqlite', engine)('a batch that fails midway leaves no half transition: earlier batches stay whole, the failed one is not written at all', async () => {
    await insertWebhook(db.db, userId, 'https://hooks.example.com/a');
    const ids = await staleFleet(7);
    // The event of the 5th machine (second batch of 3) cannot be written.
    db.sqlite.exec(`CREATE TRIGGER fail_event BEFORE INSERT ON events WHEN NEW.machine_id = ${ids[4]} BEGIN SELECT RAISE(ABORT, 'disk trouble'); END`);

    // Matched by code: toThrow misreads better-sqlite3's errors across Jest module registries (see database.test.ts).
    await expect(sweeper(db, 3).run()).rejects.toMatchObject({ code: 'SQLITE_CONSTRAINT_TRIGGER', message: 'disk trouble' });
    const statuses = await db.db.selectFrom('machines').select(['id', 'status']).orderBy('id').execute();
    expect(statuses.map((m) => m.status)).toEqual(['offline', 'offline', 'offline', 'online', 'online', 'online', 'online']);
    const first = ids.slice(0, 3);
    expect((await dedup()).map((d) => d.machine_id).sort((a, b) => a - b)).toEqual(first);
    expect((await events()).map((e) => e.machine_id).sort((a, b) => a - b)).toEqual(first);
    expect((await deliveries()).map((d) => d.machine_id).sort((a, b) => a - b)).toEqual(first);
    // Only committed transitions were logged.
    expect((await log.messages()).filter((m) => m.includes('went offline'))).toHaveLength(3);

    // Once the database accepts the write again, the next check finishes the job: one event each.
    db.sqlite.exec('DROP TRIGGER fail_event');
    expect((await sweeper(db, 3).run()).transitions).toHaveLength(4);
    expect((await events()).map((e) => e.machine_id).sort((a, b) => a - b)).toEqual(ids);
    expect((await deliveries()).map((d) => d.machine_id).sort((a, b) => a - b)).toEqual(ids);
  });

  test('within a batch, rows that ingest or another daemon changed since they were read are left out; the rest commit', async () => {
    const ids = await staleFleet(4);
    const ctx = { now: clock.now(), thresholdMs: THRESHOLD, ingest: UP };
    const candidates = await offlineCandidates(db.db, new Date(clock.now().getTime() - THRESHOLD).toISOString(), 10).execute();
    const b = await other();
    await report(b, ids[1]!); // a heartbeat lands after our read
    await b.db.updateTable('machines').set({ status: 'offline' }).where('id', '=', ids[2]!).execute(); // another daemon got there first
    const applied = await applyTransitions({ db: db.db, logger: log.logger }, candidates, 'went-offline', ctx);
    expect(applied.map((t) => t.machineId)).toEqual([ids[0], ids[3]]);
    expect((await events()).map((e) => e.machine_id).sort((a, b) => a - b)).toEqual([ids[0], ids[3]]);
    expect(await machine(ids[1]!)).toMatchObject({ status: 'online' });
  });

  testOn('sqlite', engine)('a long sweep commits batch by batch, lets other work run in between, and says when deliveries are written', async () => {
    await insertWebhook(db.db, userId, 'https://hooks.example.com/a');
    await staleFleet(6);
    const b = await other();
    const seenBetweenBatches: number[] = [];
    const committed: number[] = [];
    const count = async (handle: DatabaseHandle) => Number((await handle.db.selectFrom('deliveries').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
    // Queued before the sweep starts: runs at the sweep's first yield.
    setImmediate(() => void count(b).then((n) => seenBetweenBatches.push(n)));
    const s = createSweeper({ db: db.db, clock, logger: log.logger, thresholdMs: THRESHOLD, batchSize: 2, onDeliveries: () => committed.push(0) });
    const result = await s.run();
    expect(result.transitions).toHaveLength(6);
    expect(seenBetweenBatches).toEqual([2]); // another connection saw the first batch while the sweep went on
    expect(committed).toHaveLength(3);
  });

  test('a batch costs the same few statements whatever its size (no query per machine or per owner)', async () => {
    const second = await insertUser(db.db, 'second@example.com');
    await insertWebhook(db.db, userId, 'https://hooks.example.com/a');
    await insertWebhook(db.db, second, 'https://hooks.example.com/b');
    let statements = 0;
    const counting = db.db.withPlugin({
      transformQuery: (args) => {
        statements++;
        return args.node;
      },
      transformResult: async (args) => args.result,
    });
    const sweepAll = () => createSweeper({ db: counting, clock, logger: log.logger, thresholdMs: THRESHOLD, batchSize: 100 }).run();

    await staleFleet(4, [userId, second]);
    statements = 0;
    expect((await sweepAll()).deliveries).toBe(4);
    const small = statements;

    await db.db.deleteFrom('machines').execute();
    await staleFleet(60, [userId, second]);
    statements = 0;
    expect((await sweepAll()).deliveries).toBe(60);
    expect(statements).toBe(small);
  });

  testOn('sqlite', engine)('the writes of a sweep find their rows by key, never by walking every machine of a status', async () => {
    await insertWebhook(db.db, userId, 'https://hooks.example.com/a');
    await staleFleet(5);
    const recording = recordingKysely(db.sqlite);
    const result = await createSweeper({ db: recording.db, clock, logger: log.logger, thresholdMs: THRESHOLD }).run();
    expect(result.transitions).toHaveLength(5);
    const writes = recording.statements.filter((s) => /^(update|delete)/i.test(s.sql));
    expect(writes.length).toBeGreaterThan(0);
    for (const write of writes) {
      const plan = queryPlan(db.sqlite, write);
      expect({ sql: write.sql, plan }).toEqual({ sql: write.sql, plan: expect.stringMatching(/PRIMARY KEY|sqlite_autoindex/) });
      expect({ sql: write.sql, plan }).toEqual({ sql: write.sql, plan: expect.not.stringMatching(/idx_machines_status_last_seen|SCAN/) });
    }
  });

  testOn('sqlite', engine)('disabled machines left online cost the check nothing: the candidate queries visit enabled rows only', async () => {
    const stale = new Date(Date.parse(T0) - 3600_000).toISOString();
    // 2,000 disabled machines still marked online, stale for an hour, and 3 enabled stale ones.
    db.sqlite
      .prepare(
        `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
         INSERT INTO machines (user_id, name, status, last_seen, is_enabled, created_at, updated_at)
         SELECT ?, 'off' || i, 'online', ?, 0, ?, ? FROM n`,
      )
      .run(userId, stale, T0, T0);
    for (let i = 0; i < 3; i++) await insertMachine(db.db, userId, { name: `on${i}`, status: 'online', last_seen: stale });
    // A function the query calls once per row its index range yields: the rows examined.
    let visited = 0;
    db.sqlite.function('visited', { deterministic: false }, () => {
      visited++;
      return 1;
    });
    const cutoff = new Date(Date.parse(T0) - THRESHOLD).toISOString();
    const visits = sql<boolean>`visited() = 1`;
    const queries = {
      offline: offlineCandidates(db.db, cutoff, 500).where(visits).compile(),
      earliestEnable: earliestProtectingEnableQuery(db.db, cutoff).where(visits).compile(),
    };
    for (const [name, compiled] of Object.entries(queries)) {
      visited = 0;
      db.sqlite.prepare(compiled.sql).all(...(compiled.parameters as unknown[]));
      const plan = queryPlan(db.sqlite, compiled);
      expect({ name, plan }).toEqual({ name, plan: expect.stringMatching(/^SEARCH machines USING INDEX idx_machines_status_last_seen \(status=\? AND last_seen<\?\)$/) });
      expect({ name, visited }).toEqual({ name, visited: 3 });
    }
    expect((await offlineCandidates(db.db, cutoff, 500).execute()).map((m) => m.name)).toEqual(['on0', 'on1', 'on2']);
  });

  testOn('sqlite', engine)("the candidate and wake-up queries use the (status, last_seen) index, never a scan of all machines", async () => {
    const cutoff = T0;
    const queries = {
      pending: pendingWithFreshReport(db.db, cutoff, 500),
      recoveries: recoveryCandidates(db.db, cutoff, 500),
      offline: offlineCandidates(db.db, cutoff, 500),
      earliestFresh: earliestFreshLastSeenQuery(db.db, cutoff),
      earliestEnable: earliestProtectingEnableQuery(db.db, cutoff),
    };
    for (const [name, query] of Object.entries(queries)) {
      const compiled = query.compile();
      const plan = db.sqlite.prepare(`EXPLAIN QUERY PLAN ${compiled.sql}`).all(...(compiled.parameters as unknown[])) as Array<{ detail: string }>;
      const details = plan.map((p) => p.detail).join(' | ');
      expect({ name, details }).toEqual({ name, details: expect.stringMatching(/SEARCH machines USING (COVERING )?INDEX idx_machines_status_last_seen \(status=\? AND last_seen[<>=]+\?\)/) });
      expect({ name, details }).toEqual({ name, details: expect.not.stringMatching(/SCAN machines/) });
    }
  });
});
