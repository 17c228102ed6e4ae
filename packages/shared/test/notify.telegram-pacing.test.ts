import {
  createTelegramPacing,
  decideDigestRelease,
  earliestTelegramSendAt,
  nextTelegramMessageAt,
  recordTelegramRetryAfter,
  recordTelegramSend,
  type DigestRelease,
  type TelegramPacing,
} from '@lunasentri/shared';

const PRIVATE = 42;
const GROUP = -1001234;
const T0 = Date.parse('2026-11-28T03:00:00.000Z');

/** A state after `sends` as [chatId, ms after T0] pairs, recorded in the order given. */
function after(sends: Array<[number, number]>, state: TelegramPacing = createTelegramPacing()): TelegramPacing {
  return sends.reduce((s, [chatId, at]) => recordTelegramSend(s, chatId, T0 + at), state);
}

/** `n` sends to `chatId`, `gapMs` apart, starting `startMs` after T0. */
const series = (chatId: number, n: number, gapMs: number, startMs = 0): Array<[number, number]> =>
  Array.from({ length: n }, (_, i) => [chatId, startMs + i * gapMs]);

/** `n` sends at the same moment, each to a different private chat. */
const fanOut = (n: number, atMs = 0, firstChat = 1000): Array<[number, number]> => Array.from({ length: n }, (_, i) => [firstChat + i, atMs]);

describe('Telegram pacing', () => {
  test.each<[string, Array<[number, number]>, number, number, number]>([
    // [name, sends so far, chat asked about, now (ms after T0), earliest (ms after T0)]
    ['a chat never written to can be written to now', [], PRIVATE, 0, 0],
    ['a private chat waits a second after its last message', [[PRIVATE, 0]], PRIVATE, 0, 1000],
    ['half a second later it still waits for the full second', [[PRIVATE, 0]], PRIVATE, 500, 1000],
    ['exactly a second later it may send', [[PRIVATE, 0]], PRIVATE, 1000, 1000],
    ['later than that it sends at once', [[PRIVATE, 0]], PRIVATE, 5000, 5000],
    ['only the last message counts for a private chat', series(PRIVATE, 3, 1000), PRIVATE, 2000, 3000],
    ['a private chat has no per-minute cap', series(PRIVATE, 40, 1000), PRIVATE, 39_000, 40_000],
    ['another chat is not held by this one', [[PRIVATE, 0]], PRIVATE + 1, 0, 0],
    ['a group chat also waits a second between messages', [[GROUP, 0]], GROUP, 0, 1000],
    ['a group with 19 messages this minute may have a 20th', series(GROUP, 19, 1000), GROUP, 19_000, 19_000],
    ['a group with 20 messages this minute waits until the first leaves the window', series(GROUP, 20, 1000), GROUP, 20_000, 60_000],
    ['the window rolls: after the 21st, the 22nd waits for the second to leave', series(GROUP, 21, 1000).map(([c, t], i) => [c, i === 20 ? 60_000 : t]), GROUP, 60_000, 61_000],
    ['bursts within the minute count together', [...series(GROUP, 10, 1000), ...series(GROUP, 10, 1000, 30_000)], GROUP, 40_000, 60_000],
    ['a group whose twenty messages are over a minute old sends at once', series(GROUP, 20, 1000), GROUP, 80_000, 80_000],
    ['24 messages this second across chats leave room for a 25th', fanOut(24), PRIVATE, 0, 0],
    ['25 messages this second across chats hold every other chat until it rolls', fanOut(25), PRIVATE, 0, 1000],
    ['the bot-wide second rolls from the oldest of the last 25', [...fanOut(5, 0), ...fanOut(20, 400, 2000)], PRIVATE, 400, 1000],
    ['it keeps rolling as newer messages replace the oldest', [...fanOut(5, 0), ...fanOut(20, 400, 2000), ...fanOut(5, 1000, 3000)], PRIVATE, 1000, 1400],
    ['a full bot-wide second outlasts a chat’s own spacing', [[PRIVATE, 0], ...fanOut(25, 900)], PRIVATE, 900, 1900],
    ['a chat’s own spacing outlasts a full bot-wide second', [...fanOut(24, 0), [PRIVATE, 500]], PRIVATE, 500, 1500],
  ])('%s', (_name, sends, chatId, now, expected) => {
    expect(earliestTelegramSendAt(after(sends), chatId, T0 + now) - T0).toBe(expected);
  });

  test.each<[string, (s: TelegramPacing) => TelegramPacing, number, number, number]>([
    // [name, what happened, chat asked about, now, earliest] — times in ms after T0
    ['a 429 pauses the chat until its retry_after', (s) => recordTelegramRetryAfter(s, PRIVATE, T0 + 30_000), PRIVATE, 0, 30_000],
    ['the pause outlasts the usual spacing', (s) => recordTelegramRetryAfter(recordTelegramSend(s, PRIVATE, T0), PRIVATE, T0 + 5000), PRIVATE, 1000, 5000],
    ['a shorter retry_after does not cut a known pause short', (s) => recordTelegramRetryAfter(recordTelegramRetryAfter(s, PRIVATE, T0 + 30_000), PRIVATE, T0 + 2000), PRIVATE, 0, 30_000],
    ['a longer one extends it', (s) => recordTelegramRetryAfter(recordTelegramRetryAfter(s, PRIVATE, T0 + 2000), PRIVATE, T0 + 30_000), PRIVATE, 0, 30_000],
    ['a paused chat does not hold other chats', (s) => recordTelegramRetryAfter(s, PRIVATE, T0 + 30_000), PRIVATE + 1, 0, 0],
    ['once the pause is over the chat sends at once', (s) => recordTelegramRetryAfter(s, GROUP, T0 + 30_000), GROUP, 31_000, 31_000],
    ['a pause survives sends to other chats', (s) => after(fanOut(10, 100), recordTelegramRetryAfter(s, GROUP, T0 + 30_000)), GROUP, 200, 30_000],
  ])('%s', (_name, happened, chatId, now, expected) => {
    expect(earliestTelegramSendAt(happened(createTelegramPacing()), chatId, T0 + now) - T0).toBe(expected);
  });

  test('recording returns a new state and leaves the old one as it was', () => {
    const before = after([[PRIVATE, 0]]);
    const later = recordTelegramSend(before, PRIVATE, T0 + 1000);
    const paused = recordTelegramRetryAfter(before, PRIVATE, T0 + 60_000);
    expect(earliestTelegramSendAt(before, PRIVATE, T0)).toBe(T0 + 1000);
    expect(earliestTelegramSendAt(later, PRIVATE, T0 + 1000)).toBe(T0 + 2000);
    expect(earliestTelegramSendAt(paused, PRIVATE, T0)).toBe(T0 + 60_000);
  });

  test('other limits can be given, e.g. for a self-hosted Bot API server', () => {
    const state = after(series(GROUP, 3, 1), createTelegramPacing({ chatIntervalMs: 1, groupMessagesPerWindow: 3, groupWindowMs: 10_000 }));
    expect(earliestTelegramSendAt(state, GROUP, T0 + 2) - T0).toBe(10_000);
  });

  test.each([['chatIntervalMs', 0], ['groupMessagesPerWindow', -1], ['botMessagesPerWindow', 2.5], ['botWindowMs', Number.NaN]] as const)(
    'a limit of %s = %s is refused rather than pacing nothing or forever',
    (name, value) => {
      expect(() => createTelegramPacing({ [name]: value })).toThrow(RangeError);
    },
  );

  describe('memory stays bounded', () => {
    test('private chats are forgotten a second after their last message', () => {
      // 10,000 chats, 25 a second: at most the last second's chats are remembered.
      let state = createTelegramPacing();
      for (let i = 0; i < 10_000; i += 1) state = recordTelegramSend(state, 1 + i, T0 + Math.floor(i / 25) * 1000);
      expect(state.chats.size).toBeLessThanOrEqual(25);
      expect(state.botSends.length).toBeLessThanOrEqual(25);
    });

    test('group chats are remembered for their minute, then forgotten', () => {
      let state = after(fanOut(10, 0, -5000).map(([chat, at]) => [-Math.abs(chat), at] as [number, number]));
      state = recordTelegramSend(state, PRIVATE, T0 + 59_999);
      expect(state.chats.size).toBe(11);
      state = recordTelegramSend(state, PRIVATE, T0 + 61_000);
      expect([...state.chats.keys()]).toEqual([PRIVATE]);
    });

    test('a busy group keeps only the messages its rolling minute can still see', () => {
      const state = after(series(GROUP, 500, 1000));
      expect(state.chats.get(GROUP)?.sends).toHaveLength(20);
    });

    test('a paused chat is kept until its pause ends, even with no messages', () => {
      let state = recordTelegramRetryAfter(createTelegramPacing(), PRIVATE, T0 + 30_000);
      state = recordTelegramSend(state, PRIVATE + 1, T0 + 29_000);
      expect(state.chats.has(PRIVATE)).toBe(true);
      state = recordTelegramSend(state, PRIVATE + 1, T0 + 30_000);
      expect(state.chats.has(PRIVATE)).toBe(false);
    });
  });

  test('a storm to many chats, sent as fast as pacing allows, keeps every limit and drops nothing', () => {
    // 60 messages each to 5 private chats and 5 groups, plus one to each of 200 other chats.
    const queue: number[] = [];
    for (let round = 0; round < 60; round += 1) for (const chat of [1, 2, 3, 4, 5, -1, -2, -3, -4, -5]) queue.push(chat);
    for (let i = 0; i < 200; i += 1) queue.push(100 + i);

    let state = createTelegramPacing();
    let now = T0;
    const sent: Array<[number, number]> = [];
    const pending = [...queue];
    while (pending.length > 0) {
      // Send the first queued message whose chat may go now; otherwise move the clock to the soonest.
      const times = pending.map((chat) => earliestTelegramSendAt(state, chat, now));
      const ready = times.findIndex((t) => t <= now);
      if (ready < 0) {
        now = Math.min(...times);
        continue;
      }
      const [chat] = pending.splice(ready, 1) as [number];
      state = recordTelegramSend(state, chat, now);
      sent.push([chat, now]);
    }

    expect(sent).toHaveLength(queue.length);
    const byChat = new Map<number, number[]>();
    for (const [chat, at] of sent) byChat.set(chat, [...(byChat.get(chat) ?? []), at]);
    for (const [chat, times] of byChat) {
      for (let i = 1; i < times.length; i += 1) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(1000);
      if (chat < 0) for (let i = 20; i < times.length; i += 1) expect(times[i]! - times[i - 20]!).toBeGreaterThanOrEqual(60_000);
    }
    const all = sent.map(([, at]) => at).sort((a, b) => a - b);
    for (let i = 25; i < all.length; i += 1) expect(all[i]! - all[i - 25]!).toBeGreaterThanOrEqual(1000);
  });
});

describe('Telegram digest windows', () => {
  const W = 10_000;

  test.each<[string, number | null, number, number, DigestRelease]>([
    // [name, last message (ms after T0), window, now, decision (times ms after T0)]
    ['a chat that never got a message gets the first alert at once', null, W, 0, { kind: 'send', at: 0, grouping: 'all-due' }],
    ['a chat quiet for longer than the window gets it at once', -60_000, W, 0, { kind: 'send', at: 0, grouping: 'all-due' }],
    ['the window ends inclusively: at exactly its end, send', -W, W, 0, { kind: 'send', at: 0, grouping: 'all-due' }],
    ['one millisecond inside the window, hold until it ends', -(W - 1), W, 0, { kind: 'hold', at: 1 }],
    ['right after a message, hold for the whole window', 0, W, 0, { kind: 'hold', at: W }],
    ['inside the window, hold until last message + window', -3000, W, 0, { kind: 'hold', at: 7000 }],
    ['a clock that stepped back holds at most one window from now', 50_000, W, 0, { kind: 'hold', at: W }],
    ['no window (0s): every event alone, at once', 0, 0, 0, { kind: 'send', at: 0, grouping: 'one-per-message' }],
    ['no window, never written to: still one per message', null, 0, 0, { kind: 'send', at: 0, grouping: 'one-per-message' }],
  ])('%s', (_name, last, windowMs, now, expected) => {
    const decision = decideDigestRelease({ lastMessageAt: last === null ? null : T0 + last, windowMs, now: T0 + now });
    expect({ ...decision, at: decision.at - T0 }).toEqual(expected);
  });

  test('a storm costs a chat one message per window, and each message opens the next window', () => {
    // An alert becomes due every 250 ms for a minute; the dispatcher looks every 250 ms.
    let lastMessageAt: number | null = null;
    let held = 0;
    const messages: Array<{ at: number; events: number }> = [];
    for (let t = 0; t < 60_000; t += 250) {
      held += 1;
      const decision = decideDigestRelease({ lastMessageAt, windowMs: W, now: T0 + t });
      if (decision.kind === 'send') {
        messages.push({ at: t, events: held });
        lastMessageAt = T0 + t;
        held = 0;
      }
    }
    expect(messages.map((m) => m.at)).toEqual([0, 10_000, 20_000, 30_000, 40_000, 50_000]);
    expect(messages.map((m) => m.events)).toEqual([1, 40, 40, 40, 40, 40]);
  });

  test('a lone alert after a quiet spell is never delayed', () => {
    expect(decideDigestRelease({ lastMessageAt: T0, windowMs: W, now: T0 + W + 30_000 })).toEqual({ kind: 'send', at: T0 + W + 30_000, grouping: 'all-due' });
  });

  test.each<[string, number | null, number, (s: TelegramPacing) => TelegramPacing, number]>([
    // [name, last message, window, pacing history, when the next message may go] — ms after T0, now = 0
    ['with no window, pacing alone spaces a private chat', -500, 0, (s) => recordTelegramSend(s, PRIVATE, T0 - 500), 500],
    ['inside a window, its end is later than pacing', -2000, W, (s) => recordTelegramSend(s, PRIVATE, T0 - 2000), 8000],
    ['a retry_after past the window’s end wins', -2000, W, (s) => recordTelegramRetryAfter(recordTelegramSend(s, PRIVATE, T0 - 2000), PRIVATE, T0 + 20_000), 20_000],
    ['a busy bot delays even a chat with no window to wait for', null, W, (s) => after(fanOut(25, -100)), 900],
  ])('%s', (_name, last, windowMs, history, expected) => {
    const pacing = history(createTelegramPacing());
    expect(nextTelegramMessageAt({ pacing, chatId: PRIVATE, lastMessageAt: last === null ? null : T0 + last, windowMs, now: T0 }) - T0).toBe(expected);
  });
});
