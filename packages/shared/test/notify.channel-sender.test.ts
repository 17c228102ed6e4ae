import { buildOfflinePayload, createChannelSender, renderTelegramMessage, serializePayload, type SendResult, type TelegramSender, type WebhookSender } from '@lunasentri/shared';

/** Senders that record what they were asked to send (the HTTP behind them is tested on its own). */
function recordingSenders() {
  const webhookCalls: unknown[][] = [];
  const telegramCalls: unknown[][] = [];
  const ok: SendResult = { kind: 'delivered', status: 200 };
  const webhook: WebhookSender = { send: async (...args) => (webhookCalls.push(args), ok), close: async () => undefined };
  const telegram: TelegramSender = { sendMessage: async (...args) => (telegramCalls.push(args), ok) };
  return { webhook, telegram, webhookCalls, telegramCalls };
}

describe('one send for any channel', () => {
  const payload = buildOfflinePayload({
    eventId: 'e1',
    occurredAt: '2026-11-28T03:02:15.000Z',
    machine: { id: 1, name: 'web <1>', hostname: 'web-01', description: null, status: 'offline', last_seen: '2026-11-28T03:00:00.000Z' },
  });
  const message = { eventId: 'e1', payload: serializePayload(payload) };

  test('a webhook gets the stored body under the event id; a chat gets the rendered Telegram message', async () => {
    const s = recordingSenders();
    const sender = createChannelSender(s);
    expect(sender.channels).toEqual(['webhook', 'telegram']);
    await sender.send({ channel: 'webhook', url: 'https://example.com/hook', secret: 'whsec_x' }, message);
    await sender.send({ channel: 'telegram', chatId: -42 }, message);
    expect(s.webhookCalls).toEqual([[{ url: 'https://example.com/hook', secret: 'whsec_x' }, 'e1', message.payload, undefined]]);
    expect(s.telegramCalls).toEqual([[-42, renderTelegramMessage(payload), undefined]]);
  });

  test('with Telegram off, only webhooks are offered, and a chat delivery is refused as our misconfiguration', async () => {
    const s = recordingSenders();
    const sender = createChannelSender({ webhook: s.webhook, telegram: null });
    expect(sender.channels).toEqual(['webhook']);
    expect(await sender.send({ channel: 'telegram', chatId: 7 }, message)).toEqual({ kind: 'misconfigured', error: 'Telegram is off (TELEGRAM_BOT_TOKEN is not set)' });
    expect(s.telegramCalls).toEqual([]);
  });
});
