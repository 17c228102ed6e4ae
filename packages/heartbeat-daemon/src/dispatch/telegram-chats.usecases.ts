import { createTelegramPacing, earliestTelegramSendAt, recordTelegramSend, telegramBotSendsLeft, type Clock, type Database, type TelegramPacing } from '@lunasentri/shared';
import type { Kysely } from 'kysely';
import { DAEMON_TELEGRAM_PACING } from './digests.models';
import { claimDigests, nextChatReadyAt, type ClaimedDigest } from './digests.repository';

export interface TelegramChatsDeps {
  db: Kysely<Database>;
  clock: Clock;
  instanceId: string;
  leaseMs: number;
  /** TELEGRAM_GROUP_WINDOW in ms */
  windowMs: number;
}

/**
 * The dispatcher's Telegram side: chats are claimed as units, each with the one message it may get
 * now. The per-chat window and limits are kept in the database (shared by every daemon); the bot-wide
 * limit is this process's own.
 */
export interface TelegramChats {
  /** How many messages the bot may still send now, by its own limit. */
  sendsLeft(): number;
  /** Claims up to `limit` chats that may get a message now, each with its message. */
  claim(limit: number): Promise<ClaimedDigest[]>;
  /** When a chat's window or pacing bound, or the bot's own limit, lets the next message go; null when nothing waits. */
  nextReadyAt(now: Date): Promise<Date | null>;
}

export function createTelegramChats(deps: TelegramChatsDeps): TelegramChats {
  const { db, clock } = deps;
  let botPacing: TelegramPacing = createTelegramPacing(DAEMON_TELEGRAM_PACING);
  return {
    sendsLeft: () => telegramBotSendsLeft(botPacing, clock.now().getTime()),
    async claim(limit) {
      const now = clock.now();
      const claimed = await claimDigests(db, { now, instanceId: deps.instanceId, leaseMs: deps.leaseMs, windowMs: deps.windowMs, limit });
      for (const digest of claimed) if (digest.chatId !== null) botPacing = recordTelegramSend(botPacing, digest.chatId, now.getTime());
      return claimed;
    },
    async nextReadyAt(now) {
      const chat = await nextChatReadyAt(db, now, deps.windowMs);
      const bot = earliestTelegramSendAt(botPacing, 0, now.getTime());
      const times = [chat?.getTime(), bot > now.getTime() ? bot : undefined].filter((t): t is number => t !== undefined);
      return times.length === 0 ? null : new Date(Math.min(...times));
    },
  };
}
