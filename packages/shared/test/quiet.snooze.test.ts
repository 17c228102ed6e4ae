import { isSnoozed, NEXT_ONLINE, parseSnoozeRequest, QuietInputError, snoozeEndedAt } from '@lunasentri/shared';

const NOW = new Date('2026-11-28T03:00:00.000Z');

describe('snooze requests', () => {
  test.each<[string, unknown, string]>([
    ['for a Go duration snoozes from now', { for: '2h' }, '2026-11-28T05:00:00.000Z'],
    ['for a compound duration', { for: '1h30m' }, '2026-11-28T04:30:00.000Z'],
    ['for exactly 30 days', { for: '720h' }, '2026-12-28T03:00:00.000Z'],
    ['for less than a millisecond still ends after now', { for: '1ns' }, '2026-11-28T03:00:00.001Z'],
    ['until a time with an offset is stored in UTC', { until: '2026-11-28T09:15:00+05:30' }, '2026-11-28T03:45:00.000Z'],
    ['until a time a millisecond ahead', { until: '2026-11-28T03:00:00.001Z' }, '2026-11-28T03:00:00.001Z'],
    ['until exactly 30 days ahead', { until: '2026-12-28T03:00:00Z' }, '2026-12-28T03:00:00.000Z'],
    ['until the next recovery', { until: 'next-online' }, NEXT_ONLINE],
  ])('accepts %s', (_name, body, snoozedUntil) => {
    expect(parseSnoozeRequest(body, NOW)).toBe(snoozedUntil);
  });

  test.each<[string, unknown, string, RegExp]>([
    ['a body that is not an object', 'for 2h', '', /JSON object with "for" or "until"/],
    ['an empty body', {}, 'for', /exactly one of "for" and "until"/],
    ['both for and until', { for: '2h', until: 'next-online' }, 'until', /exactly one of "for" and "until"/],
    ['an unknown field', { for: '2h', reason: 'deploy' }, 'reason', /reason is not a snooze field/],
    ['a misspelt field', { untill: 'next-online' }, 'untill', /untill is not a snooze field/],
    ['a zero duration', { for: '0s' }, 'for', /positive Go duration.*got "0s"/],
    ['a negative duration', { for: '-5m' }, 'for', /positive Go duration.*got "-5m"/],
    ['a duration that is not Go syntax', { for: '2 hours' }, 'for', /got "2 hours"/],
    ['a duration as a number', { for: 7200 }, 'for', /got 7200/],
    ['a duration over 30 days', { for: '720h0m0.001s' }, 'for', /at most 720h0m0s \(30 days\)/],
    ['a time in the past', { until: '2026-11-28T02:59:59Z' }, 'until', /until \(2026-11-28T02:59:59.000Z\) must be in the future/],
    ['a time equal to now', { until: '2026-11-28T03:00:00Z' }, 'until', /must be in the future/],
    ['a time more than 30 days ahead', { until: '2026-12-28T03:00:00.001Z' }, 'until', /at most 30 days ahead/],
    ['a time without an offset', { until: '2026-11-28T05:00:00' }, 'until', /with an offset.*or "next-online"/],
    ['a date only', { until: '2026-11-29' }, 'until', /got "2026-11-29"/],
    ['another keyword', { until: 'next-offline' }, 'until', /got "next-offline"/],
    ['null for until', { until: null }, 'until', /got null/],
  ])('refuses %s', (_name, body, field, message) => {
    let problem: unknown;
    try {
      parseSnoozeRequest(body, NOW);
    } catch (error) {
      problem = error;
    }
    expect(problem).toBeInstanceOf(QuietInputError);
    expect((problem as QuietInputError).field).toBe(field);
    expect((problem as QuietInputError).message).toMatch(message);
  });

  test('time may be given as epoch milliseconds', () => {
    expect(parseSnoozeRequest({ for: '30m' }, NOW.getTime())).toBe('2026-11-28T03:30:00.000Z');
  });
});

describe('whether a machine is snoozed', () => {
  test.each<[string, string | null, string, boolean, string | null]>([
    ['never snoozed', null, '2026-11-28T03:00:00.000Z', false, null],
    ['snoozed until a later time', '2026-11-28T05:00:00.000Z', '2026-11-28T04:59:59.999Z', true, null],
    ['a snooze is over at its end instant, and ended then', '2026-11-28T05:00:00.000Z', '2026-11-28T05:00:00.000Z', false, '2026-11-28T05:00:00.000Z'],
    ['a snooze that ran out earlier says when', '2026-11-28T05:00:00.000Z', '2026-11-29T00:00:00.000Z', false, '2026-11-28T05:00:00.000Z'],
    ['next-online stays snoozed until the daemon clears it', NEXT_ONLINE, '2027-01-01T00:00:00.000Z', true, null],
    ['an unreadable value never silences alerts', 'tomorrow', '2026-11-28T03:00:00.000Z', false, null],
  ])('%s', (_name, snoozedUntil, now, snoozed, endedAt) => {
    expect(isSnoozed(snoozedUntil, new Date(now))).toBe(snoozed);
    expect(snoozeEndedAt(snoozedUntil, new Date(now))?.toISOString() ?? null).toBe(endedAt);
  });
});
