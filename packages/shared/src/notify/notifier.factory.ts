import type { Clock } from '../clock';
import type { Redactor } from '../log';
import { createChannelSender, type ChannelSender } from './channel.sender';
import { createTelegramSender, type TelegramClient } from './telegram.sender';
import type { TelegramSender, WebhookSender } from './types';
import { createWebhookSender } from './webhook.sender';

/** The notify settings as `resolveSettings(notifySettings, …)` returns them (`webhookTimeout` in ms). */
export interface NotifierSettings {
  webhookTimeout: number;
  webhookAllowHttp: boolean;
  webhookAllowPrivate: boolean;
  /** empty: Telegram off */
  telegramBotToken: string;
  telegramApiRoot: string;
}

export interface NotifierDeps {
  /** signs `webhook-timestamp` */
  clock: Clock;
  /** the process's redactor; the bot token is registered with it so logs mask it too */
  redactor?: Redactor;
}

/** Both senders of one process, closed together; as a {@link ChannelSender}, one send for either. */
export interface Notifier extends ChannelSender {
  webhook: WebhookSender;
  /** `null` when no bot token is configured */
  telegram: TelegramSender | null;
  /** Closes every connection (in-flight requests get about a second before their sockets are destroyed). */
  close(): Promise<void>;
}

/**
 * Builds the notifier a composition root hands down: a webhook sender honouring WEBHOOK_TIMEOUT,
 * WEBHOOK_ALLOW_HTTP and WEBHOOK_ALLOW_PRIVATE, and a Telegram sender for TELEGRAM_API_ROOT when
 * TELEGRAM_BOT_TOKEN is set. Registers the bot token with the redactor before anything can log it.
 */
export function createNotifier(settings: NotifierSettings, deps: NotifierDeps): Notifier {
  deps.redactor?.add(settings.telegramBotToken);
  // The part after the bot id is the actual secret; mask it even where it shows up on its own.
  deps.redactor?.add(settings.telegramBotToken.split(':').slice(1).join(':'));
  const webhook = createWebhookSender({
    timeoutMs: settings.webhookTimeout,
    allowHttp: settings.webhookAllowHttp,
    allowPrivate: settings.webhookAllowPrivate,
    clock: deps.clock,
    redactor: deps.redactor,
  });
  const telegram: TelegramClient | null =
    settings.telegramBotToken === '' ? null : createTelegramSender({ token: settings.telegramBotToken, apiRoot: settings.telegramApiRoot, redactor: deps.redactor });
  return {
    ...createChannelSender({ webhook, telegram }),
    webhook,
    telegram,
    async close() {
      await Promise.all([webhook.close(), telegram?.close()]);
    },
  };
}
