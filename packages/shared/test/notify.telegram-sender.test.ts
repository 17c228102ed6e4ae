import { buildOfflinePayload, createTelegramSender, renderTelegramMessage, type TelegramClient } from '@lunasentri/shared';
import { closeAfterEach } from '../../../test/support/cleanup';
import { startFakeTelegram, type FakeTelegram, type FakeTelegramOptions } from '../../../test/support/fake-telegram';
import { freePort as closedPort } from '../../../test/support/net';

const token = '7234567890:AAH-test_token_value_0123456789abcdef';


const botError = (status: number, description: string, parameters?: Record<string, unknown>) => () => ({
  status,
  body: { ok: false, error_code: status, description, ...(parameters ? { parameters } : {}) },
});

describe('Telegram sender against a fake Bot API', () => {
  const track = closeAfterEach();

  async function fake(respond?: FakeTelegramOptions['respond']): Promise<FakeTelegram> {
    return track(await startFakeTelegram({ token, respond }));
  }
  function sender(apiRoot: string, timeoutMs?: number): TelegramClient {
    return track(createTelegramSender({ token, apiRoot, timeoutMs }));
  }

  test('sends sendMessage with chat_id, text and parse_mode HTML', async () => {
    const bot = await fake();
    expect(await sender(bot.apiRoot).sendMessage(-100123, '<b>hello</b>')).toEqual({ kind: 'delivered', status: 200 });
    expect(bot.messages).toHaveLength(1);
    expect(bot.messages[0]).toMatchObject({ chat_id: -100123, text: '<b>hello</b>', parse_mode: 'HTML' });
  });

  test('a trailing slash on the API root is tolerated', async () => {
    const bot = await fake();
    expect(await sender(`${bot.apiRoot}/`).sendMessage(1, 'x')).toMatchObject({ kind: 'delivered' });
  });

  test('machine names like <b>x</b> & "y" arrive escaped', async () => {
    const bot = await fake();
    const html = renderTelegramMessage(
      buildOfflinePayload({
        eventId: 'e',
        occurredAt: '2026-11-28T03:02:15Z',
        machine: { id: 1, name: '<b>x</b> & "y"', hostname: 'h', description: null, status: 'offline', last_seen: '2026-11-28T03:00:00Z' },
      }),
    );
    await sender(bot.apiRoot).sendMessage(42, html);
    expect(bot.messages[0]!.text).toContain('<b>Machine:</b> &lt;b&gt;x&lt;/b&gt; &amp; &quot;y&quot;');
    expect(bot.messages[0]!.parse_mode).toBe('HTML');
  });

  test('a 10,000-character description arrives as one message under the limit', async () => {
    const bot = await fake();
    const html = renderTelegramMessage(
      buildOfflinePayload({
        eventId: 'e',
        occurredAt: '2026-11-28T03:02:15Z',
        machine: { id: 1, name: 'db-1', hostname: 'db-1.internal', description: '<&>'.repeat(3334), status: 'offline', last_seen: null },
      }),
    );
    expect(await sender(bot.apiRoot).sendMessage(42, html)).toMatchObject({ kind: 'delivered' });
    expect(bot.messages[0]!.text.length).toBeLessThan(4096);
    expect(bot.messages[0]!.text).toContain('db-1.internal');
  });

  test('429 is retryable after retry_after seconds', async () => {
    const bot = await fake(botError(429, 'Too Many Requests: retry after 3', { retry_after: 3 }));
    expect(await sender(bot.apiRoot).sendMessage(1, 'x')).toEqual({ kind: 'retryable', error: 'Telegram 429: Too Many Requests: retry after 3', status: 429, retryAfterMs: 3000 });
  });

  test('408 (request timeout) is retryable', async () => {
    const bot = await fake(botError(408, 'Request Timeout'));
    expect(await sender(bot.apiRoot).sendMessage(1, 'x')).toEqual({ kind: 'retryable', error: 'Telegram 408: Request Timeout', status: 408 });
  });

  test('5xx is retryable', async () => {
    const bot = await fake(botError(502, 'Bad Gateway'));
    expect(await sender(bot.apiRoot).sendMessage(1, 'x')).toMatchObject({ kind: 'retryable', status: 502 });
  });

  test('403 (bot blocked or kicked) means the recipient is gone', async () => {
    const bot = await fake(botError(403, 'Forbidden: bot was blocked by the user'));
    expect(await sender(bot.apiRoot).sendMessage(1, 'x')).toEqual({ kind: 'gone', error: 'Telegram 403: Forbidden: bot was blocked by the user', status: 403 });
  });

  test('400 (chat not found, bad HTML) is permanent', async () => {
    const bot = await fake(botError(400, 'Bad Request: chat not found'));
    expect(await sender(bot.apiRoot).sendMessage(1, 'x')).toEqual({ kind: 'permanent', error: 'Telegram 400: Bad Request: chat not found', status: 400 });
  });

  test('401 is a configuration error, not a recipient problem', async () => {
    const bot = await fake(botError(401, 'Unauthorized'));
    expect(await sender(bot.apiRoot).sendMessage(1, 'x')).toEqual({ kind: 'misconfigured', error: 'Telegram 401: Unauthorized', status: 401 });
  });

  test('a wrong token or API root (404) is a configuration error too', async () => {
    const bot = await fake();
    const wrong = track(createTelegramSender({ token: '1111111:wrong-token-abcdefghijklmnopqrst', apiRoot: bot.apiRoot }));
    expect(await wrong.sendMessage(1, 'x')).toMatchObject({ kind: 'misconfigured', status: 404 });
  });

  test('a Bot API that cannot be reached is retryable', async () => {
    const port = await closedPort();
    expect(await sender(`http://127.0.0.1:${port}`).sendMessage(1, 'x')).toEqual({ kind: 'retryable', error: 'Telegram API unreachable: connection refused' });
  });

  test('a Bot API that never answers is retryable within the deadline', async () => {
    const bot = await fake(() => 'hang');
    const started = performance.now();
    expect(await sender(bot.apiRoot, 200).sendMessage(1, 'x')).toEqual({ kind: 'retryable', error: 'timeout after 200ms' });
    expect(performance.now() - started).toBeLessThan(2000);
  });

  test('a non-JSON answer (a proxy error page) is retryable', async () => {
    const bot = await fake(() => ({ status: 502, body: '<html>Bad Gateway</html>' }));
    expect(await sender(bot.apiRoot).sendMessage(1, 'x')).toEqual({ kind: 'retryable', error: 'Telegram API unreachable: unreadable response' });
  });

  test('JSON that is not a Bot API answer is retryable', async () => {
    const bot = await fake(() => ({ status: 200, body: { hello: 'proxy' } }));
    expect(await sender(bot.apiRoot).sendMessage(1, 'x')).toMatchObject({ kind: 'retryable', error: expect.stringContaining('unexpected') });
  });
});
