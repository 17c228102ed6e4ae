import { hostname } from 'node:os';
import {
  createRedactor,
  registerInstance,
  createTelegramSender,
  createWebhookSender,
  createChannelSender,
  type DatabaseHandle,
  type SendResult,
  type TelegramSender,
  type WebhookSender,
} from '@lunasentri/shared';
import { TestClock } from '../../../../test/support/test-clock';
import { createTestDb, rawSqlite, type TestDb } from '../../../../test/support/db';
import { describeEachEngine, testOn } from '../../../../test/support/engines';
import { startFakeTelegram, type FakeTelegram, type FakeTelegramResponse } from '../../../../test/support/fake-telegram';
import { insertMachine, insertTelegramRecipient, insertUser, insertWebhook } from '../../../../test/support/fixtures';
import { startWebhookReceiver, type ReceivedWebhook, type WebhookReceiver, type WebhookResponse } from '../../../../test/support/webhook-receiver';
import { channelWasFailing } from '../../src/dispatch/channels.repository';
import { bringForwardWaiting, claimHolders, dueQuery, markDelivered, mayBeDueQuery, nextDueAt } from '../../src/dispatch/deliveries.repository';
import { createDispatcher, type DispatcherDeps } from '../../src/dispatch/dispatcher.usecases';
import type { Host } from '../../src/dispatch/claims.models';
import { createHousekeeping, type HousekeepingDeps } from '../../src/dispatch/housekeeping.usecases';
import { createSweeper } from '../../src/sweep/sweep.usecases';
import { freePort } from '../../../../test/support/net';
import { queryPlan, recordingKysely, secondConnection, testLogger } from '../helpers';

const THRESHOLD = 120_000;
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const TOKEN = '123456:test-token-for-the-fake-bot-api-000';

type Reply = WebhookResponse | 'hang' | undefined | Promise<WebhookResponse | 'hang' | undefined>;

describeEachEngine('the dispatcher, with the real senders against local servers', (engine) => {
  let db: TestDb;
  let clock: TestClock;
  let log: ReturnType<typeof testLogger>;
  let userId: number;
  let machineId: number;
  let webhookReply: (index: number, request: ReceivedWebhook) => Reply;
  let telegramReply: (index: number) => FakeTelegramResponse | undefined;
  let receiver: WebhookReceiver;
  let telegramServer: FakeTelegram;
  let webhook: WebhookSender;
  let telegram: TelegramSender & { close(): Promise<void> };
  const cleanups: Array<() => Promise<unknown>> = [];

  beforeEach(async () => {
    db = await createTestDb(engine);
    clock = new TestClock();
    log = testLogger();
    webhookReply = () => undefined;
    telegramReply = () => undefined;
    receiver = await startWebhookReceiver({ secret: SECRET, now: () => clock.now(), respond: (r, i) => webhookReply(i, r) });
    telegramServer = await startFakeTelegram({ token: TOKEN, respond: (_m, i) => telegramReply(i) });
    webhook = createWebhookSender({ allowHttp: true, allowPrivate: true, clock, timeoutMs: 5_000 });
    telegram = createTelegramSender({ token: TOKEN, apiRoot: telegramServer.apiRoot, timeoutMs: 5_000 });
    userId = await insertUser(db.db);
    machineId = await insertMachine(db.db, userId, { status: 'online', last_seen: clock.now().toISOString() });
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    await webhook.close();
    await telegram.close();
    await receiver.close();
    await telegramServer.close();
    await db.dispose();
  });

  /** The senders to use: the real ones against the local servers unless a test swaps one (null: Telegram off). */
  type Senders = { webhook?: WebhookSender; telegram?: TelegramSender | null };
  function dispatcher(overrides: Partial<DispatcherDeps> & Senders = {}, handle: DatabaseHandle = db) {
    const { webhook: hooks = webhook, telegram: chats = telegram, ...rest } = overrides;
    return createDispatcher({
      db: handle.db,
      clock,
      logger: log.logger,
      instanceId: overrides.instanceId ?? 'daemon-a',
      sender: createChannelSender({ webhook: hooks, telegram: chats }),
      random: () => 0.5,
      ...rest,
    });
  }
  function housekeeping(overrides: Partial<HousekeepingDeps> & Senders = {}) {
    const { telegram: chats = telegram, webhook: _hooks, ...rest } = overrides;
    return createHousekeeping({
      db: db.db,
      clock,
      logger: log.logger,
      instanceId: overrides.instanceId ?? 'daemon-a',
      channels: createChannelSender({ webhook, telegram: chats }).channels,
      ...rest,
    });
  }
  const sweep = () => createSweeper({ db: db.db, clock, logger: log.logger, thresholdMs: THRESHOLD }).run();
  /** `count` machines go offline in one check, `advanceMs` after the previous one (by default one threshold). */
  async function goOffline(count = 1, advanceMs = THRESHOLD + 1) {
    clock.advance(advanceMs);
    const result = await sweep();
    expect(result.transitions.map((t) => t.kind)).toEqual(Array.from({ length: count }, () => 'went-offline'));
  }
  async function comeBack() {
    clock.advance(1_000);
    await db.db.updateTable('machines').set({ last_seen: clock.now().toISOString() }).where('id', '=', machineId).execute();
    const result = await sweep();
    expect(result.transitions.map((t) => t.kind)).toEqual(['came-online']);
  }
  const deliveries = () => db.db.selectFrom('deliveries').selectAll().orderBy('id').execute();
  const events = () => db.db.selectFrom('events').selectAll().orderBy('occurred_at').execute();
  const webhookEvents = (statuses?: number[]) =>
    receiver.received
      .filter((r) => statuses === undefined || statuses.includes(r.answeredStatus ?? -1))
      .map((r) => [(r.json as { event: string }).event, r.headers['webhook-id']]);
  /** Moves the clock to the moment the next pending delivery can go out (no real waiting). */
  async function toNextRetry() {
    const at = await nextDueAt(db.db, clock.now(), ['webhook', 'telegram']);
    if (!at) throw new Error('nothing pending');
    clock.set(at);
  }

  test('delivers over both channels, signed, with the stored body, and records the success', async () => {
    const hook = await insertWebhook(db.db, userId, receiver.url, SECRET);
    const chat = await insertTelegramRecipient(db.db, userId, 4242);
    await goOffline();
    const [event] = await events();

    expect(await dispatcher().runDue()).toBe(2);
    expect(receiver.received).toHaveLength(1);
    const [request] = receiver.received;
    expect(request.verified).toBe(true);
    expect(request.headers['webhook-id']).toBe(event.id);
    expect(request.rawBody).toBe(event.payload);
    expect(telegramServer.messages).toMatchObject([{ chat_id: 4242, parse_mode: 'HTML' }]);
    expect(telegramServer.messages[0].text).toContain('Machine Offline');

    expect(await deliveries()).toMatchObject([
      { channel: 'webhook', target_id: hook, status: 'delivered', attempts: 1, delivered_at: clock.now().toISOString(), claimed_by: null, last_error: null },
      { channel: 'telegram', target_id: chat, status: 'delivered', attempts: 1 },
    ]);
    expect(await db.db.selectFrom('webhooks').select(['last_success_at', 'failure_count']).executeTakeFirst()).toEqual({ last_success_at: clock.now().toISOString(), failure_count: 0 });
    expect(await db.db.selectFrom('telegram_recipients').select('last_success_at').executeTakeFirst()).toEqual({ last_success_at: clock.now().toISOString() });
    expect(await dispatcher().runDue()).toBe(0); // nothing is sent twice
  });

  test('a receiver that fails for a while then recovers gets every event, in order', async () => {
    await insertWebhook(db.db, userId, receiver.url, SECRET);
    await goOffline();
    await comeBack();
    await goOffline();
    webhookReply = (i) => (i < 5 ? { status: 503, body: 'busy' } : undefined);

    const d = dispatcher();
    for (let round = 0; round < 20 && (await deliveries()).some((x) => x.status === 'pending'); round++) {
      await d.runDue();
      if ((await deliveries()).some((x) => x.status === 'pending')) await toNextRetry();
    }
    const all = await events();
    expect(webhookEvents([200])).toEqual(all.map((e) => [e.type, e.id]));
    // Every request, failed or not, respected the order: never a later event before an earlier one was delivered.
    const order = receiver.received.map((r) => all.findIndex((e) => e.id === r.headers['webhook-id']));
    expect(order).toEqual([...order].sort((a, b) => a - b));
    expect(receiver.received.every((r) => r.verified)).toBe(true);
    expect((await deliveries())[0]).toMatchObject({ status: 'delivered', attempts: 6 });
  });

  test('a receiver back after failing for a minute gets everything still waiting at once, not each delivery after its own back-off', async () => {
    await insertWebhook(db.db, userId, receiver.url, SECRET);
    // Ten more machines, each silent from a later moment: their offline events come over the minute.
    const start = clock.now().getTime();
    for (let k = 1; k <= 10; k++) await insertMachine(db.db, userId, { name: `m${k}`, status: 'online', last_seen: new Date(start + k * 5_000).toISOString() });
    let failing = true;
    const deliveredAt: number[] = [];
    webhookReply = () => {
      if (failing) return { status: 503, body: 'down' };
      deliveredAt.push(clock.now().getTime());
      return undefined;
    };
    const d = dispatcher();
    const backAt = start + THRESHOLD + 60_000;
    clock.set(start + THRESHOLD + 1);
    for (; clock.now().getTime() < backAt; clock.advance(1_000)) {
      await sweep();
      await d.runDue();
    }
    expect(await events()).toHaveLength(11);
    expect((await deliveries()).every((x) => x.status === 'pending' && x.attempts > 0)).toBe(true);

    clock.set(backAt);
    failing = false;
    for (let round = 0; round < 50 && (await deliveries()).some((x) => x.status === 'pending'); round++) {
      await d.runDue();
      if ((await deliveries()).some((x) => x.status === 'pending')) await toNextRetry();
    }
    expect(deliveredAt).toHaveLength(11);
    // The first retry after the return succeeds, and every other waiting delivery goes out with it.
    expect(Math.max(...deliveredAt)).toBe(Math.min(...deliveredAt));
    expect(Math.max(...deliveredAt) - backAt).toBeLessThan(20_000);
    expect(await log.messages()).toContainEqual(expect.stringMatching(/^Webhook \d+ accepts deliveries again: 10 waiting deliveries are retried now$/));
  });

  test("a success brings the target's waiting deliveries forward, but never before a receiver's Retry-After", async () => {
    await insertWebhook(db.db, userId, receiver.url, SECRET);
    const limited = await insertMachine(db.db, userId, { name: 'limited', status: 'online', last_seen: clock.now().toISOString() });
    const failed = await insertMachine(db.db, userId, { name: 'failed', status: 'online', last_seen: clock.now().toISOString() });
    // The third machine goes silent a second later than the other two.
    await db.db.updateTable('machines').set({ last_seen: new Date(clock.now().getTime() + 1_000).toISOString() }).where('id', '=', machineId).execute();
    const tries = new Map<number, number>();
    webhookReply = (_i, request) => {
      const id = (request.json as { machine: { id: number } }).machine.id;
      tries.set(id, (tries.get(id) ?? 0) + 1);
      if (id === limited) return { status: 429, headers: { 'retry-after': '600' } };
      if (id === failed && tries.get(id) === 1) return { status: 503 };
      return undefined;
    };
    const d = dispatcher();
    await goOffline(2);
    const failedAt = clock.now().getTime();
    await d.runDue();
    expect((await deliveries()).map((x) => [x.machine_id, x.status, x.attempts])).toEqual([
      [limited, 'pending', 1],
      [failed, 'pending', 1],
    ]);

    clock.advance(1_000); // the 503 wants 3.75 s, the 429 ten minutes
    await goOffline(1, 0);
    await d.runDue();
    const rows = new Map((await deliveries()).map((x) => [x.machine_id, x]));
    expect(rows.get(machineId)).toMatchObject({ status: 'delivered', attempts: 1 });
    expect(rows.get(failed)).toMatchObject({ status: 'delivered', attempts: 2 }); // retried with it, not 2.75 s later
    expect(rows.get(limited)).toMatchObject({ status: 'pending', attempts: 1, next_attempt_at: new Date(failedAt + 600_000).toISOString() });
  });

  test('retries wait longer each time, and never less than Retry-After', async () => {
    await insertWebhook(db.db, userId, receiver.url, SECRET);
    await goOffline();
    webhookReply = (i) => (i === 0 ? { status: 500 } : i === 1 ? { status: 429, headers: { 'retry-after': '600' } } : undefined);
    const d = dispatcher();
    const start = clock.now().getTime();
    await d.runDue();
    let [row] = await deliveries();
    expect(row).toMatchObject({ status: 'pending', attempts: 1, last_error: 'HTTP 500 Internal Server Error', claimed_by: null });
    expect(Date.parse(row.next_attempt_at) - start).toBe(3_750); // 5 s step, half fixed + half × 0.5

    clock.advance(3_749);
    expect(await d.runDue()).toBe(0); // not due yet
    clock.advance(1);
    await d.runDue();
    [row] = await deliveries();
    expect(row).toMatchObject({ status: 'pending', attempts: 2 });
    expect(Date.parse(row.next_attempt_at) - clock.now().getTime()).toBe(600_000);
    expect((await db.db.selectFrom('webhooks').select(['failure_count', 'last_error']).executeTakeFirst())).toEqual({ failure_count: 2, last_error: 'HTTP 429 Too Many Requests' });
  });

  test('a delivery whose send succeeded but whose mark did not (a crash) is resent with the same event id', async () => {
    await insertWebhook(db.db, userId, receiver.url, SECRET);
    await goOffline();
    const [event] = await events();

    // Daemon A: its process "dies" right after the receiver answered 200, before the mark.
    const a = await secondConnection(db.path);
    const crashing: WebhookSender = {
      async send(target, eventId, body, signal) {
        const result = await webhook.send(target, eventId, body, signal);
        await a.close();
        return result;
      },
      close: async () => undefined,
    };
    // Its next claim fails on the dead connection: the process is gone, so is the error.
    await dispatcher({ webhook: crashing, instanceId: 'daemon-a' }, a).runDue().catch(() => undefined);
    expect(receiver.received).toHaveLength(1);
    expect((await deliveries())[0]).toMatchObject({ status: 'pending', claimed_by: 'daemon-a' });

    // Daemon B (the restart) waits for A's claim to expire, then sends again: same id, same body.
    const b = dispatcher({ instanceId: 'daemon-b' });
    expect(await b.runDue()).toBe(0);
    clock.advance(60_000);
    expect(await b.runDue()).toBe(1);
    expect(receiver.received.map((r) => r.headers['webhook-id'])).toEqual([event.id, event.id]);
    expect(receiver.received[1].rawBody).toBe(receiver.received[0].rawBody);
    expect((await deliveries())[0]).toMatchObject({ status: 'delivered', claimed_by: null });
  });

  test('the claims of a daemon instance that is certainly gone are taken over at once, not after the lease', async () => {
    await insertWebhook(db.db, userId, receiver.url, SECRET);
    await goOffline();
    const [event] = await events();
    const identity = (pidNamespace: string, started: string) => ({ bootId: 'boot-1', pidNamespace, started });
    // Its liveness row: this host, a pid, its process identity.
    const dead = await registerInstance(db.db, 'daemon', clock, { beatEveryMs: 1_000, identity: identity('pid:[1]', '111') });
    const a = await secondConnection(db.path);
    const crashing: WebhookSender = {
      async send(target, eventId, body, signal) {
        const result = await webhook.send(target, eventId, body, signal);
        await a.close();
        return result;
      },
      close: async () => undefined,
    };
    await dispatcher({ webhook: crashing, instanceId: dead }, a).runDue().catch(() => undefined);
    expect((await deliveries())[0]).toMatchObject({ status: 'pending', claimed_by: dead });

    // A daemon in another pid namespace of this host, even under the same pid: there the holder's pid
    // proves nothing, however old its beat. Not gone: the lease decides.
    const nobodyRuns = { runningProcessStarted: () => null, pidAlive: () => false };
    const twin: Host = { hostname: hostname(), pid: process.pid, identity: identity('pid:[2]', '111'), ...nobodyRuns };
    clock.advance(20_000); // the holder's beat long stale, its lease (30 s) still running
    await housekeeping({ instanceId: 'twin', host: twin }).runOnce();
    expect(await dispatcher({ instanceId: 'twin' }).runDue()).toBe(0);
    // The daemon restarted in the same pid namespace: no running process has that pid and start time.
    const restarted: Host = { hostname: hostname(), pid: process.pid + 1, identity: identity('pid:[1]', '222'), ...nobodyRuns };
    let woken = 0;
    await housekeeping({ instanceId: 'restarted', host: restarted, onReleased: () => woken++ }).runOnce();
    expect(woken).toBe(1); // the dispatcher is told at once, not at its next idle wake-up
    expect(await dispatcher({ instanceId: 'restarted' }).runDue()).toBe(1);
    expect(receiver.received.map((r) => r.headers['webhook-id'])).toEqual([event.id, event.id]);
    expect(await log.messages()).toContain(`Took over 1 delivery claim(s) of daemon instance ${dead}, which is no longer running`);
  });

  test('two dispatchers never send the same delivery at once', async () => {
    await insertWebhook(db.db, userId, receiver.url, SECRET);
    await goOffline();
    let answer!: () => void;
    let arrived!: () => void;
    const answered = new Promise<void>((resolve) => (answer = resolve));
    const inFlight = new Promise<void>((resolve) => (arrived = resolve));
    webhookReply = async () => {
      arrived();
      await answered;
      return undefined;
    };
    const other = await secondConnection(db.path);
    cleanups.push(() => other.close());
    const a = dispatcher({ instanceId: 'daemon-a' });
    const running = a.runDue();
    await inFlight;
    // A holds the claim while its request is in flight: B finds nothing to send.
    expect(await dispatcher({ instanceId: 'daemon-b' }, other).runDue()).toBe(0);
    answer();
    expect(await running).toBe(1);
    expect(await dispatcher({ instanceId: 'daemon-b' }, other).runDue()).toBe(0);
    expect(receiver.received).toHaveLength(1);
  });

  test('a 410 deactivates the webhook; its later deliveries fail without being sent', async () => {
    const hook = await insertWebhook(db.db, userId, receiver.url, SECRET);
    await goOffline();
    await comeBack();
    webhookReply = () => ({ status: 410 });
    await dispatcher().runDue();
    expect(receiver.received).toHaveLength(1);
    expect(await deliveries()).toMatchObject([
      { status: 'failed', attempts: 1, last_error: 'HTTP 410 Gone' },
      { status: 'failed', attempts: 0, last_error: `webhook ${hook} is inactive` },
    ]);
    expect(await db.db.selectFrom('webhooks').select(['is_active', 'last_error']).executeTakeFirst()).toEqual({ is_active: 0, last_error: 'HTTP 410 Gone' });
    expect(await log.messages()).toContain(`Webhook ${hook} deactivated: HTTP 410 Gone`);
  });

  test('a Telegram 403 (bot blocked) deactivates the chat', async () => {
    const chat = await insertTelegramRecipient(db.db, userId, 4242);
    await goOffline();
    telegramReply = () => ({ status: 403, body: { ok: false, error_code: 403, description: 'Forbidden: bot was blocked by the user' } });
    await dispatcher().runDue();
    expect(await deliveries()).toMatchObject([{ status: 'failed', last_error: 'Telegram 403: Forbidden: bot was blocked by the user' }]);
    expect(await db.db.selectFrom('telegram_recipients').select(['id', 'is_active']).executeTakeFirst()).toEqual({ id: chat, is_active: 0 });
  });

  test('other 4xx fail at once, and the next event of the stream goes out', async () => {
    await insertWebhook(db.db, userId, receiver.url, SECRET);
    await goOffline();
    await comeBack();
    webhookReply = (i) => (i === 0 ? { status: 400 } : undefined);
    await dispatcher().runDue();
    expect((await deliveries()).map((d) => [d.status, d.attempts])).toEqual([
      ['failed', 1],
      ['delivered', 1],
    ]);
  });

  test('a failing channel does not hold up another channel of the same machine', async () => {
    await insertWebhook(db.db, userId, receiver.url, SECRET);
    await insertTelegramRecipient(db.db, userId, 4242);
    await goOffline();
    await comeBack();
    webhookReply = () => ({ status: 503 });
    const d = dispatcher();
    await d.runDue();
    // The recovery is due while the chat is inside the window its offline message opened: held until the window ends.
    expect(telegramServer.messages.map((m) => m.text.split('\n')[0])).toEqual(['🔴 <b>Machine Offline</b>']);
    clock.advance(10_000);
    await d.runDue();
    expect(telegramServer.messages.map((m) => m.text.split('\n')[0])).toEqual(['🔴 <b>Machine Offline</b>', '🟢 <b>Machine Back Online</b>']);
    // The online webhook waits its turn: only (retries of) the offline one went out.
    expect(new Set(webhookEvents().map(([event, id]) => `${event} ${id}`))).toEqual(new Set([`machine.offline ${(await events())[0].id}`]));
  });

  test('after 24 h of failures a delivery is dead, logged as an error', async () => {
    await insertWebhook(db.db, userId, receiver.url, SECRET);
    await goOffline();
    const occurredAt = clock.now().getTime();
    webhookReply = () => ({ status: 502 });
    const d = dispatcher();
    for (let round = 0; round < 500 && (await deliveries())[0].status === 'pending'; round++) {
      await d.runDue();
      if ((await deliveries())[0].status === 'pending') await toNextRetry();
    }
    const [row] = await deliveries();
    expect(row).toMatchObject({ status: 'dead', last_error: 'HTTP 502 Bad Gateway' });
    expect(clock.now().getTime() - occurredAt).toBe(24 * 3600_000); // the last try happened at the deadline
    expect(receiver.received.length).toBe(row.attempts);
    expect((await log.messages()).filter((m) => m.includes('is dead'))).toHaveLength(1);
  });

  test('a failing delivery warns at its first failure and at each new kind of failure; the same failure again is info', async () => {
    const hook = await insertWebhook(db.db, userId, receiver.url, SECRET);
    await goOffline();
    const replies: WebhookResponse[] = [{ status: 503 }, { status: 502 }, { status: 503 }, { status: 503 }];
    webhookReply = (i) => replies[i];
    const d = dispatcher();
    const failingSince = clock.now().toISOString();
    for (let i = 0; i < replies.length; i++) {
      await d.runDue();
      await toNextRetry();
    }
    // Nothing listens on a just-released port: the next attempt is refused.
    await db.db.updateTable('webhooks').set({ url: `http://127.0.0.1:${await freePort()}/hook` }).where('id', '=', hook).execute();
    await d.runDue();
    await toNextRetry();
    await db.db.updateTable('webhooks').set({ url: receiver.url }).where('id', '=', hook).execute();
    expect(await db.db.selectFrom('webhooks').select(['failing_since', 'failure_count']).executeTakeFirst()).toEqual({ failing_since: failingSince, failure_count: 5 });
    await d.runDue();

    const attempts = (await log.leveled()).filter((m) => m.includes('Delivery 1 ') && !m.startsWith('debug'));
    expect(attempts.map((m) => m.replace(/ \(machine\.offline .*\) to webhook 1/, '').replace(/; next try at \S+$/, ''))).toEqual([
      'warn: Delivery 1 failed (attempt 1): HTTP 503 Service Unavailable',
      'warn: Delivery 1 now fails differently (attempt 2): HTTP 502 Bad Gateway (before: HTTP 503)',
      'info: Delivery 1 failed (attempt 3): HTTP 503 Service Unavailable',
      'info: Delivery 1 failed (attempt 4): HTTP 503 Service Unavailable',
      'warn: Delivery 1 now fails differently (attempt 5): connection refused (before: HTTP 503)',
      'info: Delivery 1 delivered after 6 attempts',
    ]);
    expect((await deliveries())[0]).toMatchObject({ status: 'delivered', attempts: 6 });
    // A success ends the failing streak.
    expect(await db.db.selectFrom('webhooks').select(['failing_since', 'failure_count']).executeTakeFirst()).toEqual({ failing_since: null, failure_count: 0 });
  });

  test.each<[string, WebhookResponse]>([
    ['a retryable failure (no "next try at" line)', { status: 503 }],
    ['a permanent failure (no "failed for good" line)', { status: 400 }],
  ])('an outcome whose write did not apply (another daemon had the row by then) is not logged: %s', async (_name, reply) => {
    await insertWebhook(db.db, userId, receiver.url, SECRET);
    await goOffline();
    // While the send is out, the claim passes to another daemon (ours expired and it claimed the row).
    webhookReply = async () => {
      await db.db.updateTable('deliveries').set({ claimed_by: 'daemon-b' }).execute();
      return reply;
    };
    await dispatcher().runDue();
    expect(receiver.received).toHaveLength(1);
    expect((await deliveries())[0]).toMatchObject({ status: 'pending', attempts: 0, claimed_by: 'daemon-b', last_error: null });
    const lines = (await log.messages()).filter((m) => m.startsWith('Delivery '));
    expect(lines).toEqual([]);

    // The same answer while we still hold the claim is recorded and logged.
    await db.db.updateTable('deliveries').set({ claimed_by: null, claimed_until: null }).execute();
    webhookReply = () => reply;
    await dispatcher().runDue();
    expect((await log.messages()).filter((m) => m.startsWith('Delivery '))).toEqual([expect.stringMatching(reply.status === 503 ? /failed \(attempt 1\): .*; next try at / : /failed for good: /)]);
  });

  test("a Retry-After reaching past the 24 h deadline makes the delivery dead at once, logged as an error (no retry before the server allows)", async () => {
    await insertWebhook(db.db, userId, receiver.url, SECRET);
    await goOffline();
    clock.advance(24 * 3600_000 - 60_000); // a minute left
    webhookReply = () => ({ status: 429, headers: { 'retry-after': '600' } });
    await dispatcher().runDue();
    expect(await deliveries()).toMatchObject([{ status: 'dead', attempts: 1, last_error: 'HTTP 429 Too Many Requests', claimed_by: null }]);
    expect(receiver.received).toHaveLength(1);
    expect((await log.messages()).filter((m) => m.includes('is dead'))).toEqual([expect.stringContaining("the server's Retry-After reaches past 24h after the event")]);
  });

  test('with Telegram off, Telegram deliveries wait untouched while webhooks go out', async () => {
    await insertWebhook(db.db, userId, receiver.url, SECRET);
    await insertTelegramRecipient(db.db, userId, 4242);
    await goOffline();
    expect(await dispatcher({ telegram: null }).runDue()).toBe(1);
    expect((await deliveries()).map((d) => [d.channel, d.status, d.attempts])).toEqual([
      ['webhook', 'delivered', 1],
      ['telegram', 'pending', 0],
    ]);
    // Once a token is configured they are sent.
    expect(await dispatcher().runDue()).toBe(1);
    expect(telegramServer.messages).toHaveLength(1);
  });

  test('with Telegram off, Telegram deliveries end dead 24 h after their event, never attempted, with one error line per batch', async () => {
    await insertTelegramRecipient(db.db, userId, 4242);
    await goOffline();
    await comeBack();
    const h = housekeeping({ telegram: null });
    await h.runOnce();
    expect(await dispatcher({ telegram: null }).runDue()).toBe(0);
    clock.advance(24 * 3600_000 - 500); // the offline event is 24 h old, the recovery (1 s later) not yet
    await h.runOnce();
    expect(await dispatcher({ telegram: null }).runDue()).toBe(0);
    expect((await deliveries()).map((r) => r.status)).toEqual(['dead', 'pending']);
    clock.advance(1_000);
    await h.runOnce(); // within the minute: expiry does not look again
    expect((await deliveries()).map((r) => r.status)).toEqual(['dead', 'pending']);
    clock.advance(60_000);
    await h.runOnce();
    expect(await dispatcher({ telegram: null }).runDue()).toBe(0);
    expect((await deliveries()).map((r) => [r.channel, r.status, r.attempts, r.last_error])).toEqual([
      ['telegram', 'dead', 0, 'never sent'],
      ['telegram', 'dead', 0, 'never sent'],
    ]);
    const errors = (await log.messages()).filter((m) => m.includes('are dead'));
    expect(errors).toEqual([
      expect.stringMatching(/^1 deliveries are dead: still not delivered 24h after their event \(0 webhook, 1 Telegram \(Telegram is off/),
      expect.stringMatching(/^1 deliveries are dead: .*first: delivery 2\)$/),
    ]);
  });

  test('expiry, retention, history pruning and maintenance history run once per period for all daemons sharing the database, not once per daemon', async () => {
    await insertTelegramRecipient(db.db, userId, 4242);
    await goOffline();
    clock.advance(24 * 3600_000 + 1);
    const other = await secondConnection(db.path);
    cleanups.push(() => other.close());
    const a = housekeeping({ telegram: null, instanceId: 'daemon-a' });
    const b = createHousekeeping({ db: other.db, clock, logger: log.logger, instanceId: 'daemon-b', channels: ['webhook'] });
    await Promise.all([a.runOnce(), b.runOnce()]);
    const turns = await db.db.selectFrom('monitor_state').select(['key', 'value']).where('key', 'like', 'housekeeping:%').orderBy('key').execute();
    expect(turns.map((t) => t.key)).toEqual(['housekeeping:expiry', 'housekeeping:history', 'housekeeping:maintenance history', 'housekeeping:retention']);
    expect((await log.messages()).filter((m) => m.includes('are dead'))).toHaveLength(1);
    // Within the minute neither looks again, whichever asks.
    clock.advance(30_000);
    await Promise.all([a.runOnce(), b.runOnce()]);
    expect((await db.db.selectFrom('monitor_state').select('updated_at').where('key', '=', 'housekeeping:expiry').executeTakeFirstOrThrow()).updated_at).toBe(
      new Date(clock.now().getTime() - 30_000).toISOString(),
    );
  });

  test('events older than 30 days whose deliveries are all final are deleted with their deliveries, at most once an hour', async () => {
    await insertWebhook(db.db, userId, receiver.url, SECRET);
    await insertTelegramRecipient(db.db, userId, 4242);
    await goOffline();
    expect(await dispatcher({ telegram: null }).runDue()).toBe(1); // webhook delivered, Telegram pending
    clock.advance(1_000);
    await comeBack();
    const d = dispatcher();
    expect(await d.runDue()).toBe(2); // the Telegram recovery waits for the window of the chat's offline message
    clock.advance(10_000);
    expect(await d.runDue()).toBe(1); // everything delivered now
    const [offline, online] = await events();
    const h = housekeeping();
    clock.set(Date.parse(online!.occurred_at) + 30 * 24 * 3600_000 - 500); // the offline event is past 30 days, the recovery not yet
    await h.runOnce();
    expect((await events()).map((e) => e.id)).toEqual([online!.id]);
    expect((await deliveries()).every((r) => r.event_id === online!.id)).toBe(true);
    // Within the hour the same housekeeping does not look again; after it, it does.
    clock.advance(1_000);
    await h.runOnce();
    expect(await events()).toHaveLength(1);
    clock.advance(3600_000);
    await h.runOnce();
    expect(await events()).toHaveLength(0);
    expect(await deliveries()).toHaveLength(0);
    expect(offline).toBeDefined();
  });

  test("a hanging webhook holds only its own share of send slots: another user's notification goes out meanwhile", async () => {
    // User A: a receiver that never answers, and many machines going offline at once.
    const hanging = await startWebhookReceiver({ secret: SECRET, respond: () => 'hang' });
    cleanups.push(() => hanging.close());
    await insertWebhook(db.db, userId, hanging.url, SECRET);
    for (let i = 0; i < 20; i++) await insertMachine(db.db, userId, { name: `a${i}`, status: 'online', last_seen: clock.now().toISOString() });
    // User B: one machine, a healthy receiver; its event is decided last, so its delivery is claimed last.
    const userB = await insertUser(db.db, 'b@example.com');
    await insertWebhook(db.db, userB, receiver.url, SECRET);
    clock.advance(1);
    await insertMachine(db.db, userB, { name: 'b', status: 'online', last_seen: clock.now().toISOString() });
    clock.advance(THRESHOLD + 1);
    await sweep();
    clock.advance(1);
    const d = dispatcher({ concurrency: 4, perTargetConcurrency: 2 });
    d.start();
    await receiver.waitFor((r) => r.length === 1);
    // A's sends are still hanging (no answer, nothing recorded), and only two of them were started.
    await hanging.waitFor((r) => r.length === 2);
    expect(hanging.received.map((r) => r.answeredStatus)).toEqual([undefined, undefined]);
    const aRows = await db.db.selectFrom('deliveries').select(['attempts', 'status']).where('target_id', '!=', 2).execute();
    expect(aRows.every((r) => r.status === 'pending' && r.attempts === 0)).toBe(true);
    await d.stop(0);
  });

  test('stopping cuts a stuck send short after the drain deadline and gives its claim back, counting no attempt', async () => {
    await insertWebhook(db.db, userId, receiver.url, SECRET);
    await goOffline();
    webhookReply = () => 'hang';
    const d = dispatcher();
    d.start();
    await receiver.waitFor((r) => r.length === 1);
    expect((await deliveries())[0]).toMatchObject({ claimed_by: 'daemon-a' });
    await d.stop(100);
    expect((await deliveries())[0]).toMatchObject({ status: 'pending', attempts: 0, claimed_by: null, claimed_until: null });
  });

  test("webhook secrets are not registered with the process redactor; a throw naming the target's secret is scrubbed of it", async () => {
    const plain = 'correct-horse-battery-staple-42'; // no whsec_ prefix: only registration would hide it
    await insertWebhook(db.db, userId, receiver.url, plain);
    await goOffline();
    const redactor = createRedactor([TOKEN]);
    const leaky: WebhookSender = {
      send: async (target): Promise<SendResult> => {
        throw new Error(`boom with ${target.secret}`);
      },
      close: async () => undefined,
    };
    await dispatcher({ webhook: leaky, redactor }).runDue();
    expect((await deliveries())[0]!.last_error).toBe('send failed: boom with [redacted]');
    expect(redactor.redact(`x ${plain} y`)).toBe(`x ${plain} y`);
  });

  test('a throwing sender is a retryable failure, not a lost delivery', async () => {
    await insertWebhook(db.db, userId, receiver.url, SECRET);
    await goOffline();
    const broken: WebhookSender = {
      send: async (): Promise<SendResult> => {
        throw new Error('boom');
      },
      close: async () => undefined,
    };
    await dispatcher({ webhook: broken }).runDue();
    expect((await deliveries())[0]).toMatchObject({ status: 'pending', attempts: 1, last_error: 'send failed: boom' });
  });

  /** `count` more machines of the owner, silent long enough to go offline at the next sweep. */
  async function moreMachines(count: number): Promise<number[]> {
    const ids: number[] = [];
    for (let i = 0; i < count; i++) ids.push(await insertMachine(db.db, userId, { name: `m${i}`, status: 'online', last_seen: clock.now().toISOString() }));
    return ids;
  }
  /** Every machine reports now, and a sweep turns the offline ones online. */
  async function allComeBack() {
    clock.advance(1_000);
    await db.db.updateTable('machines').set({ last_seen: clock.now().toISOString() }).execute();
    await sweep();
  }
  async function allGoOffline() {
    clock.advance(THRESHOLD + 1);
    await sweep();
  }
  /**
   * Runs the dispatcher until nothing is pending, moving the clock to each retry. A row that is due
   * already (nothing to wait for) is simply taken by the next round.
   */
  async function deliverEverything(d: ReturnType<typeof dispatcher>) {
    for (let round = 0; round < 100 && (await deliveries()).some((x) => x.status === 'pending'); round++) {
      await d.runDue();
      const at = await nextDueAt(db.db, clock.now(), ['webhook', 'telegram']);
      if (at) clock.set(at);
    }
    expect((await deliveries()).filter((x) => x.status !== 'delivered')).toEqual([]);
  }

  test('with many streams claimed in one batch, each machine still gets its events in order, through failures', async () => {
    await insertWebhook(db.db, userId, receiver.url, SECRET);
    await moreMachines(11); // 12 machines, 3 events each: offline, online, offline
    await allGoOffline();
    await allComeBack();
    await allGoOffline();
    expect(await deliveries()).toHaveLength(36);
    // Every third request fails: retries interleave with first attempts of other streams.
    webhookReply = (i) => (i % 3 === 1 ? { status: 503 } : undefined);
    await deliverEverything(dispatcher({ concurrency: 4, claimBatch: 256 }));

    const all = await events();
    const order = new Map(all.map((e, i) => [e.id, i]));
    const byMachine = new Map<number, number[]>();
    for (const r of receiver.received) {
      const body = r.json as { event_id: string; machine: { id: number } };
      byMachine.set(body.machine.id, [...(byMachine.get(body.machine.id) ?? []), order.get(body.event_id)!]);
    }
    expect(byMachine.size).toBe(12);
    for (const [id, seen] of byMachine) {
      // Every attempt, failed or not, respected the order: never a later event before an earlier one was delivered.
      expect({ id, seen }).toEqual({ id, seen: [...seen].sort((a, b) => a - b) });
    }
    const delivered = receiver.received.filter((r) => r.answeredStatus === 200).map((r) => r.headers['webhook-id']);
    expect(new Set(delivered).size).toBe(36);
    expect(delivered).toHaveLength(36); // nothing delivered twice
  });

  test('rows claimed by a daemon wait for it, even while they are still queued unsent', async () => {
    await insertWebhook(db.db, userId, receiver.url, SECRET);
    await moreMachines(4);
    await allGoOffline();
    let answer!: () => void;
    let arrived!: () => void;
    const answered = new Promise<void>((resolve) => (answer = resolve));
    const firstInFlight = new Promise<void>((resolve) => (arrived = resolve));
    webhookReply = async (i) => {
      if (i === 0) {
        arrived();
        await answered;
      }
      return undefined;
    };
    const other = await secondConnection(db.path);
    cleanups.push(() => other.close());
    // (Two dispatchers in one process must not claim at the same moment: better-sqlite3 waits for a
    // lock synchronously, so the holder could never finish. Across processes they simply queue.)
    const running = dispatcher({ instanceId: 'daemon-a', concurrency: 1 }).runDue();
    await firstInFlight;
    // A claimed all five in one batch and is sending the first: B finds nothing to send.
    expect(await dispatcher({ instanceId: 'daemon-b' }, other).runDue()).toBe(0);
    expect((await deliveries()).map((d) => d.claimed_by)).toEqual(Array(5).fill('daemon-a'));
    answer();
    expect(await running).toBe(5);
    expect(receiver.received).toHaveLength(5);
  });

  test('a claimed row that waited too long in the queue is given back unsent, then claimed and sent afresh', async () => {
    await insertWebhook(db.db, userId, receiver.url, SECRET);
    await moreMachines(2);
    await allGoOffline();
    const leaseMs = 30_000;
    const other = await secondConnection(db.path);
    cleanups.push(() => other.close());
    const leftOnClaim: number[] = [];
    webhookReply = async (_i, request) => {
      const row = await other.db
        .selectFrom('deliveries')
        .select('claimed_until')
        .where('event_id', '=', request.headers['webhook-id'] as string)
        .executeTakeFirstOrThrow();
      leftOnClaim.push(Date.parse(row.claimed_until!) - clock.now().getTime());
      if (request.index === 0) clock.advance(20_000); // the first send is slow: 20 s of the 30 s lease go by
      return undefined;
    };
    expect(await dispatcher({ concurrency: 1, leaseMs }).runDue()).toBe(5); // 3 claimed at first, 2 of them again
    expect(receiver.received).toHaveLength(3);
    // No send ever started with less than half a lease left on its claim.
    expect(Math.min(...leftOnClaim)).toBeGreaterThanOrEqual(leaseMs / 2);
    expect((await deliveries()).map((d) => [d.status, d.attempts])).toEqual(Array(3).fill(['delivered', 1]));
  });

  test('a 410 stops the rest of the batch going to that webhook at once', async () => {
    const hook = await insertWebhook(db.db, userId, receiver.url, SECRET);
    await moreMachines(2);
    await allGoOffline();
    webhookReply = () => ({ status: 410 });
    expect(await dispatcher({ concurrency: 1 }).runDue()).toBe(3);
    expect(receiver.received).toHaveLength(1);
    expect((await deliveries()).map((d) => [d.status, d.attempts, d.last_error])).toEqual([
      ['failed', 1, 'HTTP 410 Gone'],
      ['failed', 0, `webhook ${hook} is inactive`],
      ['failed', 0, `webhook ${hook} is inactive`],
    ]);
  });

  test("recording a batch leaves the webhook's bookkeeping as recording one by one would", async () => {
    await insertWebhook(db.db, userId, receiver.url, SECRET);
    await moreMachines(5);
    await allGoOffline();
    webhookReply = (i) => (i === 2 || i === 3 ? { status: 500 } : undefined);
    await dispatcher({ concurrency: 1 }).runDue();
    // Requests: ok, ok, 500, 500, ok, ok — the last successes reset the failure count.
    expect(await db.db.selectFrom('webhooks').select(['failure_count', 'last_error', 'last_success_at']).executeTakeFirst()).toEqual({
      failure_count: 0,
      last_error: 'HTTP 500 Internal Server Error',
      last_success_at: clock.now().toISOString(),
    });
    webhookReply = () => ({ status: 500 });
    clock.advance(10 * 60_000);
    await dispatcher({ concurrency: 1 }).runDue();
    expect(await db.db.selectFrom('webhooks').select(['failure_count']).executeTakeFirst()).toEqual({ failure_count: 2 });
  });

  testOn('sqlite', engine)('the writes of a dispatch round find their rows by key, never by walking every pending delivery', async () => {
    await insertWebhook(db.db, userId, receiver.url, SECRET);
    await moreMachines(9);
    await allGoOffline();
    webhookReply = (i) => (i === 3 ? { status: 503 } : i === 4 ? { status: 400 } : undefined);
    const recording = recordingKysely(db.sqlite);
    await dispatcher({}, { ...db, db: recording.db }).runDue();
    // Outcomes that arrive together are marked in one statement; its shape, whatever the data:
    await markDelivered(recording.db, (await deliveries()).map((d) => d.id), clock.now());
    const writes = recording.statements.filter((s) => /^update/i.test(s.sql) && !/claimed_by" = \?\s*and "status"/i.test(s.sql));
    expect(writes.length).toBeGreaterThan(3);
    for (const write of writes) {
      const plan = queryPlan(db.sqlite, write);
      expect({ sql: write.sql, plan }).toEqual({ sql: write.sql, plan: expect.stringMatching(/PRIMARY KEY/) });
    }
  });

  testOn('sqlite', engine)('the wake-up planning and claim-holder reads use the partial indexes of pending rows, never delivered history', async () => {
    const recording = recordingKysely(db.sqlite);
    await nextDueAt(recording.db, clock.now(), ['webhook', 'telegram']);
    await claimHolders(recording.db, 'daemon-a', clock.now());
    const plans = recording.statements.map((s) => queryPlan(db.sqlite, s));
    expect(plans).toEqual([
      expect.stringMatching(/SEARCH deliveries USING (COVERING )?INDEX idx_deliveries_due \(channel=\? AND next_attempt_at>\?\)/),
      expect.stringMatching(/SEARCH deliveries USING (COVERING )?INDEX idx_deliveries_pending_claims \(claimed_until>\?\)/),
      expect.stringMatching(/SEARCH d USING INDEX idx_deliveries_pending_claims \(claimed_until>\?\)/),
    ]);
    for (const plan of plans) expect(plan).not.toMatch(/SCAN (d|deliveries)\b/);
  });

  testOn('sqlite', engine)('with nothing due, a wake-up takes no write lock: it completes while another connection holds BEGIN IMMEDIATE', async () => {
    await insertWebhook(db.db, userId, receiver.url, SECRET);
    await goOffline();
    webhookReply = () => ({ status: 503 });
    const d = dispatcher();
    await d.runDue(); // one failure: the delivery waits for its retry; the minutely expiry has run
    expect((await deliveries())[0]).toMatchObject({ status: 'pending', attempts: 1 });
    clock.advance(1_000); // not due yet (the first retry is seconds away)
    const other = await secondConnection(db.path);
    cleanups.push(() => other.close());
    rawSqlite(other).exec('BEGIN IMMEDIATE');
    try {
      // With the write lock taken first, this would wait out the 10 s busy timeout and fail.
      await expect(d.runDue()).resolves.toBe(0);
    } finally {
      rawSqlite(other).exec('COMMIT');
    }
    // Once due, the claim takes the lock and sends.
    await toNextRetry();
    webhookReply = () => undefined;
    expect(await d.runDue()).toBe(1);
    expect((await deliveries())[0]).toMatchObject({ status: 'delivered', attempts: 2 });
  });

  testOn('sqlite', engine)("bringing a target's waiting deliveries forward reads only the channel's rows waiting for a later retry, never history", async () => {
    const recording = recordingKysely(db.sqlite);
    await bringForwardWaiting(recording.db, { channel: 'webhook', targetId: 1, now: clock.now() });
    await channelWasFailing(recording.db, 'webhook', 1);
    await channelWasFailing(recording.db, 'telegram', 1);
    const plans = recording.statements.map((s) => queryPlan(db.sqlite, s));
    expect(plans).toEqual([
      expect.stringMatching(/^SEARCH deliveries USING INDEX idx_deliveries_due \(channel=\? AND next_attempt_at>\?\)$/),
      expect.stringMatching(/^SEARCH webhooks USING INTEGER PRIMARY KEY \(rowid=\?\)$/),
      expect.stringMatching(/^SEARCH telegram_recipients USING INTEGER PRIMARY KEY \(rowid=\?\)$/),
    ]);
  });

  testOn('sqlite', engine)("the claim's lock-free pre-read is one seek on the due index", () => {
    const compiled = mayBeDueQuery(db.db, clock.now().toISOString(), ['webhook', 'telegram']).compile();
    expect(queryPlan(db.sqlite, compiled)).toMatch(/^SEARCH deliveries USING (COVERING )?INDEX idx_deliveries_due \(channel=\? AND next_attempt_at<\?\)$/);
  });

  testOn('sqlite', engine)('finding due deliveries reads pending rows through the indexes, never the whole (ever-growing) table', () => {
    const compiled = dueQuery(db.db, { now: clock.now(), channels: ['webhook', 'telegram'], limit: 8 }).compile();
    const plan = db.sqlite.prepare(`EXPLAIN QUERY PLAN ${compiled.sql}`).all(...(compiled.parameters as unknown[])) as Array<{ detail: string }>;
    const details = plan.map((p) => p.detail);
    expect(details).toContainEqual(expect.stringMatching(/^SEARCH d USING INDEX idx_deliveries_due \(channel=\? AND next_attempt_at<\?\)/));
    expect(details).toContainEqual(expect.stringMatching(/^SEARCH e USING COVERING INDEX idx_deliveries_stream \(channel=\? AND target_id=\? AND machine_id=\? AND status=\? AND id<\?\)/));
    expect(details.join(' | ')).not.toMatch(/SCAN (d|e|deliveries)\b/);
  });
});
