import { createHmac } from 'node:crypto';
import { Api, GrammyError } from 'grammy';
import { request } from 'undici';
import { Webhook } from 'standardwebhooks';
import { startWebhookReceiver, type WebhookReceiver } from '../../../test/support/webhook-receiver';
import { startFakeTelegram, type FakeTelegram } from '../../../test/support/fake-telegram';

// The shared test servers are only worth something if they reject what is wrong.
describe('test support: webhook receiver', () => {
  let receiver: WebhookReceiver | undefined;
  afterEach(async () => {
    await receiver?.close();
    receiver = undefined;
  });

  const secret = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;

  function signedHeaders(body: string, key: string, timestamp = new Date()): Record<string, string> {
    const library = key.startsWith('whsec_') ? key : Buffer.from(key).toString('base64');
    return {
      'content-type': 'application/json',
      'webhook-id': 'evt_1',
      'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
      'webhook-signature': new Webhook(library).sign('evt_1', timestamp, body),
      'x-webhook-signature': `sha256=${createHmac('sha256', Buffer.from(key, 'utf8')).update(body).digest('hex')}`,
    };
  }

  test('marks a correctly signed delivery as verified', async () => {
    receiver = await startWebhookReceiver({ secret });
    const body = '{"event":"machine.offline"}';
    const response = await request(receiver.url, { method: 'POST', headers: signedHeaders(body, secret), body });
    await response.body.dump();
    expect(response.statusCode).toBe(200);
    expect(receiver.received).toHaveLength(1);
    expect(receiver.received[0]).toMatchObject({ verified: true, json: { event: 'machine.offline' }, answeredStatus: 200 });
  });

  test('refuses a delivery signed with another secret or a tampered body', async () => {
    receiver = await startWebhookReceiver({ secret });
    const body = '{"event":"machine.offline"}';
    const other = await request(receiver.url, { method: 'POST', headers: signedHeaders(body, `whsec_${Buffer.alloc(32, 8).toString('base64')}`), body });
    await other.body.dump();
    const tampered = await request(receiver.url, { method: 'POST', headers: signedHeaders(body, secret), body: body.replace('offline', 'online') });
    await tampered.body.dump();
    expect(receiver.received.map((r) => r.verified)).toEqual([false, false]);
    expect(receiver.received[0]!.verifyErrors).toHaveLength(2);
  });

  test('checks the timestamp against the injected now', async () => {
    const fakeNow = new Date('2030-01-01T00:00:00.000Z');
    receiver = await startWebhookReceiver({ secret: 'plain-secret-value', now: () => fakeNow });
    const body = '{}';
    const response = await request(receiver.url, { method: 'POST', headers: signedHeaders(body, 'plain-secret-value', fakeNow), body });
    await response.body.dump();
    expect(receiver.received[0]).toMatchObject({ verified: true });
  });

  test('waitFor rejects with what arrived when the condition never holds', async () => {
    receiver = await startWebhookReceiver({ secret });
    await expect(receiver.waitFor((r) => r.length > 0, 50)).rejects.toThrow(/condition not met within 50ms; 0 request/);
  });
});

describe('test support: fake Telegram', () => {
  let telegram: FakeTelegram | undefined;
  afterEach(async () => {
    await telegram?.close();
    telegram = undefined;
  });

  test('records sendMessage from grammY and answers like the Bot API', async () => {
    telegram = await startFakeTelegram({ token: '123456:test-token-abcdefghijklmnop' });
    const api = new Api('123456:test-token-abcdefghijklmnop', { apiRoot: telegram.apiRoot });
    const message = await api.sendMessage(-1001, '<b>hi</b>', { parse_mode: 'HTML' });
    expect(message.chat.id).toBe(-1001);
    expect(telegram.messages).toEqual([expect.objectContaining({ chat_id: -1001, text: '<b>hi</b>', parse_mode: 'HTML', answeredStatus: 200 })]);
  });

  test('answers 404 to a wrong token and records nothing', async () => {
    telegram = await startFakeTelegram({ token: '123456:test-token-abcdefghijklmnop' });
    const api = new Api('123456:wrong-token-abcdefghijklmnop', { apiRoot: telegram.apiRoot });
    const error = await api.sendMessage(1, 'x').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GrammyError);
    expect((error as GrammyError).error_code).toBe(404);
    expect(telegram.messages).toHaveLength(0);
  });

  test('returns whatever respond says, e.g. a 429 with retry_after', async () => {
    telegram = await startFakeTelegram({
      token: '123456:test-token-abcdefghijklmnop',
      respond: () => ({ status: 429, body: { ok: false, error_code: 429, description: 'Too Many Requests: retry after 3', parameters: { retry_after: 3 } } }),
    });
    const api = new Api('123456:test-token-abcdefghijklmnop', { apiRoot: telegram.apiRoot });
    const error = (await api.sendMessage(1, 'x').catch((e: unknown) => e)) as GrammyError;
    expect(error.error_code).toBe(429);
    expect(error.parameters.retry_after).toBe(3);
  });

  test('accepts urlencoded bodies', async () => {
    telegram = await startFakeTelegram({ token: '123456:test-token-abcdefghijklmnop' });
    const response = await request(`${telegram.apiRoot}/bot123456:test-token-abcdefghijklmnop/sendMessage`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'chat_id=42&text=hello&parse_mode=HTML',
    });
    await response.body.dump();
    await telegram.waitFor((m) => m.length === 1, 1000);
    expect(telegram.messages[0]).toMatchObject({ chat_id: 42, text: 'hello', parse_mode: 'HTML' });
  });
});
