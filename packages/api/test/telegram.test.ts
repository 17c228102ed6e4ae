import { describeEachEngine } from '../../../test/support/engines';
import { startFakeTelegram, type FakeTelegram } from '../../../test/support/fake-telegram';
import { call, expectError, newUser, startTestApi, type TestApi, type TestApiOptions } from './support/harness';

const BOT_TOKEN = '123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw';

describeEachEngine('Telegram recipients', (engine) => {
  let api: TestApi;
  let alice: { id: number; token: string };
  let bob: { id: number; token: string };
  let telegram: FakeTelegram | undefined;

  async function start(options: TestApiOptions = {}) {
    api = await startTestApi(options);
    alice = await newUser(api, 'alice@example.com');
    bob = await newUser(api, 'bob@example.com');
  }

  afterEach(async () => {
    await api.dispose();
    await telegram?.close();
    telegram = undefined;
  });

  const create = (token: string, json: unknown) => call(api.url, 'POST', '/notifications/telegram', { auth: token, json });
  const rows = () => api.db.db.selectFrom('telegram_recipients').selectAll().orderBy('id').execute();

  describe('without a bot token', () => {
    beforeEach(() => start());

    it('creates, lists, updates and deletes recipients; group chats have negative ids', async () => {
      const person = await create(alice.token, { chat_id: 123456789 });
      expect(person.status).toBe(201);
      expect(person.body).toMatchObject({ id: expect.any(Number), chat_id: 123456789, is_active: true });
      const group = await create(alice.token, { chat_id: -1001234567890, is_active: false });
      expect(group.body).toMatchObject({ chat_id: -1001234567890, is_active: false });

      const list = await call(api.url, 'GET', '/notifications/telegram', { auth: alice.token });
      expect(list.body.map((r: { chat_id: number }) => r.chat_id)).toEqual([123456789, -1001234567890]);

      const updated = await call(api.url, 'PUT', `/notifications/telegram/${group.body.id}`, { auth: alice.token, json: { is_active: true, chat_id: -1009999 } });
      expect(updated.body).toMatchObject({ is_active: true, chat_id: -1009999 });

      expect((await call(api.url, 'DELETE', `/notifications/telegram/${person.body.id}`, { auth: alice.token })).status).toBe(204);
      expect((await rows()).map((r) => r.chat_id)).toEqual([-1009999]);
    });

    it('answers 409 for a chat the user already has, on create and on update', async () => {
      await create(alice.token, { chat_id: 42 });
      const other = await create(alice.token, { chat_id: 43 });
      expectError(await create(alice.token, { chat_id: 42 }), 409, 'telegram.duplicate_chat');
      expectError(await call(api.url, 'PUT', `/notifications/telegram/${other.body.id}`, { auth: alice.token, json: { chat_id: 42 } }), 409, 'telegram.duplicate_chat');
      expect((await create(bob.token, { chat_id: 42 })).status).toBe(201);
      expect((await rows()).map((r) => [r.user_id, r.chat_id])).toEqual([
        [alice.id, 42],
        [alice.id, 43],
        [bob.id, 42],
      ]);
    });

    it.each([
      ['a missing chat_id', {}],
      ['chat_id as a string', { chat_id: '42' }],
      ['a fractional chat_id', { chat_id: 4.2 }],
      ['chat_id 0', { chat_id: 0 }],
      ['a chat_id beyond 2^53', { chat_id: 1e20 }],
      ['chat_id null', { chat_id: null }],
      ['an unknown field', { chat_id: 42, username: 'alice' }],
    ])('refuses %s with 400 and stores nothing', async (_name, body) => {
      expectError(await create(alice.token, body), 400, 'telegram.invalid_payload');
      expect(await rows()).toEqual([]);
    });

    it('says plainly why chat_id 0 is refused, on create and update', async () => {
      const created = await create(alice.token, { chat_id: 0 });
      expectError(created, 400, 'telegram.invalid_payload');
      expect(created.body.error).toBe('chat_id must not be 0');
      const existing = await create(alice.token, { chat_id: 42 });
      const updated = await call(api.url, 'PUT', `/notifications/telegram/${existing.body.id}`, { auth: alice.token, json: { chat_id: 0 } });
      expectError(updated, 400, 'telegram.invalid_payload');
      expect(updated.body.error).toBe('chat_id must not be 0');
    });

    it('answers 404 for another user’s recipient on every route, and changes nothing', async () => {
      const bobs = await create(bob.token, { chat_id: 77 });
      const id = bobs.body.id;
      expectError(await call(api.url, 'PUT', `/notifications/telegram/${id}`, { auth: alice.token, json: { is_active: false } }), 404, 'telegram.not_found');
      expectError(await call(api.url, 'DELETE', `/notifications/telegram/${id}`, { auth: alice.token }), 404, 'telegram.not_found');
      expectError(await call(api.url, 'POST', `/notifications/telegram/${id}/test`, { auth: alice.token }), 404, 'telegram.not_found');
      expect((await call(api.url, 'GET', '/notifications/telegram', { auth: alice.token })).body).toEqual([]);
      expect(await rows()).toEqual([expect.objectContaining({ id, chat_id: 77, is_active: 1 })]);
    });

    it('answers 503 to a test send: Telegram is off without a bot token', async () => {
      const created = await create(alice.token, { chat_id: 42 });
      expectError(await call(api.url, 'POST', `/notifications/telegram/${created.body.id}/test`, { auth: alice.token }), 503, 'telegram.not_configured');
    });
  });

  describe('with a bot token and a Bot API', () => {
    it('sends a test message to the chat and answers 200', async () => {
      telegram = await startFakeTelegram({ token: BOT_TOKEN });
      await start({ telegramBotToken: BOT_TOKEN, telegramApiRoot: telegram.apiRoot });
      const created = await create(alice.token, { chat_id: -100123 });
      const tested = await call(api.url, 'POST', `/notifications/telegram/${created.body.id}/test`, { auth: alice.token });
      expect(tested.status).toBe(200);
      expect(tested.body).toMatchObject({ ok: true, outcome: 'delivered' });
      expect(telegram.messages).toHaveLength(1);
      expect(telegram.messages[0]).toMatchObject({ chat_id: -100123, parse_mode: 'HTML' });
      expect(telegram.messages[0].text).toContain('LunaSentri');
    });

    it('answers 502 with Telegram’s error, never the bot token', async () => {
      telegram = await startFakeTelegram({
        token: BOT_TOKEN,
        respond: () => ({ status: 400, body: { ok: false, error_code: 400, description: 'Bad Request: chat not found' } }),
      });
      await start({ telegramBotToken: BOT_TOKEN, telegramApiRoot: telegram.apiRoot });
      const created = await create(alice.token, { chat_id: 42 });
      const tested = await call(api.url, 'POST', `/notifications/telegram/${created.body.id}/test`, { auth: alice.token });
      expectError(tested, 502, 'telegram.test_failed');
      expect(tested.body.error).toContain('chat not found');
      expect(tested.text).not.toContain(BOT_TOKEN.split(':')[1]);
      expect(api.logs()).not.toContain(BOT_TOKEN.split(':')[1]);
    });
  });
});
