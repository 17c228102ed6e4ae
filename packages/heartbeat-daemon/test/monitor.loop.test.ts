import { createWebhookSender, readDaemonLastCheck, registerInstance, renderTelegramMessage, systemClock, type DatabaseHandle } from '@lunasentri/shared';
import { createTestDb, type TestDb } from '../../../test/support/db';
import { insertMachine, insertUser, insertWebhook } from '../../../test/support/fixtures';
import { startWebhookReceiver, type WebhookReceiver } from '../../../test/support/webhook-receiver';
import { createDispatcher, type Dispatcher } from '../src/dispatcher.usecases';
import { runMonitor } from '../src/monitor.loop';
import { createSweeper } from '../src/sweep.usecases';
import { secondConnection, testLogger } from './helpers';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

/*
 * The loop runs on the real clock here: what is tested is *when* it wakes. Every wait is for an
 * observable arrival with a deadline far below the 60 s interval, so a pass proves the loop did not
 * simply wait for the interval.
 */
describe('the monitor loop', () => {
  let db: TestDb;
  let ingest: DatabaseHandle;
  let receiver: WebhookReceiver;
  let dispatcher: Dispatcher;
  let controller: AbortController;
  let loop: Promise<void>;
  const webhook = createWebhookSender({ allowHttp: true, allowPrivate: true });

  beforeEach(async () => {
    db = await createTestDb();
    ingest = await secondConnection(db.path);
    receiver = await startWebhookReceiver({ secret: SECRET });
    controller = new AbortController();
  });
  afterEach(async () => {
    controller.abort();
    await loop;
    await dispatcher.stop(1_000);
    await receiver.close();
    await ingest.close();
    await db.dispose();
  });
  afterAll(() => webhook.close());

  function start(thresholdMs: number, instanceId = 'loop-test') {
    const { logger } = testLogger();
    const clock = systemClock;
    dispatcher = createDispatcher({ db: db.db, clock, logger, instanceId: 'loop-test', webhook, telegram: null, renderTelegram: renderTelegramMessage });
    dispatcher.start();
    const sweeper = createSweeper({ db: db.db, clock, logger, thresholdMs });
    loop = runMonitor({ handle: db, clock, logger, sweeper, dispatcher, instanceId, intervalMs: 60_000, thresholdMs, pollMs: 100 }, controller.signal);
  }

  test('detects offline at the threshold, not a whole interval later, and a new heartbeat within about a second', async () => {
    const userId = await insertUser(db.db);
    await insertWebhook(db.db, userId, receiver.url, SECRET);
    const lastSeen = Date.now();
    const id = await insertMachine(db.db, userId, { status: 'online', last_seen: new Date(lastSeen).toISOString() });
    start(1_500);

    await receiver.waitFor((r) => r.some((h) => (h.json as { event: string }).event === 'machine.offline'), 10_000);
    const detectedAfter = Date.now() - lastSeen;
    expect(detectedAfter).toBeGreaterThan(1_500);
    expect(detectedAfter).toBeLessThan(10_000);

    // The heartbeat arrives through another connection (the API); nothing else would wake the loop for 60 s.
    const reportedAt = Date.now();
    await ingest.db.updateTable('machines').set({ last_seen: new Date(reportedAt).toISOString() }).where('id', '=', id).execute();
    await receiver.waitFor((r) => r.some((h) => (h.json as { event: string }).event === 'machine.online'), 10_000);
    expect(Date.now() - reportedAt).toBeLessThan(5_000);
    expect(receiver.received.every((h) => h.verified)).toBe(true);
  });

  test('records its check as the daemon beat (shown by /health) and stops promptly when aborted', async () => {
    const instanceId = await registerInstance(db.db, 'daemon', systemClock);
    const registered = await readDaemonLastCheck(db.db);
    await new Promise((resolve) => setTimeout(resolve, 5)); // so the first check's beat is a later millisecond
    start(60_000, instanceId);
    for (const deadline = Date.now() + 5_000; (await readDaemonLastCheck(db.db)) === registered; ) {
      if (Date.now() > deadline) throw new Error('the loop never recorded a check');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const stoppedAt = Date.now();
    controller.abort();
    await loop;
    expect(Date.now() - stoppedAt).toBeLessThan(3_000); // far below the 60 s interval it would otherwise sleep
  });
});
