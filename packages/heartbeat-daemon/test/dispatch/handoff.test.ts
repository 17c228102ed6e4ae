import { createTelegramSender, createWebhookSender, type TelegramSender, type WebhookSender } from '@lunasentri/shared';
import { TestClock } from '../../../../test/support/test-clock';
import { createTestDb, type TestDb } from '../../../../test/support/db';
import { describeEachEngine } from '../../../../test/support/engines';
import { startFakeTelegram, type FakeTelegram } from '../../../../test/support/fake-telegram';
import { insertMachine, insertTelegramRecipient, insertUser, insertWebhook } from '../../../../test/support/fixtures';
import { startWebhookReceiver, type WebhookReceiver, type WebhookResponse } from '../../../../test/support/webhook-receiver';
import type { Dispatcher, DispatcherDeps } from '../../src/dispatch/dispatcher.usecases';
import { createSweeper } from '../../src/sweep/sweep.usecases';
import { testDispatcher, testLogger } from '../helpers';

const THRESHOLD = 120_000;
const LEASE_MS = 30_000;
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const TOKEN = '123456:test-token-for-the-fake-bot-api-000';

/*
 * The handoff: a status change writes its new deliveries already claimed for this process's
 * dispatcher, which sends them without reading them back. The dispatcher here is never started and
 * never asked to run: whatever reaches the receiver before `runDue()` came through the handoff.
 */
describeEachEngine('new deliveries handed to the dispatcher as they are written', (engine) => {
  let db: TestDb;
  let clock: TestClock;
  let log: ReturnType<typeof testLogger>;
  let userId: number;
  let receiver: WebhookReceiver;
  let telegramServer: FakeTelegram;
  let webhook: WebhookSender;
  let telegram: TelegramSender & { close(): Promise<void> };
  let reply: (index: number) => WebhookResponse | undefined | Promise<WebhookResponse | undefined>;
  let woken: number;
  const dispatchers: Dispatcher[] = [];

  beforeEach(async () => {
    db = await createTestDb(engine);
    clock = new TestClock();
    log = testLogger();
    reply = () => undefined;
    woken = 0;
    receiver = await startWebhookReceiver({ secret: SECRET, now: () => clock.now(), respond: (_r, i) => reply(i) });
    telegramServer = await startFakeTelegram({ token: TOKEN });
    webhook = createWebhookSender({ allowHttp: true, allowPrivate: true, clock, timeoutMs: 5_000 });
    telegram = createTelegramSender({ token: TOKEN, apiRoot: telegramServer.apiRoot, timeoutMs: 5_000 });
    userId = await insertUser(db.db);
    await insertWebhook(db.db, userId, receiver.url, SECRET);
  });
  afterEach(async () => {
    for (const d of dispatchers.splice(0)) await d.stop(1_000);
    await webhook.close();
    await telegram.close();
    await receiver.close();
    await telegramServer.close();
    await db.dispose();
  });

  function dispatcher(overrides: Partial<DispatcherDeps> = {}): Dispatcher {
    const d = testDispatcher({ db: db.db, clock, logger: log.logger, webhook, telegram }, { leaseMs: LEASE_MS, ...overrides });
    dispatchers.push(d);
    return d;
  }
  const sweeper = (d: Dispatcher) =>
    createSweeper({ db: db.db, clock, logger: log.logger, thresholdMs: THRESHOLD, handoff: d.handoff, onDeliveries: () => woken++ });
  const machines = async (n: number) => {
    const ids: number[] = [];
    for (let i = 0; i < n; i++) ids.push(await insertMachine(db.db, userId, { name: `m${i}`, status: 'online', last_seen: clock.now().toISOString() }));
    return ids;
  };
  const deliveries = () => db.db.selectFrom('deliveries').select(['id', 'machine_id', 'channel', 'status', 'claimed_by', 'claimed_until']).orderBy('id').execute();
  const events = (type: string) => receiver.received.filter((r) => (r.json as { event: string }).event === type);
  /** Holds every answer until `open()`: what the sweep committed can be looked at before any outcome is recorded. */
  function holdAnswers(): { open(): void } {
    let open!: () => void;
    const gate = new Promise<undefined>((resolve) => (open = () => resolve(undefined)));
    reply = () => gate;
    return { open };
  }

  test('a status change hands its deliveries over claimed, and they go out without a claim of their own', async () => {
    const d = dispatcher();
    const answers = holdAnswers();
    await machines(3);
    clock.advance(THRESHOLD + 1);
    const result = await sweeper(d).run();
    expect(result.transitions).toHaveLength(3);
    // Committed already claimed by this daemon, for one lease from the sweep's "now".
    const until = new Date(clock.now().getTime() + LEASE_MS).toISOString();
    expect((await deliveries()).map((r) => [r.claimed_by, r.claimed_until])).toEqual(Array.from({ length: 3 }, () => ['daemon-a', until]));
    // Nothing was left for the dispatcher to claim, so it was not woken to look.
    expect(woken).toBe(0);
    answers.open();
    await receiver.waitFor((r) => r.filter((x) => x.answeredStatus === 200).length === 3, 10_000);
    expect(new Set(events('machine.offline').map((r) => r.headers['webhook-id'])).size).toBe(3);
    await d.runDue();
    expect((await deliveries()).map((r) => [r.status, r.claimed_by])).toEqual(Array.from({ length: 3 }, () => ['delivered', null]));
  });

  test('a stream with a delivery still pending is not handed over: the new one waits behind it, and order holds', async () => {
    const d = dispatcher();
    const [first, second] = await machines(2);
    // The receiver refuses the outage notices for now: both stay pending, waiting for a retry.
    reply = () => ({ status: 503 });
    clock.advance(THRESHOLD + 1);
    await sweeper(d).run();
    await receiver.waitFor((r) => r.length === 2, 10_000);
    await d.runDue();
    expect((await deliveries()).map((r) => [r.status, r.claimed_by])).toEqual([
      ['pending', null],
      ['pending', null],
    ]);
    // The first machine comes back; its recovery notice must not overtake its outage notice.
    clock.advance(1_000);
    await db.db.updateTable('machines').set({ last_seen: clock.now().toISOString() }).where('id', '=', first!).execute();
    woken = 0;
    const back = await sweeper(d).run();
    expect(back.transitions.map((t) => [t.machineId, t.kind])).toEqual([[first, 'came-online']]);
    const rows = await deliveries();
    expect(rows.map((r) => [r.machine_id, r.claimed_by])).toEqual([
      [first, null],
      [second, null],
      [first, null],
    ]);
    // Left for an ordinary claim, so the dispatcher was told to look.
    expect(woken).toBe(1);
    reply = () => undefined;
    clock.advance(10 * 60_000);
    await d.runDue();
    const forFirst = receiver.received.filter((r) => (r.json as { machine: { id: number } }).machine.id === first).map((r) => (r.json as { event: string }).event);
    expect(forFirst.filter((e, i) => e !== forFirst[i - 1])).toEqual(['machine.offline', 'machine.online']);
  });

  test('the handoff takes only what the dispatcher has room for; the rest wait for its claim', async () => {
    const d = dispatcher({ handoffQueue: 2, concurrency: 1, perTargetConcurrency: 1 });
    const answers = holdAnswers();
    await machines(5);
    clock.advance(THRESHOLD + 1);
    await sweeper(d).run();
    expect((await deliveries()).map((r) => r.claimed_by)).toEqual(['daemon-a', 'daemon-a', null, null, null]);
    expect(woken).toBe(1);
    answers.open();
    await d.runDue();
    expect((await deliveries()).every((r) => r.status === 'delivered')).toBe(true);
    expect(new Set(events('machine.offline').filter((r) => r.answeredStatus === 200).map((r) => r.headers['webhook-id'])).size).toBe(5);
  });

  test('Telegram deliveries are never handed over: a chat gets its notifications as digests, claimed per chat', async () => {
    const d = dispatcher();
    const answers = holdAnswers();
    await insertTelegramRecipient(db.db, userId, 4242);
    await machines(1);
    clock.advance(THRESHOLD + 1);
    await sweeper(d).run();
    expect((await deliveries()).map((r) => [r.channel, r.claimed_by])).toEqual([
      ['webhook', 'daemon-a'],
      ['telegram', null],
    ]);
    expect(woken).toBe(1);
    answers.open();
  });

  test('a stopping dispatcher takes nothing: every delivery is left for a claim', async () => {
    const d = dispatcher();
    await d.stop(0);
    await machines(2);
    clock.advance(THRESHOLD + 1);
    await sweeper(d).run();
    expect((await deliveries()).map((r) => r.claimed_by)).toEqual([null, null]);
    expect(receiver.received).toHaveLength(0);
  });
});
