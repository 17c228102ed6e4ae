import type { ChannelKind } from '../db/schema';
import { renderTelegramMessage } from './telegram.messages';
import type { MachineNotificationPayload } from './quiet-event.types';
import type { SendResult, TelegramSender, WebhookSender } from './types';

/** Where one delivery goes: a webhook (URL and signing secret) or a Telegram chat. */
export type ChannelTarget = { channel: 'webhook'; url: string; secret: string } | { channel: 'telegram'; chatId: number };

/** What one delivery carries: the event id (`webhook-id`) and the webhook body exactly as stored. */
export interface ChannelMessage {
  eventId: string;
  payload: string;
}

/**
 * Sends one delivery over whichever channel it names. The caller needs no channel knowledge: a
 * webhook gets the stored body, signed; a Telegram chat gets the event rendered as its message.
 */
export interface ChannelSender {
  /** The channels this process can send on (Telegram only with a bot token). */
  readonly channels: readonly ChannelKind[];
  send(target: ChannelTarget, message: ChannelMessage, signal?: AbortSignal): Promise<SendResult>;
  /**
   * Sends one Telegram message already rendered (a digest of several deliveries, see
   * `planTelegramDigest`): the caller settles every delivery it carries by this one result.
   */
  sendTelegramText(target: Extract<ChannelTarget, { channel: 'telegram' }>, html: string, signal?: AbortSignal): Promise<SendResult>;
}

const TELEGRAM_OFF: SendResult = { kind: 'misconfigured', error: 'Telegram is off (TELEGRAM_BOT_TOKEN is not set)' };

export function createChannelSender(senders: { webhook: WebhookSender; telegram: TelegramSender | null }): ChannelSender {
  const { webhook, telegram } = senders;
  return {
    channels: telegram ? ['webhook', 'telegram'] : ['webhook'],
    send(target, message, signal) {
      if (target.channel === 'webhook') return webhook.send({ url: target.url, secret: target.secret }, message.eventId, message.payload, signal);
      if (!telegram) return Promise.resolve(TELEGRAM_OFF);
      const payload = JSON.parse(message.payload) as MachineNotificationPayload;
      return telegram.sendMessage(target.chatId, renderTelegramMessage(payload), signal);
    },
    sendTelegramText(target, html, signal) {
      if (!telegram) return Promise.resolve(TELEGRAM_OFF);
      return telegram.sendMessage(target.chatId, html, signal);
    },
  };
}
