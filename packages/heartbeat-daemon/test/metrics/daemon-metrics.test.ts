import {
  createChannelSender,
  createMetricsRegistry,
  createWebhookSender,
  recordStopped,
  registerInstance,
  startMetricsServer,
  type Database,
  type MetricsServer,
  type WebhookSender,
} from '@lunasentri/shared';
import type { Kysely } from 'kysely';
import { createTestDb, type TestDb } from '../../../../test/support/db';
import { describeEachEngine, testOn } from '../../../../test/support/engines';
import { insertMachine, insertUser, insertWebhook } from '../../../../test/support/fixtures';
import { expectWellNamed, samplesOf, scrape, valueOf, type Exposition } from '../../../../test/support/metrics';
import { TestClock } from '../../../../test/support/test-clock';
import { startWebhookReceiver, type WebhookReceiver, type WebhookResponse } from '../../../../test/support/webhook-receiver';
import { createDispatcher } from '../../src/dispatch/dispatcher.usecases';
import { createHousekeeping } from '../../src/dispatch/housekeeping.usecases';
import { DaemonMetrics, FLEET_RECOUNT_MS } from '../../src/metrics/daemon.metrics';
import { allMachinesQuery, enabledMachinesQuery, pendingByChannelQuery, unsettledQuery, watchedMachinesQuery } from '../../src/metrics/metrics.repository';
import { createSweeper } from '../../src/sweep/sweep.usecases';
import { queryPlan, recordingKysely, secondConnection, testLogger } from '../helpers';

const THRESHOLD = 120_000;
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

/*
 * The daemon's metrics as Prometheus sees them: real database, the real metrics endpoint, real
 * scrapes over HTTP, parsed. Counters move with real sweeps and real deliveries to a local receiver.
 */
describeEachEngine('daemon metrics', (engine) => {
  let db: TestDb;
  let clock: TestClock;
  let log: ReturnType<typeof testLogger>;
  let userId: number;
  let metrics: DaemonMetrics;
  let server: MetricsServer;

  async function serve(handle: Kysely<Database> = db.db, perMachineLimit?: number): Promise<void> {
    const registry = createMetricsRegistry();
    metrics = new DaemonMetrics({ registry, db: handle, clock, logger: log.logger, perMachineLimit });
    server = await startMetricsServer({ listen: { host: '127.0.0.1', port: 0 }, registry, logger: log.logger });
  }

  beforeEach(async () => {
    db = await createTestDb(engine);
    clock = new TestClock();
    log = testLogger();
    userId = await insertUser(db.db);
  });
  afterEach(async () => {
    await server?.close();
    await db.dispose();
  });

  const iso = (msAgo: number) => new Date(clock.now().getTime() - msAgo).toISOString();
  const up = (expo: Exposition) => samplesOf(expo, 'lunasentri_machine_up').map((s) => ({ machine_id: s.labels.machine_id, machine: s.labels.machine, value: s.value }));
  const counts = (expo: Exposition) =>
    Object.fromEntries(['pending', 'online', 'offline', 'disabled'].map((status) => [status, valueOf(expo, 'lunasentri_machines', { status })]));

  test('counts machines by status (disabled ones apart) and shows each watched machine with its last report', async () => {
    await serve();
    await insertMachine(db.db, userId, { name: 'new-box', status: 'pending' });
    const web = await insertMachine(db.db, userId, { name: 'web "1"\\eu', status: 'online', last_seen: iso(5_000) });
    const db1 = await insertMachine(db.db, userId, { name: 'db-1', status: 'online', last_seen: iso(1_000) });
    const gone = await insertMachine(db.db, userId, { name: 'backup', status: 'offline', last_seen: iso(600_000) });
    await insertMachine(db.db, userId, { name: 'retired', status: 'online', last_seen: iso(1_000), is_enabled: 0 });
    await insertMachine(db.db, userId, { name: 'spare', status: 'pending', is_enabled: 0 });

    const expo = await scrape(server.url);
    expect(counts(expo)).toEqual({ pending: 1, online: 2, offline: 1, disabled: 2 });
    expect(up(expo).sort((a, b) => Number(a.machine_id) - Number(b.machine_id))).toEqual([
      { machine_id: String(web), machine: 'web "1"\\eu', value: 1 },
      { machine_id: String(db1), machine: 'db-1', value: 1 },
      { machine_id: String(gone), machine: 'backup', value: 0 },
    ]);
    expect(valueOf(expo, 'lunasentri_machine_last_seen_timestamp_seconds', { machine_id: String(gone), machine: 'backup' })).toBe(Date.parse(iso(600_000)) / 1000);
    expect(samplesOf(expo, 'lunasentri_machine_last_seen_timestamp_seconds')).toHaveLength(3);
    for (const [name, type] of Object.entries({ lunasentri_machines: 'gauge', lunasentri_machine_up: 'gauge', lunasentri_transitions_total: 'counter', lunasentri_delivery_latency_seconds: 'histogram' })) {
      expect({ name, type: expo.families.get(name)?.type }).toEqual({ name, type });
    }
    expectWellNamed(expo);
  });

  test("a renamed, deleted or disabled machine's series are gone at the next scrape", async () => {
    await serve();
    const renamed = await insertMachine(db.db, userId, { name: 'web-1', status: 'online', last_seen: iso(0) });
    const deleted = await insertMachine(db.db, userId, { name: 'web-2', status: 'offline', last_seen: iso(600_000) });
    const disabled = await insertMachine(db.db, userId, { name: 'web-3', status: 'online', last_seen: iso(0) });
    expect(up(await scrape(server.url)).map((s) => s.machine).sort()).toEqual(['web-1', 'web-2', 'web-3']);

    await db.db.updateTable('machines').set({ name: 'web-1-eu' }).where('id', '=', renamed).execute();
    await db.db.deleteFrom('machines').where('id', '=', deleted).execute();
    await db.db.updateTable('machines').set({ is_enabled: 0 }).where('id', '=', disabled).execute();

    const expo = await scrape(server.url);
    expect(up(expo)).toEqual([{ machine_id: String(renamed), machine: 'web-1-eu', value: 1 }]);
    expect(samplesOf(expo, 'lunasentri_machine_last_seen_timestamp_seconds').map((s) => s.labels)).toEqual([{ machine_id: String(renamed), machine: 'web-1-eu' }]);
    expect(expo.text).not.toMatch(/machine="web-[23]"|machine="web-1"/);
    expect(counts(expo)).toEqual({ pending: 0, online: 1, offline: 0, disabled: 1 });
  });

  test('leaves the per-machine series out above 10,000 machines, says so once, and lists them again at 10,000', async () => {
    await serve();
    const rows = Array.from({ length: 10_001 }, (_, i) => ({
      user_id: userId,
      name: `node-${i}`,
      status: 'online' as const,
      last_seen: iso(i),
      is_enabled: 1 as const,
      created_at: iso(0),
      updated_at: iso(0),
    }));
    for (let i = 0; i < rows.length; i += 1_000) await db.db.insertInto('machines').values(rows.slice(i, i + 1_000)).execute();

    for (let scrapes = 0; scrapes < 3; scrapes++) {
      const expo = await scrape(server.url);
      expect(valueOf(expo, 'lunasentri_machines', { status: 'online' })).toBe(10_001);
      expect(samplesOf(expo, 'lunasentri_machine_up')).toHaveLength(0);
      expect(samplesOf(expo, 'lunasentri_machine_last_seen_timestamp_seconds')).toHaveLength(0);
      expect(expo.families.get('lunasentri_machine_up')?.type).toBe('gauge');
    }
    const said = (await log.messages()).filter((line) => line.startsWith('Per-machine metrics'));
    expect(said).toEqual([
      'Per-machine metrics are left out: 10001 machines are online or offline, more than 10000 (lunasentri_machine_up and lunasentri_machine_last_seen_timestamp_seconds; lunasentri_machines still counts them)',
    ]);

    // A large fleet's totals are recounted once a minute.
    await db.db.deleteFrom('machines').where('name', '=', 'node-0').execute();
    clock.advance(FLEET_RECOUNT_MS);
    const expo = await scrape(server.url);
    expect(valueOf(expo, 'lunasentri_machines', { status: 'online' })).toBe(10_000);
    expect(samplesOf(expo, 'lunasentri_machine_up')).toHaveLength(10_000);
    expect(samplesOf(expo, 'lunasentri_machine_last_seen_timestamp_seconds')).toHaveLength(10_000);
    expect((await log.messages()).filter((line) => line.startsWith('Per-machine metrics'))).toHaveLength(2);
  }, 120_000);

  test('counts transitions by type, and shows when the last check ran and whether ingest is live', async () => {
    await serve();
    const sweeper = metrics.observe(createSweeper({ db: db.db, clock, logger: log.logger, thresholdMs: THRESHOLD }));
    const before = await scrape(server.url);
    expect(samplesOf(before, 'lunasentri_transitions_total').map((s) => [s.labels.type, s.value])).toEqual([
      ['went_offline', 0],
      ['came_online', 0],
      ['first_report', 0],
    ]);
    expect(valueOf(before, 'lunasentri_last_check_timestamp_seconds')).toBe(0);
    // No API has ever run on this database: the daemon works normally (CONTRACT §3.1).
    expect(valueOf(before, 'lunasentri_ingest_live')).toBe(1);

    await insertMachine(db.db, userId, { name: 'fresh', status: 'pending', last_seen: iso(1_000) });
    await insertMachine(db.db, userId, { name: 'silent', status: 'online', last_seen: iso(THRESHOLD + 1_000) });
    await sweeper.run();
    let expo = await scrape(server.url);
    expect(valueOf(expo, 'lunasentri_transitions_total', { type: 'first_report' })).toBe(1);
    expect(valueOf(expo, 'lunasentri_transitions_total', { type: 'went_offline' })).toBe(1);
    expect(valueOf(expo, 'lunasentri_transitions_total', { type: 'came_online' })).toBe(0);
    expect(valueOf(expo, 'lunasentri_last_check_timestamp_seconds')).toBe(clock.now().getTime() / 1000);
    expect(valueOf(expo, 'lunasentri_ingest_live')).toBe(1);

    // An API process starts, then stops: ingest is down.
    const api = await registerInstance(db.db, 'api', clock);
    expect(valueOf(await scrape(server.url), 'lunasentri_ingest_live')).toBe(1);
    await recordStopped(db.db, api, clock);
    clock.advance(30_000);
    await sweeper.run();
    expo = await scrape(server.url);
    expect(valueOf(expo, 'lunasentri_ingest_live')).toBe(0);
    expect(valueOf(expo, 'lunasentri_last_check_timestamp_seconds')).toBe(clock.now().getTime() / 1000);
  });

  describe('deliveries', () => {
    let receiver: WebhookReceiver;
    let webhook: WebhookSender;
    let answers: Array<WebhookResponse | undefined>;

    beforeEach(async () => {
      answers = [];
      receiver = await startWebhookReceiver({ secret: SECRET, now: () => clock.now(), respond: (_r, i) => answers[i] });
      webhook = createWebhookSender({ allowHttp: true, allowPrivate: true, clock, timeoutMs: 5_000 });
      await insertWebhook(db.db, userId, receiver.url, SECRET);
      await serve();
    });
    afterEach(async () => {
      await webhook.close();
      await receiver.close();
    });

    const dispatcher = () =>
      createDispatcher({ db: db.db, clock, logger: log.logger, instanceId: 'daemon-a', sender: createChannelSender({ webhook, telegram: null }), random: () => 0.5, onOutcomes: metrics.outcomesRecorded });
    const outcome = (expo: Exposition, outcome: string) => valueOf(expo, 'lunasentri_deliveries_total', { channel: 'webhook', outcome });
    async function goOffline(name: string): Promise<void> {
      await insertMachine(db.db, userId, { name, status: 'online', last_seen: iso(THRESHOLD + 1_000) });
      expect((await createSweeper({ db: db.db, clock, logger: log.logger, thresholdMs: THRESHOLD }).run()).deliveries).toBe(1);
    }

    test('the outbox gauges show what is pending and for how long; outcomes and the latency to delivery are counted', async () => {
      await goOffline('web-1');
      clock.advance(30_000);
      let expo = await scrape(server.url);
      expect(valueOf(expo, 'lunasentri_outbox_pending', { channel: 'webhook' })).toBe(1);
      expect(valueOf(expo, 'lunasentri_outbox_pending', { channel: 'telegram' })).toBe(0);
      expect(valueOf(expo, 'lunasentri_outbox_oldest_pending_age_seconds', { channel: 'webhook' })).toBe(30);
      expect(valueOf(expo, 'lunasentri_outbox_oldest_pending_age_seconds', { channel: 'telegram' })).toBe(0);

      // 503 first (retried), then accepted: delivered 10 minutes after the event.
      answers = [{ status: 503, body: 'busy' }];
      await dispatcher().runDue();
      expo = await scrape(server.url);
      expect(outcome(expo, 'retried')).toBe(1);
      expect(valueOf(expo, 'lunasentri_outbox_pending', { channel: 'webhook' })).toBe(1);
      clock.advance(570_000);
      await dispatcher().runDue();
      expect(receiver.received).toHaveLength(2);
      expo = await scrape(server.url);
      expect({ delivered: outcome(expo, 'delivered'), retried: outcome(expo, 'retried'), failed: outcome(expo, 'failed'), dead: outcome(expo, 'dead') }).toEqual({ delivered: 1, retried: 1, failed: 0, dead: 0 });
      expect(valueOf(expo, 'lunasentri_delivery_latency_seconds_count', { channel: 'webhook' })).toBe(1);
      expect(valueOf(expo, 'lunasentri_delivery_latency_seconds_sum', { channel: 'webhook' })).toBe(600);
      expect(valueOf(expo, 'lunasentri_delivery_latency_seconds_bucket', { channel: 'webhook', le: '300' })).toBe(0);
      expect(valueOf(expo, 'lunasentri_delivery_latency_seconds_bucket', { channel: 'webhook', le: '900' })).toBe(1);
      expect(valueOf(expo, 'lunasentri_outbox_pending', { channel: 'webhook' })).toBe(0);
      expect(valueOf(expo, 'lunasentri_outbox_oldest_pending_age_seconds', { channel: 'webhook' })).toBe(0);
      expectWellNamed(expo);
    });

    test('a refused delivery counts as failed, and one still pending after 24 hours as dead', async () => {
      await goOffline('web-1');
      answers = [{ status: 400, body: 'no such hook' }];
      await dispatcher().runDue();
      expect(outcome(await scrape(server.url), 'failed')).toBe(1);

      await goOffline('web-2');
      clock.advance(25 * 3600_000);
      expect(valueOf(await scrape(server.url), 'lunasentri_outbox_oldest_pending_age_seconds', { channel: 'webhook' })).toBe(25 * 3600);
      await createHousekeeping({ db: db.db, clock, logger: log.logger, instanceId: 'daemon-a', channels: ['webhook'], onExpired: metrics.outcomesRecorded }).runOnce();
      const expo = await scrape(server.url);
      expect({ failed: outcome(expo, 'failed'), dead: outcome(expo, 'dead'), delivered: outcome(expo, 'delivered') }).toEqual({ failed: 1, dead: 1, delivered: 0 });
      expect(valueOf(expo, 'lunasentri_outbox_pending', { channel: 'webhook' })).toBe(0);
    });
  });

  test('a large fleet has its totals recounted once a minute; pending and offline counts are exact at every scrape', async () => {
    // A per-machine limit of 2 stands in for 10,000: above it, the fleet counts as large.
    await serve(db.db, 2);
    const ids = [];
    for (const name of ['a', 'b', 'c']) ids.push(await insertMachine(db.db, userId, { name, status: 'online', last_seen: iso(0) }));
    expect(counts(await scrape(server.url))).toEqual({ pending: 0, online: 3, offline: 0, disabled: 0 });

    await db.db.updateTable('machines').set({ status: 'offline' }).where('id', '=', ids[0]!).execute();
    await insertMachine(db.db, userId, { name: 'd', status: 'online', last_seen: iso(0) });
    await insertMachine(db.db, userId, { name: 'e', status: 'online', last_seen: iso(0), is_enabled: 0 });
    clock.advance(59_000);
    // The transition shows at once; the two new machines wait for the recount.
    expect(counts(await scrape(server.url))).toEqual({ pending: 0, online: 2, offline: 1, disabled: 0 });
    clock.advance(1_000);
    expect(counts(await scrape(server.url))).toEqual({ pending: 0, online: 3, offline: 1, disabled: 1 });
  });

  test('a database that cannot be read leaves its series out, keeps the rest, and is logged once', async () => {
    const broken = await secondConnection(db.path);
    await serve(broken.db);
    await insertMachine(db.db, userId, { name: 'web-1', status: 'online', last_seen: iso(0) });
    expect(valueOf(await scrape(server.url), 'lunasentri_machines', { status: 'online' })).toBe(1);
    await broken.close();
    for (let i = 0; i < 2; i++) {
      const expo = await scrape(server.url);
      expect(samplesOf(expo, 'lunasentri_machines')).toEqual([]);
      expect(samplesOf(expo, 'lunasentri_outbox_pending')).toEqual([]);
      expect(valueOf(expo, 'process_cpu_seconds_total')).toBeGreaterThan(0);
      expect(samplesOf(expo, 'lunasentri_transitions_total')).toHaveLength(3);
    }
    const loud = (await log.leveled()).filter((line) => line.includes('Reading the metrics') && !line.startsWith('debug'));
    expect(loud).toEqual([expect.stringMatching(/^error: Reading the metrics from the database failed: /)]);
  });

  testOn('sqlite', engine)('one scrape reads the database once for all its gauges, each query on an index', async () => {
    const recording = recordingKysely(db.sqlite);
    await serve(recording.db);
    await insertMachine(db.db, userId, { name: 'web-1', status: 'online', last_seen: iso(0) });
    await scrape(server.url);
    expect(recording.statements.map((s) => s.sql.split(' from ')[1]?.split(' ')[0])).toEqual(['"machines"', '"machines"', '"machines"', '"machines"', '"deliveries"', '"service_liveness"']);

    const plans = {
      all: queryPlan(db.sqlite, allMachinesQuery(db.db).compile()),
      enabled: queryPlan(db.sqlite, enabledMachinesQuery(db.db).compile()),
      unsettled: queryPlan(db.sqlite, unsettledQuery(db.db).compile()),
      watched: queryPlan(db.sqlite, watchedMachinesQuery(db.db, 10_001).compile()),
      outbox: queryPlan(db.sqlite, pendingByChannelQuery(db.db).compile()),
    };
    expect(plans).toEqual({
      all: expect.stringMatching(/^SCAN machines USING COVERING INDEX idx_machines_user$/),
      enabled: expect.stringMatching(/^SCAN machines USING COVERING INDEX idx_machines_status_last_seen$/),
      unsettled: expect.stringMatching(/^SEARCH machines USING COVERING INDEX idx_machines_status_last_seen \(status=\?\)$/),
      watched: expect.stringMatching(/^SEARCH machines USING INDEX idx_machines_status_last_seen \(status=\?\)$/),
      outbox: expect.stringMatching(/^SCAN deliveries USING COVERING INDEX idx_deliveries_due$/),
    });
  });
});
