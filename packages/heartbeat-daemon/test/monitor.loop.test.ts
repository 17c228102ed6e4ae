import { createChannelSender, createWebhookSender, readDaemonLastCheck, recordBeat, registerInstance, type ChangeFeed, type DatabaseHandle, type EventType } from '@lunasentri/shared';
import { createTestDb, type TestDb } from '../../../test/support/db';
import { describeEachEngine } from '../../../test/support/engines';
import { insertMachine, insertUser, insertWebhook } from '../../../test/support/fixtures';
import { TestClock } from '../../../test/support/test-clock';
import { startWebhookReceiver, type WebhookReceiver } from '../../../test/support/webhook-receiver';
import { createDispatcher, type Dispatcher } from '../src/dispatch/dispatcher.usecases';
import { runMonitor } from '../src/monitor.loop';
import { createSweeper } from '../src/sweep/sweep.usecases';
import { secondConnection, testLogger } from './helpers';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const INTERVAL = 60_000;
const POLL = 100;

/*
 * The loop runs on the test clock: what is tested is *when* it wakes, so the clock is moved to each
 * moment the loop asked to wake at, and the test reads what the loop did then. No real waiting for
 * timeouts; the deadlines below only bound the wait for the loop to reach its next sleep.
 */
describeEachEngine('the monitor loop', (engine) => {
  let db: TestDb;
  let ingest: DatabaseHandle;
  let receiver: WebhookReceiver;
  let dispatcher: Dispatcher;
  let clock: TestClock;
  let controller: AbortController;
  let loop: Promise<void>;
  let listener: ChangeFeed | null = null;
  let changes: ChangeFeed | null = null;
  const webhook = createWebhookSender({ allowHttp: true, allowPrivate: true });

  beforeEach(async () => {
    db = await createTestDb(engine);
    ingest = await secondConnection(db.path);
    receiver = await startWebhookReceiver({ secret: SECRET });
    clock = new TestClock();
    controller = new AbortController();
    if (engine === 'postgres') {
      listener = ingest.changeFeed();
      await heard(listener); // its first "changed" says it is listening
    }
  });
  afterEach(async () => {
    controller.abort();
    await loop;
    await dispatcher.stop(1_000);
    await receiver.close();
    listener?.close();
    changes?.close();
    await ingest.close();
    await db.dispose();
  });
  afterAll(() => webhook.close());

  /** How often the loop ran a full check and asked whether a report waits (between polls, on a hint). */
  const calls = { run: 0, hasArrivals: 0 };

  function start(thresholdMs: number, instanceId = 'loop-test', pollMs = POLL) {
    const { logger } = testLogger();
    dispatcher = createDispatcher({ db: db.db, clock, logger, instanceId: 'loop-test', sender: createChannelSender({ webhook, telegram: null }) });
    dispatcher.start();
    const real = createSweeper({ db: db.db, clock, logger, thresholdMs, intervalMs: INTERVAL });
    calls.run = 0;
    calls.hasArrivals = 0;
    const sweeper = {
      run: (signal?: AbortSignal) => (calls.run++, real.run(signal)),
      hasArrivals: () => (calls.hasArrivals++, real.hasArrivals()),
    };
    const beat = () => recordBeat(db.db, instanceId, clock);
    changes = db.changeFeed();
    const deps = { changes, clock, logger, sweeper, dispatcher, beat, intervalMs: INTERVAL, pollMs, sleep: clock.sleep.bind(clock) };
    loop = runMonitor(deps, controller.signal);
  }

  /** Waits (bounded) until the loop sleeps on the test clock, and returns when it asked to wake. */
  async function nextWake(): Promise<number> {
    for (const deadline = Date.now() + 10_000; clock.nextWake() === null; ) {
      if (Date.now() > deadline) throw new Error('the loop never went to sleep');
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    return clock.nextWake()!;
  }

  /** Moves the clock from one wake-up of the loop to the next until `done` holds; returns the moments it woke at. */
  async function runUntil(done: () => Promise<boolean>, maxWakes = 1_000): Promise<number[]> {
    const wakes: number[] = [];
    while (!(await done())) {
      if (wakes.length >= maxWakes) throw new Error(`not done after ${maxWakes} wake-ups`);
      const at = await nextWake();
      wakes.push(at);
      clock.set(at);
    }
    return wakes;
  }

  /**
   * On PostgreSQL the change feed hears of the flush asynchronously (LISTEN/NOTIFY): wait, bounded,
   * until a listener of the test's own has heard it, so the loop's listener has too. SQLite's feed
   * reads the file's change counter, which has moved once the write returned.
   */
  async function untilNotified(): Promise<void> {
    if (listener) await heard(listener);
  }

  async function heard(feed: ChangeFeed): Promise<void> {
    for (const deadline = Date.now() + 10_000; !feed.poll(); ) {
      if (Date.now() > deadline) throw new Error('no change notification within 10 s');
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  }

  const eventsOf = (type: EventType) => db.db.selectFrom('events').select(['occurred_at']).where('type', '=', type).execute();

  test('detects offline just past the threshold, not a whole interval later, and a new heartbeat within one poll', async () => {
    const userId = await insertUser(db.db);
    await insertWebhook(db.db, userId, receiver.url, SECRET);
    const lastSeen = clock.now().getTime();
    const id = await insertMachine(db.db, userId, { status: 'online', last_seen: new Date(lastSeen).toISOString() });
    start(1_500);

    const wakes = await runUntil(async () => (await eventsOf('machine.offline')).length > 0);
    // The first instant strictly past the threshold; polls every 100 ms meanwhile, never the 60 s interval.
    expect((await eventsOf('machine.offline'))[0]!.occurred_at).toBe(new Date(lastSeen + 1_501).toISOString());
    expect(Math.max(...wakes.map((at, i) => at - (wakes[i - 1] ?? lastSeen)))).toBeLessThanOrEqual(POLL);
    await receiver.waitFor((r) => r.some((h) => (h.json as { event: string }).event === 'machine.offline'), 10_000);

    // The heartbeat arrives through another connection, as the API's ingest flush writes it (on
    // PostgreSQL it also notifies); nothing else would wake the loop for 60 s.
    await nextWake();
    const reportedAt = clock.now().getTime();
    await ingest.ingestStore().write({ lastSeen: new Map([[id, new Date(reportedAt).toISOString()]]), systemInfo: new Map(), samples: [] });
    await untilNotified();
    await runUntil(async () => (await eventsOf('machine.online')).length > 0);
    const [online] = await eventsOf('machine.online');
    expect(Date.parse(online!.occurred_at) - reportedAt).toBeLessThanOrEqual(POLL);
    await receiver.waitFor((r) => r.some((h) => (h.json as { event: string }).event === 'machine.online'), 10_000);
    expect(receiver.received.every((h) => h.verified)).toBe(true);
  });

  test('records its check as the daemon beat (shown by /health) and stops promptly when aborted', async () => {
    const instanceId = await registerInstance(db.db, 'daemon', clock);
    clock.advance(1); // so the first check's beat is a later millisecond than the registration
    start(60_000, instanceId);
    await nextWake();
    expect(await readDaemonLastCheck(db.db)).toBe(clock.now().toISOString());
    // Asleep until the next check (a minute away on its clock): an abort ends the sleep at once.
    controller.abort();
    await loop;
    expect(clock.sleeping).toBe(0);
  });

  test('between polls, a report that brings a machine back is checked at once on the change hint: the clock does not move', async () => {
    const userId = await insertUser(db.db);
    await insertWebhook(db.db, userId, receiver.url, SECRET);
    const id = await insertMachine(db.db, userId, { status: 'offline', last_seen: new Date(clock.now().getTime() - 600_000).toISOString(), status_changed_at: new Date(clock.now().getTime() - 590_000).toISOString() });
    // Its outage was announced (the dedup row), so its recovery is too.
    await db.db.insertInto('machine_offline_notifications').values({ machine_id: id, notified_at: new Date(clock.now().getTime() - 590_000).toISOString() }).execute();
    start(60_000, 'loop-test', 3_600_000); // polls an hour apart: only the hint can explain a prompt check
    await nextWake();
    const reportedAt = clock.now().toISOString();
    await ingest.ingestStore().write({ lastSeen: new Map([[id, reportedAt]]), systemInfo: new Map(), samples: [] });
    const deadline = Date.now() + 10_000;
    while ((await eventsOf('machine.online')).length === 0) {
      if (Date.now() > deadline) throw new Error('no machine.online within 10 s of the report, with the clock standing still');
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect((await eventsOf('machine.online'))[0]!.occurred_at).toBe(reportedAt);
    expect(calls.hasArrivals).toBeGreaterThanOrEqual(1);
    await receiver.waitFor((r) => r.some((h) => (h.json as { event: string }).event === 'machine.online'), 10_000);
  });

  test('between polls, an API beat after a crossing is checked at once: offline within that beat, the clock standing still', async () => {
    const userId = await insertUser(db.db);
    await insertWebhook(db.db, userId, receiver.url, SECRET);
    const t0 = clock.now().getTime();
    // An API that has beaten every second for a minute: its start (an ingest resume) protects no one by t0.
    const api = await registerInstance(ingest.db, 'api', { now: () => new Date(t0 - 61_000) });
    for (let at = t0 - 60_000; at <= t0; at += 1_000) await recordBeat(ingest.db, api, { now: () => new Date(at) });
    const threshold = 60_000;
    const id = await insertMachine(db.db, userId, { status: 'online', last_seen: new Date(t0 - threshold + 500).toISOString() });
    start(threshold, 'loop-test', 3_600_000); // polls an hour apart: only the hint can explain a prompt check

    // At the crossing (t0 + 501) the latest beat (t0) is older: the machine waits for the next beat.
    const crossing = await nextWake();
    expect(crossing).toBe(t0 + 501);
    clock.set(crossing);
    const waitingUntil = await nextWake();
    expect(waitingUntil).toBe(crossing + 1_000);
    expect(await eventsOf('machine.offline')).toEqual([]);

    // The API beats through its own connection; the loop hears of the commit and decides at once.
    await recordBeat(ingest.db, api, clock);
    for (const deadline = Date.now() + 10_000; (await eventsOf('machine.offline')).length === 0; ) {
      if (Date.now() > deadline) throw new Error('no machine.offline within 10 s of the API beat, with the clock standing still');
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(clock.now().getTime()).toBe(crossing);
    const [machine] = await db.db.selectFrom('machines').select(['status']).where('id', '=', id).execute();
    expect(machine!.status).toBe('offline');
    await receiver.waitFor((r) => r.some((h) => (h.json as { event: string }).event === 'machine.offline'), 10_000);
  });

  test('between polls, a report of a machine that is already online costs one indexed question, not a check', async () => {
    const userId = await insertUser(db.db);
    const id = await insertMachine(db.db, userId, { status: 'online', last_seen: new Date(clock.now().getTime() - 1_000).toISOString() });
    start(60_000, 'loop-test', 3_600_000);
    await nextWake();
    const runs = calls.run;
    await ingest.ingestStore().write({ lastSeen: new Map([[id, clock.now().toISOString()]]), systemInfo: new Map(), samples: [] });
    for (const deadline = Date.now() + 10_000; calls.hasArrivals === 0; ) {
      if (Date.now() > deadline) throw new Error('the loop was not hinted of the write within 10 s');
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await nextWake();
    expect(calls.run).toBe(runs);
    // The change is not lost: the next poll turn checks.
    clock.set(await nextWake());
    for (const deadline = Date.now() + 10_000; calls.run === runs; ) {
      if (Date.now() > deadline) throw new Error('the poll turn did not check');
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  });
});
