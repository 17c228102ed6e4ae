import { createTelegramSender, createWebhookSender, telegramVisibleLength, type TelegramClient, type WebhookSender } from '@lunasentri/shared';
import { TestClock } from '../../../../test/support/test-clock';
import { createTestDb, type TestDb } from '../../../../test/support/db';
import { describeEachEngine, testOn } from '../../../../test/support/engines';
import { startFakeTelegram, type FakeTelegram, type FakeTelegramResponse, type TelegramMessage } from '../../../../test/support/fake-telegram';
import { insertMachine, insertTelegramRecipient, insertUser, insertWebhook } from '../../../../test/support/fixtures';
import { startWebhookReceiver, type WebhookReceiver } from '../../../../test/support/webhook-receiver';
import type { DispatcherDeps } from '../../src/dispatch/dispatcher.usecases';
import { printStatus } from '../../src/status.command';
import { createSweeper } from '../../src/sweep/sweep.usecases';
import { claimDigests, deleteUnusedDigests, nextChatReadyAt, settleChat } from '../../src/dispatch/digests.repository';
import { queryPlan, recordingKysely, testDispatcher, testLogger } from '../helpers';

const THRESHOLD = 120_000;
const WINDOW = 10_000;
const TOKEN = '123456:test-token-for-the-fake-bot-api-000';
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const PRIVATE_CHAT = 4242;
const GROUP_CHAT = -100777;

/** `… and K more` → K; 0 when the list is complete. */
function moreCount(text: string): number {
  const match = /\n… and (\d+) more$/.exec(text);
  return match ? Number(match[1]) : 0;
}
/** The machine lines of a digest (after the blank line that follows the titles). */
function machineLines(text: string): string[] {
  const body = text.slice(text.indexOf('\n\n', text.indexOf('<b>')) + 2).split('\n');
  return body.filter((line) => !line.startsWith('… and '));
}
/** How many notifications a message carries: its count titles, or one for a single event's message. */
function notificationsIn(text: string): number {
  const titles = [...text.matchAll(/<b>(\d+) machines? [^<]*<\/b>/g)].map((m) => Number(m[1]));
  return titles.length === 0 ? 1 : titles.reduce((a, b) => a + b, 0);
}
/** The most messages any rolling minute holds. */
function busiestMinute(messages: ReadonlyArray<{ at: number }>): number {
  return Math.max(0, ...messages.map((m) => messages.filter((o) => o.at >= m.at && o.at < m.at + 60_000).length));
}

describeEachEngine('Telegram digests and pacing, against a fake Bot API that enforces the limits', (engine) => {
  let db: TestDb;
  let clock: TestClock;
  let log: ReturnType<typeof testLogger>;
  let userId: number;
  let telegramServer: FakeTelegram;
  let receiver: WebhookReceiver;
  let telegram: TelegramClient;
  let webhook: WebhookSender;
  let telegramReply: (message: TelegramMessage) => FakeTelegramResponse | 'hang' | undefined;

  beforeEach(async () => {
    db = await createTestDb(engine);
    clock = new TestClock();
    log = testLogger();
    telegramReply = () => undefined;
    telegramServer = await startFakeTelegram({ token: TOKEN, limits: true, now: () => clock.now().getTime(), respond: (m) => telegramReply(m) });
    receiver = await startWebhookReceiver({ secret: SECRET, now: () => clock.now() });
    telegram = createTelegramSender({ token: TOKEN, apiRoot: telegramServer.apiRoot, timeoutMs: 5_000 });
    webhook = createWebhookSender({ allowHttp: true, allowPrivate: true, clock, timeoutMs: 5_000 });
    userId = await insertUser(db.db);
  });
  afterEach(async () => {
    await telegram.close();
    await webhook.close();
    await telegramServer.close();
    await receiver.close();
    await db.dispose();
  });

  const dispatcher = (overrides: Partial<DispatcherDeps> = {}) =>
    testDispatcher({ db: db.db, clock, logger: log.logger, webhook, telegram }, { telegramWindowMs: WINDOW, ...overrides });
  const sweep = () => createSweeper({ db: db.db, clock, logger: log.logger, thresholdMs: THRESHOLD }).run();
  /** `count` online machines whose last report was `agoMs` before now. */
  async function machines(count: number, agoMs = 0, name = (i: number) => `web-${String(i).padStart(3, '0')}`): Promise<number[]> {
    const lastSeen = new Date(clock.now().getTime() - agoMs).toISOString();
    const ids: number[] = [];
    for (let i = 0; i < count; i++) ids.push(await insertMachine(db.db, userId, { name: name(ids.length + 1), hostname: `h${i}.example.com`, status: 'online', last_seen: lastSeen }));
    return ids;
  }
  const deliveries = () => db.db.selectFrom('deliveries').selectAll().where('channel', '=', 'telegram').orderBy('id').execute();
  const accepted = () => telegramServer.accepted();

  test('200 machines going offline in one sweep reach a chat as one message, at once, each named or counted, with the common-cause line', async () => {
    await insertTelegramRecipient(db.db, userId, PRIVATE_CHAT);
    await insertWebhook(db.db, userId, receiver.url, SECRET);
    await machines(200);
    clock.advance(THRESHOLD + 1);
    const sweptAt = clock.now().getTime();
    expect((await sweep()).transitions).toHaveLength(200);
    const d = dispatcher();
    await d.runDue();
    clock.advance(WINDOW);
    await d.runDue();

    const messages = accepted();
    expect(messages.length).toBeLessThanOrEqual(2);
    expect(messages[0]!.at).toBe(sweptAt);
    const text = messages[0]!.text;
    expect(text.startsWith('⚠️ 200 of 200 machines went offline together: this looks like a network or site problem, not 200 separate failures.')).toBe(true);
    expect(text).toContain('🔴 <b>200 machines offline</b>');
    expect(telegramVisibleLength(text)).toBeLessThanOrEqual(4096);
    expect(machineLines(text).length + moreCount(text)).toBe(200);
    expect(moreCount(text)).toBeGreaterThan(0);
    expect(telegramServer.tooManyRequests).toBe(0);
    // One message settles all 200 rows; they share its id.
    const rows = await deliveries();
    expect(rows.every((r) => r.status === 'delivered')).toBe(true);
    expect(new Set(rows.map((r) => r.digest_id)).size).toBe(1);
    // Webhooks are not grouped: one POST per event.
    expect(new Set(receiver.received.map((r) => r.headers['webhook-id'])).size).toBe(200);
  });

  test('a lone offline is not delayed, and one that follows after a calm window is not either', async () => {
    await insertTelegramRecipient(db.db, userId, PRIVATE_CHAT);
    await machines(1, 0);
    await machines(1, -20_000); // reported 20 s later: crosses the threshold 20 s after the first
    const d = dispatcher();
    clock.advance(THRESHOLD + 1);
    await sweep();
    await d.runDue();
    expect(accepted().map((m) => m.at)).toEqual([clock.now().getTime()]);
    clock.advance(20_000);
    await sweep();
    await d.runDue();
    expect(accepted()).toHaveLength(2);
    expect(accepted()[1]!.at).toBe(clock.now().getTime());
    // Exactly the single-event message of §4.2.
    expect(accepted()[1]!.text.split('\n')[0]).toBe('🔴 <b>Machine Offline</b>');
  });

  test('a storm spread over 25 seconds costs at most 4 messages, each machine in exactly one', async () => {
    await insertTelegramRecipient(db.db, userId, PRIVATE_CHAT);
    // One machine crosses the threshold every second for 25 s.
    for (let s = 0; s <= 25; s++) await machines(1, -s * 1000, () => `storm-${s}`);
    const d = dispatcher();
    clock.advance(THRESHOLD + 1);
    for (let s = 0; s <= 25; s++) {
      await sweep();
      await d.runDue();
      clock.advance(1_000);
    }
    for (let i = 0; i < 3; i++) {
      clock.advance(WINDOW);
      await d.runDue();
    }
    const messages = accepted();
    expect(messages.length).toBeLessThanOrEqual(4);
    expect(messages.reduce((n, m) => n + notificationsIn(m.text), 0)).toBe(26);
    expect(telegramServer.tooManyRequests).toBe(0);
    expect((await deliveries()).every((r) => r.status === 'delivered')).toBe(true);
  });

  test('without digests a group chat still never gets more than 20 messages a minute, nor a private chat more than one a second; nothing is dropped', async () => {
    await insertTelegramRecipient(db.db, userId, GROUP_CHAT);
    await insertTelegramRecipient(db.db, userId, PRIVATE_CHAT);
    await machines(30);
    clock.advance(THRESHOLD + 1);
    await sweep();
    const d = dispatcher({ telegramWindowMs: 0 });
    for (let s = 0; s < 150 && (await deliveries()).some((r) => r.status === 'pending'); s++) {
      await d.runDue();
      clock.advance(1_000);
    }
    const group = accepted().filter((m) => m.chat_id === GROUP_CHAT);
    const direct = accepted().filter((m) => m.chat_id === PRIVATE_CHAT);
    expect(group).toHaveLength(30);
    expect(direct).toHaveLength(30);
    expect(busiestMinute(group)).toBeLessThanOrEqual(20);
    for (let i = 1; i < direct.length; i++) expect(direct[i]!.at - direct[i - 1]!.at).toBeGreaterThanOrEqual(1_000);
    expect(telegramServer.tooManyRequests).toBe(0);
    expect((await deliveries()).every((r) => r.status === 'delivered')).toBe(true);
  });

  test('a digest longer than 4096 characters stops its list in time and counts the rest exactly', async () => {
    await insertTelegramRecipient(db.db, userId, PRIVATE_CHAT);
    await machines(120, 0, (i) => `${'<long & "quoted">'.repeat(5)}-${i}`);
    clock.advance(THRESHOLD + 1);
    await sweep();
    await dispatcher().runDue();
    const [message] = accepted();
    expect(telegramVisibleLength(message!.text)).toBeLessThanOrEqual(4096);
    expect(telegramVisibleLength(message!.text)).toBeGreaterThan(3900);
    const lines = machineLines(message!.text);
    expect(lines.length + moreCount(message!.text)).toBe(120);
    expect(lines.every((l) => l.startsWith('🔴 &lt;long &amp; &quot;quoted&quot;&gt;'))).toBe(true);
  });

  test('an online never goes before the offline of its outage, even when they fall in two digests', async () => {
    await insertTelegramRecipient(db.db, userId, PRIVATE_CHAT);
    const [first] = await machines(2);
    const d = dispatcher();
    clock.advance(THRESHOLD + 1);
    await sweep(); // both offline: one digest
    await d.runDue();
    clock.advance(2_000);
    await db.db.updateTable('machines').set({ last_seen: clock.now().toISOString() }).where('id', '=', first!).execute();
    await sweep(); // the first is back: held in the window
    await d.runDue();
    expect(accepted()).toHaveLength(1);
    clock.advance(WINDOW);
    await d.runDue();
    const texts = accepted().map((m) => m.text.split('\n')[0]);
    expect(texts).toEqual(['🔴 <b>2 machines offline</b>', '🟢 <b>Machine Back Online</b>']);
  });

  test('a 429 pauses the chat for its retry_after; the message then goes once, with the same rows', async () => {
    await insertTelegramRecipient(db.db, userId, PRIVATE_CHAT);
    await machines(3);
    let refused = false;
    telegramReply = () => {
      if (refused) return undefined;
      refused = true;
      return { status: 429, body: { ok: false, error_code: 429, description: 'Too Many Requests: retry after 7', parameters: { retry_after: 7 } } };
    };
    const d = dispatcher();
    clock.advance(THRESHOLD + 1);
    await sweep();
    await d.runDue();
    expect(telegramServer.messages).toHaveLength(1);
    clock.advance(6_000);
    await d.runDue();
    expect(telegramServer.messages).toHaveLength(1); // still paused
    clock.advance(1_000);
    await d.runDue();
    expect(telegramServer.messages).toHaveLength(2);
    expect(telegramServer.messages[1]!.text).toBe(telegramServer.messages[0]!.text);
    expect((await deliveries()).every((r) => r.status === 'delivered' && r.attempts === 2)).toBe(true);
    // One line for the message, not one per delivery.
    const lines = (await log.messages()).filter((l) => l.includes('Too Many Requests'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^Telegram message \d+ \(3 notifications, first: machine\.offline for machine \d+\) to telegram \d+ failed \(attempt 1\)/);
  });

  test('a failed digest is retried with only its rows still pending, and nothing new joins it', async () => {
    await insertTelegramRecipient(db.db, userId, PRIVATE_CHAT);
    await machines(3);
    telegramReply = () => ({ status: 502, body: { ok: false, error_code: 502, description: 'Bad Gateway' } });
    const d = dispatcher();
    clock.advance(THRESHOLD + 1);
    await sweep();
    await d.runDue();
    expect(telegramServer.messages[0]!.text).toContain('🔴 <b>3 machines offline</b>');
    // Meanwhile one row ends otherwise (another daemon delivered it) and a fourth machine goes offline.
    const [settled] = await deliveries();
    await db.db.updateTable('deliveries').set({ status: 'delivered' }).where('id', '=', settled!.id).execute();
    await machines(1, THRESHOLD + 1, () => 'late');
    await sweep();
    telegramReply = () => undefined;
    clock.advance(10_000);
    await d.runDue();
    expect(telegramServer.messages[1]!.text.split('\n')[0]).toBe('🔴 <b>2 machines offline</b>');
    expect(telegramServer.messages[1]!.text).not.toContain('late');
    clock.advance(WINDOW);
    await d.runDue();
    expect(telegramServer.messages[2]!.text).toContain('<b>Machine:</b> late');
    const rows = await deliveries();
    expect(rows.every((r) => r.status === 'delivered')).toBe(true);
    expect(new Set(rows.slice(0, 3).map((r) => r.digest_id)).size).toBe(1);
    expect(rows[3]!.digest_id).not.toBe(rows[0]!.digest_id);
  });

  test('two daemons sending at once: each chat gets its digest once, claimed as a unit by one of them', async () => {
    await insertTelegramRecipient(db.db, userId, PRIVATE_CHAT);
    await insertTelegramRecipient(db.db, userId, GROUP_CHAT);
    await machines(50);
    clock.advance(THRESHOLD + 1);
    await sweep();
    await Promise.all([dispatcher({ instanceId: 'daemon-a' }).runDue(), dispatcher({ instanceId: 'daemon-b' }).runDue()]);
    expect(accepted().map((m) => m.chat_id).sort()).toEqual([GROUP_CHAT, PRIVATE_CHAT].sort());
    expect(accepted().every((m) => m.text.includes('<b>50 machines offline</b>'))).toBe(true);
    expect((await deliveries()).every((r) => r.status === 'delivered' && r.attempts === 1)).toBe(true);
  });

  test('`status` shows which pending rows wait in one message', async () => {
    await insertTelegramRecipient(db.db, userId, PRIVATE_CHAT);
    await machines(2);
    telegramReply = () => ({ status: 500, body: { ok: false, error_code: 500, description: 'Internal Server Error' } });
    clock.advance(THRESHOLD + 1);
    await sweep();
    await dispatcher().runDue();
    let out = '';
    await printStatus(db.db, clock, { json: false }, (t) => (out += t));
    const digestId = (await deliveries())[0]!.digest_id;
    const rows = out.split('\n').filter((l) => l.includes('machine.offline'));
    expect(rows).toHaveLength(2);
    for (const row of rows) expect(row).toContain(`#${digestId} (2)`);
  });

  testOn('sqlite', engine)("a chat's claim, its settlement, the wake-up planning and the clean-up read through indexes, never the whole outbox", async () => {
    await insertTelegramRecipient(db.db, userId, PRIVATE_CHAT);
    await insertTelegramRecipient(db.db, userId, GROUP_CHAT);
    await machines(20);
    clock.advance(THRESHOLD + 1);
    await sweep();
    const recording = recordingKysely(db.sqlite);
    const [claimed] = await claimDigests(recording.db, { now: clock.now(), instanceId: 'daemon-a', leaseMs: 30_000, windowMs: WINDOW, limit: 1 });
    await recording.db.transaction().execute((trx) => settleChat(trx, { recipientId: claimed!.target_id, digestId: claimed!.digestId, instanceId: 'daemon-a', at: clock.now(), accepted: false, sent: true, retryAt: clock.now() }));
    await nextChatReadyAt(recording.db, clock.now(), WINDOW);
    await deleteUnusedDigests(recording.db, clock.now(), 100);
    const reads = recording.statements.filter((st) => /^(select|update|delete|insert)/i.test(st.sql.trim()));
    expect(reads.length).toBeGreaterThan(10);
    for (const statement of reads) expect({ sql: statement.sql, plan: queryPlan(db.sqlite, statement) }).toEqual({ sql: statement.sql, plan: expect.not.stringMatching(/SCAN (d|e|g|p|deliveries|telegram_digests|telegram_chat_pacing)\b/) });
  });
});
