import { planTelegramDigest, renderTelegramDigest, renderTelegramMessage, telegramVisibleLength, TELEGRAM_MESSAGE_LIMIT, type MachineNotificationPayload } from '@lunasentri/shared';
import { expectWellFormedTelegramHtml, flapping, flappingEnded, offline, online, stillOffline, unknown } from './notify.telegram-fixtures';

const CONTEXT = { ownerEnabledMachines: 100 };
const linesOf = (html: string) => html.split('\n');

describe('how Telegram counts a message', () => {
  test.each<[string, string, number]>([
    ['empty text', '', 0],
    ['plain ASCII', 'abc', 3],
    ['a newline is one character', 'a\nb', 3],
    ['tags count nothing', '<b>x</b><i>y</i><code>z</code>', 3],
    ['each named entity counts as one', '&amp;&lt;&gt;&quot;', 4],
    ['an entity inside a tag is still one', '<b>&amp;</b>', 1],
    ['an escaped entity shows its text', '&amp;lt;', 4],
    ['an emoji outside the BMP is two UTF-16 units', '😀', 2],
    ['a BMP symbol with a variation selector is two', 'ℹ️', 2],
    ['a colour circle is two', '🔴 <b>T</b>', 4],
    ['a decimal entity for an astral character is two', '&#128512;', 2],
    ['a hex entity for an astral character is two', '&#x1F600;', 2],
    ['a decimal entity in the BMP is one', '&#65;', 1],
    ['a bare ampersand is itself', 'a & b', 5],
    ['a named entity Telegram does not know counts as typed', '&nbsp;', 6],
    ['a number past Unicode is not an entity', '&#1114112;', 10],
  ])('%s', (_name, html, expected) => {
    expect(telegramVisibleLength(html)).toBe(expected);
  });
});

describe('a digest of one event', () => {
  test.each<[string, MachineNotificationPayload]>([
    ['machine.offline', offline(1)],
    ['machine.offline, never seen, no hostname', offline(1, { last_seen: null, hostname: null })],
    ['machine.online', online(1, { status: 'online' })],
    ['machine.still_offline', stillOffline(1, 2)],
    ['machine.flapping', flapping(1)],
    ['machine.flapping_ended online', flappingEnded(1, 'online')],
    ['machine.flapping_ended offline', flappingEnded(1, 'offline')],
    ['an event type this version does not know', unknown(1)],
  ])('%s is exactly the single-event message', (_name, payload) => {
    const digest = planTelegramDigest([payload], CONTEXT);
    expect(digest.text).toBe(renderTelegramMessage(payload));
    expect(digest.listed).toEqual([payload]);
    expect(digest.unlisted).toEqual([]);
  });

  test('even with every machine of the owner offline there is no common-cause line for one event', () => {
    expect(renderTelegramDigest([offline(1)], { ownerEnabledMachines: 1 })).toBe(renderTelegramMessage(offline(1)));
  });

  test('no events is a caller error, not an empty message Telegram would refuse', () => {
    expect(() => planTelegramDigest([], CONTEXT)).toThrow(RangeError);
  });
});

describe('a digest of several events', () => {
  test.each<[string, MachineNotificationPayload[], string[]]>([
    ['a storm of outages gets one count title', Array.from({ length: 12 }, (_, i) => offline(i + 1)), ['🔴 <b>12 machines offline</b>']],
    ['recoveries get theirs', [online(1), online(2), online(3)], ['🟢 <b>3 machines back online</b>']],
    ['one of each kind is singular', [online(2), offline(1)], ['🔴 <b>1 machine offline</b>', '🟢 <b>1 machine back online</b>']],
    ['offline comes first even when the recovery was due first', [online(1), online(2), offline(3)], ['🔴 <b>1 machine offline</b>', '🟢 <b>2 machines back online</b>']],
    [
      'every kind, in order of urgency whatever the input order',
      [unknown(9), online(8), flappingEnded(7, 'online'), flappingEnded(6, 'offline'), flapping(5), stillOffline(4), stillOffline(3), offline(2), offline(1)],
      [
        '🔴 <b>2 machines offline</b>',
        '⏰ <b>2 machines still offline</b>',
        '🟡 <b>1 machine flapping</b>',
        '🔴 <b>1 machine stopped flapping, offline</b>',
        '🟢 <b>1 machine stopped flapping, online</b>',
        '🟢 <b>1 machine back online</b>',
        'ℹ️ <b>1 other notification</b>',
      ],
    ],
    ['unknown kinds are counted together', [unknown(1), unknown(2)], ['ℹ️ <b>2 other notifications</b>']],
  ])('%s', (_name, events, titles) => {
    const text = renderTelegramDigest(events, CONTEXT);
    expect(linesOf(text).slice(0, titles.length + 1)).toEqual([...titles, '']);
    expectWellFormedTelegramHtml(text);
  });

  test.each<[string, MachineNotificationPayload, string]>([
    ['an outage names the machine, its host and when it was last seen', offline(1), '🔴 web-1 (web-1.example.com) — last seen 2026-11-28 03:00:00 UTC'],
    ['a machine that never reported was last seen never', offline(1, { last_seen: null, hostname: null }), '🔴 web-1 — last seen never'],
    ['a recovery gives the downtime', online(1), '🟢 web-1 (web-1.example.com) — down 2m 15s'],
    ['a reminder gives the downtime and its number', stillOffline(1, 3), '⏰ web-1 (web-1.example.com) — down 1h 5m, reminder 3'],
    ['flapping gives the changes, the window and the status now', flapping(1, 'online'), '🟡 web-1 (web-1.example.com) — 5 changes in 30m 0s, now online'],
    ['settled offline says so and when it was last seen', flappingEnded(1, 'offline'), '🔴 web-1 (web-1.example.com) — stopped flapping, last seen 2026-11-28 03:00:00 UTC'],
    ['settled online says so', flappingEnded(1, 'online'), '🟢 web-1 (web-1.example.com) — stopped flapping'],
    ['an unknown kind names its event', unknown(1), 'ℹ️ web-1 (web-1.example.com) — machine.renamed'],
    ['names and hosts are escaped', offline(1, { name: '<b>x</b> & "y"', hostname: 'a&b' }), '🔴 &lt;b&gt;x&lt;/b&gt; &amp; &quot;y&quot; (a&amp;b) — last seen 2026-11-28 03:00:00 UTC'],
    ['an unknown event without a machine still gets a line', { event: 'x.y', event_id: 'e' } as unknown as MachineNotificationPayload, 'ℹ️ unknown machine — x.y'],
  ])('%s', (_name, payload, line) => {
    // A second event of another kind makes it a digest; its line comes before or after ours.
    const text = renderTelegramDigest([payload, { ...unknown(99), event: 'zzz.other' } as unknown as MachineNotificationPayload], CONTEXT);
    expect(linesOf(text)).toContain(line);
  });

  test('reads as counts, a blank line, then one plain line per machine in that order', () => {
    const text = renderTelegramDigest([online(3, { name: 'db', hostname: null }), offline(1), offline(2, { hostname: null })], { ownerEnabledMachines: 10 });
    expect(text).toBe(
      [
        '🔴 <b>2 machines offline</b>',
        '🟢 <b>1 machine back online</b>',
        '',
        '🔴 web-1 (web-1.example.com) — last seen 2026-11-28 03:00:00 UTC',
        '🔴 web-2 — last seen 2026-11-28 03:00:00 UTC',
        '🟢 db — down 2m 15s',
      ].join('\n'),
    );
  });

  test('machine lines carry no formatting, so a long list never passes Telegram’s 100-entity cap', () => {
    const events = Array.from({ length: 1000 }, (_, i) => (i % 2 ? offline(i) : online(i)));
    const text = renderTelegramDigest(events, CONTEXT);
    expect(text.match(/<b>/g)).toHaveLength(2);
    expect(text.match(/<(?!\/?b>)/g)).toBeNull();
  });
});

describe('the common-cause line', () => {
  const causeOf = (text: string) => (text.startsWith('⚠️') ? linesOf(text)[0] : null);

  test.each<[string, MachineNotificationPayload[], number, string | null]>([
    [
      'most of the owner’s machines going offline at once reads as one site problem',
      Array.from({ length: 12 }, (_, i) => offline(i + 1)),
      14,
      '⚠️ 12 of 14 machines went offline together: this looks like a network or site problem, not 12 separate failures.',
    ],
    ['exactly half is enough', [offline(1), offline(2), offline(3)], 6, '⚠️ 3 of 6 machines went offline together: this looks like a network or site problem, not 3 separate failures.'],
    ['just under half is not', [offline(1), offline(2), offline(3)], 7, null],
    ['two machines are never a common cause, even all of them', [offline(1), offline(2)], 2, null],
    ['recoveries in the same digest do not hide it', [online(7), offline(1), offline(2), offline(3)], 4, '⚠️ 3 of 4 machines went offline together: this looks like a network or site problem, not 3 separate failures.'],
    ['recoveries do not count towards it', [offline(1), offline(2), online(3), online(4)], 4, null],
    ['reminders are not machines going offline', [stillOffline(1), stillOffline(2), stillOffline(3)], 3, null],
    ['machines settling offline after flapping are not either', [flappingEnded(1, 'offline'), flappingEnded(2, 'offline'), flappingEnded(3, 'offline')], 3, null],
    ['a machine listed twice counts once', [offline(1), offline(1), offline(2)], 3, null],
    ['an owner count that lags the events never gives "3 of 2"', [offline(1), offline(2), offline(3)], 2, '⚠️ 3 of 3 machines went offline together: this looks like a network or site problem, not 3 separate failures.'],
  ])('%s', (_name, events, ownerEnabledMachines, expected) => {
    const text = renderTelegramDigest(events, { ownerEnabledMachines });
    expect(causeOf(text)).toBe(expected);
    // It comes before the title, separated by a blank line.
    if (expected) expect(linesOf(text).slice(1, 3)).toEqual(['', expect.stringMatching(/^🔴 <b>\d+ machines? offline<\/b>$/)]);
  });
});

describe('a digest never passes Telegram’s 4096 characters', () => {
  const hostile = '&<>"'.repeat(40);
  const emoji = '😀🔴👩‍👩‍👧‍👦🇺🇦'.repeat(20);
  const lonely = (i: number) => `${'😀'.repeat(47)}${i}`; // the field budget lands mid-string

  test.each<[string, () => MachineNotificationPayload[]]>([
    ['1,000 outages', () => Array.from({ length: 1000 }, (_, i) => offline(i + 1))],
    ['10,000 events of every kind', () => Array.from({ length: 10_000 }, (_, i) => [offline, online, stillOffline, flapping, unknown][i % 5]!(i + 1))],
    ['10,000 outages with long names made of escapable characters', () => Array.from({ length: 10_000 }, (_, i) => offline(i, { name: `${hostile}${i}`, hostname: hostile }))],
    ['1,000 outages named in emoji and surrogate pairs', () => Array.from({ length: 1000 }, (_, i) => offline(i, { name: `${emoji}${i}`, hostname: lonely(i) }))],
    ['1,000 recoveries with very long plain names', () => Array.from({ length: 1000 }, (_, i) => online(i, { name: 'n'.repeat(5000), hostname: 'h'.repeat(5000) }))],
  ])('%s: the list stops in time, says exactly how many more, and cuts nothing in half', (_name, build) => {
    const events = build();
    const { text, listed, unlisted } = planTelegramDigest(events, { ownerEnabledMachines: events.length });
    const length = telegramVisibleLength(text);
    expect(length).toBeLessThanOrEqual(TELEGRAM_MESSAGE_LIMIT);
    expectWellFormedTelegramHtml(text);

    // Every event is either named or counted in "… and K more", and K is exact.
    expect(listed.length + unlisted.length).toBe(events.length);
    expect(new Set([...listed, ...unlisted]).size).toBe(events.length);
    expect(linesOf(text).at(-1)).toBe(`… and ${unlisted.length} more`);
    // Machine lines are never blank, so the list starts after the header's last blank line.
    const lines = linesOf(text);
    expect(lines.slice(lines.lastIndexOf('') + 1, -1)).toHaveLength(listed.length);

    // The list stops because the next line would not fit, not earlier: the message is nearly full.
    expect(length).toBeGreaterThan(TELEGRAM_MESSAGE_LIMIT - 400);

    // Titles count every event, listed or not.
    const titleCounts = [...text.matchAll(/<b>(\d+) /g)].reduce((sum, m) => sum + Number(m[1]), 0);
    expect(titleCounts).toBe(events.length);
  });

  test('the listed events are the first ones in message order, the rest are the tail', () => {
    const events = Array.from({ length: 3000 }, (_, i) => (i % 3 === 0 ? online(i) : offline(i)));
    const { listed, unlisted } = planTelegramDigest(events, CONTEXT);
    expect(listed.every((e) => e.event === 'machine.offline')).toBe(true);
    expect(unlisted.filter((e) => e.event === 'machine.offline').map((e) => e.event_id)).toEqual(
      events.filter((e) => e.event === 'machine.offline').slice(listed.length).map((e) => e.event_id),
    );
    expect(unlisted.filter((e) => e.event === 'machine.online')).toHaveLength(1000);
  });

  test('a list that fits exactly is listed whole; one character more and it ends with "… and 1 more"', () => {
    // Enough short lines that one more name of up to 96 characters can reach the limit exactly.
    const base: MachineNotificationPayload[] = [];
    const textWith = (lastName: string) => planTelegramDigest([...base, offline(999, { hostname: null, name: lastName })], CONTEXT);
    while (telegramVisibleLength(textWith('x').text) < TELEGRAM_MESSAGE_LIMIT - 90) base.push(offline(base.length, { hostname: null, name: `m${base.length}` }));
    let count = 1;
    while (telegramVisibleLength(textWith('x'.repeat(count)).text) < TELEGRAM_MESSAGE_LIMIT && count < 96) count += 1;
    const exact = textWith('x'.repeat(count));
    expect(telegramVisibleLength(exact.text)).toBe(TELEGRAM_MESSAGE_LIMIT);
    expect(exact.unlisted).toEqual([]);
    expect(exact.text).not.toContain('more');

    const over = textWith('x'.repeat(count + 1));
    expect(over.unlisted.map((e) => e.event_id)).toEqual(['off-999']);
    expect(linesOf(over.text).at(-1)).toBe('… and 1 more');
    expect(telegramVisibleLength(over.text)).toBeLessThanOrEqual(TELEGRAM_MESSAGE_LIMIT);
  });

  test('a cut list may end exactly at the limit with its closing line, never one character past it', () => {
    // Ten long lines at the tail never fit; before them, a line whose length we sweep.
    const tail = Array.from({ length: 10 }, (_, i) => offline(500 + i, { name: 'T'.repeat(96), hostname: 'H'.repeat(96) }));
    const swept = (length: number) => offline(999, { hostname: null, name: 'x'.repeat(length) });
    const base: MachineNotificationPayload[] = [];
    const plan = (length: number, extra: MachineNotificationPayload[] = []) => planTelegramDigest([...base, ...extra, swept(length), ...tail], CONTEXT);
    const next = () => offline(base.length, { hostname: `host-${base.length}.example.com`, name: `m${base.length}` });
    while (plan(1, [next()]).listed.some((e) => e.event_id === 'off-999')) base.push(next());

    const lengths = Array.from({ length: 96 }, (_, i) => plan(i + 1)).map((p) => ({ length: telegramVisibleLength(p.text), listedSwept: p.listed.length > base.length }));
    expect(lengths.every((l) => l.length <= TELEGRAM_MESSAGE_LIMIT)).toBe(true);
    expect(lengths).toContainEqual({ length: TELEGRAM_MESSAGE_LIMIT, listedSwept: true });
  });
});
