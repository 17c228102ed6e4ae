import { createLogger, createNotifier, createRedactor, generateWebhookSecret, type SendResult } from '@lunasentri/shared';
import { TestClock } from '../../../test/support/test-clock';
import { captureStream } from '../../../test/support/capture';
import { closeAfterEach } from '../../../test/support/cleanup';
import { startFakeTelegram } from '../../../test/support/fake-telegram';
import { freePort as closedPort } from '../../../test/support/net';
import { startWebhookReceiver } from '../../../test/support/webhook-receiver';

const botToken = '7234567890:AAH-secret_token_value_0123456789abcd';
const whsecSecret = generateWebhookSecret();
const plainSecret = 'plain-webhook-secret-value-42';

const settings = { webhookTimeout: 200, webhookAllowHttp: true, webhookAllowPrivate: true, telegramBotToken: botToken };

describe('secrets stay out of errors and logs', () => {
  const clock = new TestClock();
  const track = closeAfterEach();

  test('no bot token or webhook secret appears in any error text or log line of the failure paths', async () => {
    const redactor = createRedactor();
    const out = captureStream();
    const logger = createLogger({ stream: out.stream, env: {}, level: 'debug', redactor });

    // One receiver per secret, so every delivery it records must verify.
    const whsecStatuses = [500, 503, 429];
    const plainStatuses = [400, 410, 307];
    const whsecHook = await track(
      await startWebhookReceiver({
        secret: whsecSecret,
        now: () => clock.now(),
        respond: (_request, index) => (index < whsecStatuses.length ? { status: whsecStatuses[index]!, headers: { 'retry-after': '1' } } : 'hang'),
      }),
    );
    const plainHook = await track(
      await startWebhookReceiver({
        secret: plainSecret,
        now: () => clock.now(),
        respond: (_request, index) => ({ status: plainStatuses[index] ?? 200, headers: { location: 'http://127.0.0.1:1/' } }),
      }),
    );
    const telegramAnswers = [
      { status: 429, body: { ok: false, error_code: 429, description: 'Too Many Requests: retry after 3', parameters: { retry_after: 3 } } },
      { status: 403, body: { ok: false, error_code: 403, description: 'Forbidden: bot was kicked from the group chat' } },
      // A server that echoes the token back must not get it into our error text.
      { status: 400, body: { ok: false, error_code: 400, description: `Bad Request: token ${botToken} cannot send to this chat` } },
      { status: 401, body: { ok: false, error_code: 401, description: 'Unauthorized' } },
    ];
    const bot = await track(await startFakeTelegram({ token: botToken, respond: (_m, index) => telegramAnswers[index] ?? 'hang' }));
    const deadPort = await closedPort();

    const notifier = await track(createNotifier({ ...settings, telegramApiRoot: bot.apiRoot }, { clock, redactor }));
    const unreachable = await track(createNotifier({ ...settings, telegramApiRoot: `http://127.0.0.1:${deadPort}` }, { clock, redactor }));
    const unparsable = await track(createNotifier({ ...settings, telegramApiRoot: 'http://[not-a-host' }, { clock, redactor }));
    const strict = await track(createNotifier({ ...settings, webhookAllowHttp: false, webhookAllowPrivate: false, telegramApiRoot: bot.apiRoot }, { clock, redactor }));

    const results: SendResult[] = [];
    const body = '{"event":"machine.offline"}';
    // Users do put secrets into URLs; the query string must not leak either.
    const hookUrl = `${whsecHook.url}?key=${encodeURIComponent(plainSecret)}`;
    for (let i = 0; i < whsecStatuses.length; i += 1) results.push(await notifier.webhook.send({ url: hookUrl, secret: whsecSecret }, 'evt_1', body));
    for (let i = 0; i < plainStatuses.length; i += 1) results.push(await notifier.webhook.send({ url: `${plainHook.url}?key=${plainSecret}`, secret: plainSecret }, 'evt_1', body));
    results.push(await notifier.webhook.send({ url: hookUrl, secret: whsecSecret }, 'evt_1', body)); // hangs → timeout
    results.push(await notifier.webhook.send({ url: `http://127.0.0.1:${deadPort}/?key=${plainSecret}`, secret: plainSecret }, 'evt_1', body));
    results.push(await strict.webhook.send({ url: hookUrl, secret: plainSecret }, 'evt_1', body));
    results.push(await strict.webhook.send({ url: `https://localhost/${plainSecret}?key=${plainSecret}`, secret: plainSecret }, 'evt_1', body));
    results.push(await notifier.webhook.send({ url: hookUrl, secret: 'whsec_!!' + plainSecret }, 'evt_1', body));
    for (let i = 0; i < telegramAnswers.length; i += 1) results.push(await notifier.telegram!.sendMessage(1, 'x'));
    results.push(await unreachable.telegram!.sendMessage(1, 'x'));
    results.push(await unparsable.telegram!.sendMessage(1, 'x'));

    for (const result of results) {
      logger.warn('Delivery failed', { kind: result.kind, error: result.kind === 'delivered' ? undefined : result.error });
    }
    await logger.close();

    // Every path above really failed, in the class the contract gives it.
    expect(results.map((r) => r.kind)).toEqual([
      'retryable', 'retryable', 'retryable', // whsec_: 500, 503, 429
      'permanent', 'gone', 'permanent', // plain: 400, 410, 307
      'retryable', 'retryable', 'permanent', 'permanent', 'permanent',
      'retryable', 'gone', 'permanent', 'misconfigured',
      'retryable', 'misconfigured',
    ]);
    expect(whsecHook.received).toHaveLength(4);
    expect(plainHook.received).toHaveLength(3);
    expect([...whsecHook.received, ...plainHook.received].every((r) => r.verified)).toBe(true);

    const texts = [...results.map((r) => JSON.stringify(r)), out.text()];
    for (const text of texts) {
      for (const secret of [botToken, whsecSecret, whsecSecret.slice(6), plainSecret, encodeURIComponent(whsecSecret)]) {
        expect(text).not.toContain(secret);
      }
      expect(text).not.toContain('AAH-secret_token');
    }
    expect(out.lines()).toHaveLength(results.length);
  });

  test('the notifier registers the bot token with the redactor and has no Telegram sender without one', async () => {
    const redactor = createRedactor();
    const withBot = await track(createNotifier({ ...settings, telegramApiRoot: 'http://127.0.0.1:1' }, { clock, redactor }));
    expect(withBot.telegram).not.toBeNull();
    expect(redactor.redact(`starting with ${botToken.split(':')[1]}`)).not.toContain(botToken.split(':')[1]);
    const withoutBot = await track(createNotifier({ ...settings, telegramBotToken: '', telegramApiRoot: 'https://api.telegram.org' }, { clock }));
    expect(withoutBot.telegram).toBeNull();
  });
});
