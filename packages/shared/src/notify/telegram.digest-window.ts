import { earliestTelegramSendAt, type TelegramPacing } from './telegram.pacing';

/** What a chat's digest window says about the notifications now due for it. */
export type DigestRelease =
  /**
   * Send at `at` (= now). With a window, one message carries everything due for the chat; with
   * no window (`TELEGRAM_GROUP_WINDOW=0s`) every event is a message of its own.
   */
  | { kind: 'send'; at: number; grouping: 'all-due' | 'one-per-message' }
  /** The chat is inside its window: keep everything due until `at`, then send it as one message. */
  | { kind: 'hold'; at: number };

/** Inputs of {@link decideDigestRelease}; times are epoch ms. */
export interface DigestWindowInput {
  /** when the chat last received a message from us (Telegram accepted it); null if never or unknown */
  lastMessageAt: number | null;
  /** `TELEGRAM_GROUP_WINDOW` in ms; 0 turns digests off */
  windowMs: number;
  now: number;
}

/**
 * CONTRACT §6.1 digest windows. A chat that received nothing during the last window gets what is
 * due at once, so a lone alert is never delayed; inside a window everything that becomes due is
 * held until the window ends (`lastMessageAt + windowMs`) and then goes as one message, whose send
 * opens the next window. A storm therefore costs a chat about one message per window.
 *
 * The window ends inclusively: at exactly `lastMessageAt + windowMs` the answer is "send". If the
 * clock stepped back behind `lastMessageAt`, the hold is capped at one window from now rather
 * than waiting for a time that has not come back. Unknown `lastMessageAt` (e.g. after a restart,
 * if the caller does not persist it) sends at once: at worst two messages in one window, never a
 * delayed alert.
 */
export function decideDigestRelease(input: DigestWindowInput): DigestRelease {
  const { lastMessageAt, windowMs, now } = input;
  if (windowMs <= 0) return { kind: 'send', at: now, grouping: 'one-per-message' };
  if (lastMessageAt === null || now >= lastMessageAt + windowMs) return { kind: 'send', at: now, grouping: 'all-due' };
  return { kind: 'hold', at: Math.min(lastMessageAt + windowMs, now + windowMs) };
}

/**
 * The earliest time the next message to `chatId` may go: the digest window's answer, pushed later
 * by pacing if needed (§6.1 "Pacing, whatever the window"). When pacing pushes a send past the
 * window's end the message still carries everything due by then, and its actual send time is the
 * `lastMessageAt` of the next window.
 */
export function nextTelegramMessageAt(input: DigestWindowInput & { pacing: TelegramPacing; chatId: number }): number {
  return Math.max(decideDigestRelease(input).at, earliestTelegramSendAt(input.pacing, input.chatId, input.now));
}
