import {
  createTelegramPacing,
  decideDigestRelease,
  earliestTelegramSendAt,
  planTelegramDigest,
  recordTelegramRetryAfter,
  recordTelegramSend,
  type MachineNotificationPayload,
  type TelegramPacing,
  TELEGRAM_PACING_LIMITS,
  type TelegramPacingLimits,
} from '@lunasentri/shared';

/*
 * Telegram digests as the dispatcher plans them (pure): what one chat's next message carries, its
 * text, and what the chat's stored pacing becomes after a send or a 429. The rules themselves live in
 * the shared notifier (`telegram.digest.ts`, `telegram.pacing.ts`, `telegram.digest-window.ts`);
 * these functions only turn stored rows into their inputs and their answers back into rows.
 */

/**
 * Telegram's limits as the daemon applies them: the shared defaults (1 message a second to a chat,
 * 20 a minute to a group, 25 a second for the bot). Telegram counts a message when it arrives; the
 * daemon counts a chat's send when its answer comes back (see `settleChat`), which is after the
 * arrival, so sends spaced by their answers arrive at least as far apart, however long a request
 * took on the way. (The bot-wide limit is counted at the claim, in memory, below Telegram's ~30/s.)
 */
export const DAEMON_TELEGRAM_PACING: Readonly<TelegramPacingLimits> = TELEGRAM_PACING_LIMITS;

/**
 * Deliveries one message carries at most. The text names the first few dozen and counts the rest;
 * the bound keeps a digest's writes (one id list) within what both engines bind in one statement.
 * A storm larger than this costs one more message per window.
 */
export const DIGEST_MAX_DELIVERIES = 2_000;

/** What one chat's pacing row says, as stored. */
export interface StoredChatPacing {
  chatId: number;
  /** JSON array of epoch ms */
  recentSends: string;
  pausedUntil: string | null;
}

function sendsOf(stored: StoredChatPacing): number[] {
  try {
    const parsed = JSON.parse(stored.recentSends) as unknown;
    return Array.isArray(parsed) ? parsed.filter((t): t is number => typeof t === 'number' && Number.isFinite(t)).sort((a, b) => a - b) : [];
  } catch {
    // A damaged value only loses pacing history: the next send is then paced from scratch.
    return [];
  }
}

/** The shared pacing model holding this one chat only (the bot-wide limit is each process's own). */
function chatPacing(stored: StoredChatPacing, limits: Readonly<TelegramPacingLimits>): TelegramPacing {
  const base = createTelegramPacing(limits);
  const pausedUntil = stored.pausedUntil === null ? 0 : Date.parse(stored.pausedUntil);
  return { ...base, chats: new Map([[stored.chatId, { sends: sendsOf(stored), pausedUntil }]]) };
}

/** The chat's stored pacing after a message to it starts at `nowMs`. */
export interface PacingAfterSend {
  recentSends: string;
  /** the earliest next message to this chat (ISO) */
  sendNotBefore: string;
}

/** Records a send in the chat's pacing: what to store, and when the next message may go. */
export function pacingAfterSend(stored: StoredChatPacing, nowMs: number, limits: Readonly<TelegramPacingLimits> = DAEMON_TELEGRAM_PACING): PacingAfterSend {
  const after = recordTelegramSend(chatPacing(stored, limits), stored.chatId, nowMs);
  const chat = after.chats.get(stored.chatId)!;
  // Earliest from the chat's own sends: a fresh state carries no bot-wide sends of other chats.
  const next = earliestTelegramSendAt({ ...after, botSends: [] }, stored.chatId, nowMs);
  return { recentSends: JSON.stringify(chat.sends), sendNotBefore: new Date(next).toISOString() };
}

/** Telegram answered 429 with `retry_after`: the chat is paused until `untilMs`; returns the pause and the next send time to store. */
export function pacingAfterRetryAfter(
  stored: StoredChatPacing,
  nowMs: number,
  untilMs: number,
  limits: Readonly<TelegramPacingLimits> = DAEMON_TELEGRAM_PACING,
): { pausedUntil: string; sendNotBefore: string } {
  const after = recordTelegramRetryAfter(chatPacing(stored, limits), stored.chatId, untilMs);
  const next = earliestTelegramSendAt({ ...after, botSends: [] }, stored.chatId, nowMs);
  return { pausedUntil: new Date(after.chats.get(stored.chatId)!.pausedUntil).toISOString(), sendNotBefore: new Date(next).toISOString() };
}

/**
 * How many of a chat's due deliveries its next new message takes (CONTRACT §6.1): all of them
 * (bounded) once the chat is past its window, none while it is inside it, one at a time with
 * digests off. A digest still waiting for its resend is not a new message: it keeps its own rows.
 */
export function newDigestTake(input: { lastMessageAt: string | null; windowMs: number; nowMs: number }): number {
  const release = decideDigestRelease({ lastMessageAt: input.lastMessageAt === null ? null : Date.parse(input.lastMessageAt), windowMs: input.windowMs, now: input.nowMs });
  if (release.kind === 'hold') return 0;
  return release.grouping === 'one-per-message' ? 1 : DIGEST_MAX_DELIVERIES;
}

/**
 * The text of one message for these deliveries' events, as stored with their events (the webhook
 * bodies). One event gives exactly its own message (CONTRACT §4.2); several give a digest.
 */
export function digestText(payloads: readonly string[], ownerEnabledMachines: number): string {
  const events = payloads.map((p) => JSON.parse(p) as MachineNotificationPayload);
  return planTelegramDigest(events, { ownerEnabledMachines }).text;
}
