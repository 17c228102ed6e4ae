/**
 * Telegram's sending limits as a pure model (CONTRACT §6.1 "Pacing"): the state is a value, every
 * function takes the time as an argument, and recording returns a new state. The dispatcher asks
 * {@link earliestTelegramSendAt} before a send and reports what happened with
 * {@link recordTelegramSend} / {@link recordTelegramRetryAfter}. Pacing only delays: nothing is
 * ever dropped here.
 *
 * The state lives in one process's memory. Several daemons sharing a bot each pace only their own
 * sends, so together they can exceed the bot-wide limit; Telegram then answers 429 and its
 * `retry_after` is honoured, which is slower but loses nothing.
 */

/** The limits, all in milliseconds or message counts. */
export interface TelegramPacingLimits {
  /**
   * Least time between two messages to one chat; default 1000 (one per second). Applied to group
   * chats too: Telegram asks bots to avoid more than one message per second in any chat, and the
   * per-minute group cap alone would allow a burst of 20 at once.
   */
  chatIntervalMs: number;
  /** Messages per rolling {@link groupWindowMs} to one group chat (negative `chat_id`); default 20. */
  groupMessagesPerWindow: number;
  /** default 60 000 (one minute) */
  groupWindowMs: number;
  /** Messages per rolling {@link botWindowMs} across all chats; default 25, under Telegram's ~30 to leave room for other bot calls. */
  botMessagesPerWindow: number;
  /** default 1000 (one second) */
  botWindowMs: number;
}

/** The defaults of {@link TelegramPacingLimits}. */
export const TELEGRAM_PACING_LIMITS: Readonly<TelegramPacingLimits> = Object.freeze({
  chatIntervalMs: 1000,
  groupMessagesPerWindow: 20,
  groupWindowMs: 60_000,
  botMessagesPerWindow: 25,
  botWindowMs: 1000,
});

/** What one chat's recent past still constrains. */
export interface TelegramChatPacing {
  /** send times (epoch ms), ascending; only as many as a limit can still look at */
  readonly sends: readonly number[];
  /** no send before this time (epoch ms) because Telegram said `retry_after`; 0 when not paused */
  readonly pausedUntil: number;
}

/**
 * Pacing state. Memory is bounded: a chat is forgotten once nothing it did can delay a send any
 * more, so chats that went quiet cost nothing, and each kept chat holds at most
 * `groupMessagesPerWindow` times.
 */
export interface TelegramPacing {
  readonly limits: Readonly<TelegramPacingLimits>;
  readonly chats: ReadonlyMap<number, TelegramChatPacing>;
  /** the bot's latest send times across all chats, ascending, at most `botMessagesPerWindow` */
  readonly botSends: readonly number[];
}

/** Group chats, supergroups and channels have negative ids; private chats positive. */
const isGroupChat = (chatId: number) => chatId < 0;

/**
 * An empty state with the default limits, or with some replaced.
 * @throws RangeError when a limit is not a positive integer (a zero limit would pace nothing, or forever)
 */
export function createTelegramPacing(limits: Partial<TelegramPacingLimits> = {}): TelegramPacing {
  const merged = { ...TELEGRAM_PACING_LIMITS, ...limits };
  for (const [name, value] of Object.entries(merged)) {
    if (!Number.isSafeInteger(value) || value <= 0) throw new RangeError(`Telegram pacing: ${name} must be a positive integer, got ${String(value)}`);
  }
  return { limits: Object.freeze(merged), chats: new Map(), botSends: [] };
}

/**
 * The earliest time (epoch ms, never before `now`) a message to `chatId` respects every limit:
 * the chat's spacing, a group's rolling minute, the bot's rolling second and a `retry_after` pause.
 * Each limit is a bound of the form "not before X" set by past sends, so the answer stays valid
 * for any later `now` until something else is recorded.
 */
export function earliestTelegramSendAt(state: TelegramPacing, chatId: number, now: number): number {
  const { limits } = state;
  let at = now;
  const chat = state.chats.get(chatId);
  if (chat) {
    const last = chat.sends[chat.sends.length - 1];
    if (last !== undefined) at = Math.max(at, last + limits.chatIntervalMs);
    if (isGroupChat(chatId) && chat.sends.length >= limits.groupMessagesPerWindow) {
      at = Math.max(at, chat.sends[chat.sends.length - limits.groupMessagesPerWindow]! + limits.groupWindowMs);
    }
    at = Math.max(at, chat.pausedUntil);
  }
  if (state.botSends.length >= limits.botMessagesPerWindow) {
    at = Math.max(at, state.botSends[state.botSends.length - limits.botMessagesPerWindow]! + limits.botWindowMs);
  }
  return at;
}

/**
 * Records a message sent to `chatId` at `at` (epoch ms): the moment of the send, as the caller's
 * clock read it, not a future slot. Count every request Telegram may have counted, whatever its
 * answer. Chats that no longer constrain anything at `at` are dropped here, which is what keeps
 * the state small; that is only sound because times do not go backwards.
 */
export function recordTelegramSend(state: TelegramPacing, chatId: number, at: number): TelegramPacing {
  const { limits } = state;
  const chats = new Map<number, TelegramChatPacing>();
  for (const [id, chat] of state.chats) if (id !== chatId && stillConstrains(limits, id, chat, at)) chats.set(id, chat);
  const chat = state.chats.get(chatId);
  const keep = isGroupChat(chatId) ? limits.groupMessagesPerWindow : 1;
  chats.set(chatId, { sends: insertKeepingLatest(chat?.sends ?? [], at, keep), pausedUntil: chat?.pausedUntil ?? 0 });
  return { limits, chats, botSends: insertKeepingLatest(state.botSends, at, limits.botMessagesPerWindow) };
}

/**
 * Records Telegram's 429 for `chatId`: no message to it before `until` (epoch ms; the caller adds
 * `retry_after` to its clock). A later, shorter answer never shortens a pause already known.
 */
export function recordTelegramRetryAfter(state: TelegramPacing, chatId: number, until: number): TelegramPacing {
  const chat = state.chats.get(chatId);
  const chats = new Map(state.chats);
  chats.set(chatId, { sends: chat?.sends ?? [], pausedUntil: Math.max(chat?.pausedUntil ?? 0, until) });
  return { ...state, chats };
}

/** Whether anything this chat did can still delay a send at `at` or later. */
function stillConstrains(limits: Readonly<TelegramPacingLimits>, chatId: number, chat: TelegramChatPacing, at: number): boolean {
  if (chat.pausedUntil > at) return true;
  const last = chat.sends[chat.sends.length - 1];
  if (last === undefined) return false;
  const reach = isGroupChat(chatId) ? Math.max(limits.chatIntervalMs, limits.groupWindowMs) : limits.chatIntervalMs;
  return last + reach > at;
}

/** `times` plus `at`, ascending, keeping only the `keep` latest (the only ones a limit reads). */
function insertKeepingLatest(times: readonly number[], at: number, keep: number): number[] {
  const next = [...times];
  let i = next.length;
  while (i > 0 && next[i - 1]! > at) i -= 1;
  next.splice(i, 0, at);
  return next.slice(-keep);
}

/**
 * How many messages the bot may send at `now` without passing its own rolling limit (the per-chat
 * limits aside): what a dispatcher can start at once across different chats.
 */
export function telegramBotSendsLeft(state: TelegramPacing, now: number): number {
  const { botMessagesPerWindow, botWindowMs } = state.limits;
  const recent = state.botSends.filter((at) => at > now - botWindowMs).length;
  return Math.max(0, botMessagesPerWindow - recent);
}
