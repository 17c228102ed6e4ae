import {
  decideReminder,
  nextReminderAt,
  parseRemindEvery,
  parseRemindMax,
  QuietInputError,
  REMIND_EVERY_DEFAULT_MS,
  REMIND_MAX_DEFAULT,
  startReminders,
  type ReminderPolicy,
} from '@lunasentri/shared';

const T0 = Date.parse('2026-11-28T03:00:00.000Z');
const MIN = 60_000;
const HOURLY: ReminderPolicy = { everyMs: 60 * MIN, max: 3 };
const at = (minutes: number): Date => new Date(T0 + minutes * MIN);
const range = (from: number, to: number, step = 1): number[] => Array.from({ length: Math.floor((to - from) / step) + 1 }, (_, i) => from + i * step);

/** Runs the daemon's checks at the given minutes after the announcement; returns [minute, reminder] per send. */
function checksAt(minutes: number[], policy: ReminderPolicy = HOURLY): Array<[number, number]> {
  let state = startReminders(at(0), policy);
  const sent: Array<[number, number]> = [];
  for (const minute of minutes) {
    const decision = decideReminder(state, policy, at(minute));
    if (decision.kind === 'send') {
      sent.push([minute, decision.reminder]);
      state = decision.state;
    }
  }
  return sent;
}

describe('reminders while a machine stays offline', () => {
  test.each<[string, number[], ReminderPolicy, Array<[number, number]>]>([
    ['one every remind_every after the announcement, remind_max times', range(0, 400), HOURLY, [[60, 1], [120, 2], [180, 3]]],
    ['a check every 30s sends at the first check at or after each due time', range(0, 400, 0.5), HOURLY, [[60, 1], [120, 2], [180, 3]]],
    ['a check that comes late sends then, and the next stays on the grid', [0, 59, 61.5, 100, 119.9, 120, 121, 200], HOURLY, [[61.5, 1], [120, 2], [200, 3]]],
    ['a daemon stopped across two due times sends one on start, then keeps the grid', [...range(0, 50), ...range(150, 400)], HOURLY, [[150, 1], [180, 2], [240, 3]]],
    ['a daemon stopped past every due time still sends one, then keeps the grid', [...range(0, 50), ...range(500, 700)], HOURLY, [[500, 1], [540, 2], [600, 3]]],
    ['a restart between due times neither skips nor repeats one', [...range(0, 70), ...range(75, 400)], HOURLY, [[60, 1], [120, 2], [180, 3]]],
    ['a second check at the same instant as a send sends nothing more', [60, 60, 60, 120], HOURLY, [[60, 1], [120, 2]]],
    ['remind_max 1 sends a single reminder', range(0, 400), { everyMs: 60 * MIN, max: 1 }, [[60, 1]]],
    ['remind_every 0s sends none', range(0, 400), { everyMs: 0, max: 3 }, []],
    ['every 5 minutes, the shortest allowed', range(0, 30), { everyMs: 5 * MIN, max: 100 }, [[5, 1], [10, 2], [15, 3], [20, 4], [25, 5], [30, 6]]],
  ])('%s', (_name, minutes, policy, expected) => {
    expect(checksAt(minutes, policy)).toEqual(expected);
  });

  test.each<[string, { sent: number }, ReminderPolicy, number, number | null]>([
    ['the first reminder is one period after the announcement', { sent: 0 }, HOURLY, 0, 60],
    ['the next after a send on a grid point is the following grid point', { sent: 1 }, HOURLY, 120, 180],
    ['the next after a late send is the first grid point after it', { sent: 1 }, HOURLY, 150, 180],
    ['asked before the announcement, the first grid point', { sent: 0 }, HOURLY, -10, 60],
    ['none once remind_max were sent', { sent: 3 }, HOURLY, 180, null],
    ['none when reminders are off', { sent: 0 }, { everyMs: 0, max: 3 }, 0, null],
  ])('%s', (_name, outage, policy, afterMinute, expectedMinute) => {
    const next = nextReminderAt({ announcedAt: at(0), ...outage }, policy, at(afterMinute));
    expect(next).toEqual(expectedMinute === null ? null : at(expectedMinute));
  });

  test('the stored state of a fresh announcement', () => {
    expect(startReminders(at(0), HOURLY)).toEqual({ announcedAt: at(0).toISOString(), sent: 0, nextDueAt: at(60).toISOString() });
    expect(startReminders(T0, { everyMs: 0, max: 3 })).toEqual({ announcedAt: at(0).toISOString(), sent: 0, nextDueAt: null });
  });

  test('the send decision carries the state to store with the reminder event', () => {
    expect(decideReminder({ announcedAt: at(0).toISOString(), sent: 2, nextDueAt: at(180).toISOString() }, HOURLY, at(185))).toEqual({
      kind: 'send',
      reminder: 3,
      state: { announcedAt: at(0).toISOString(), sent: 3, nextDueAt: null },
    });
  });

  test('a stored state with nothing due, or remind_max lowered below what was sent, sends nothing', () => {
    expect(decideReminder({ announcedAt: at(0).toISOString(), sent: 0, nextDueAt: null }, HOURLY, at(500))).toEqual({ kind: 'not-due' });
    expect(decideReminder({ announcedAt: at(0).toISOString(), sent: 2, nextDueAt: at(180).toISOString() }, { everyMs: 60 * MIN, max: 2 }, at(200))).toEqual({ kind: 'not-due' });
  });
});

describe('reminder preferences', () => {
  test('defaults: off, and 3 per outage', () => {
    expect(REMIND_EVERY_DEFAULT_MS).toBe(0);
    expect(REMIND_MAX_DEFAULT).toBe(3);
  });

  test.each<[unknown, number]>([
    ['0s', 0],
    ['0', 0],
    ['5m', 5 * MIN],
    ['300s', 5 * MIN],
    ['1h30m', 90 * MIN],
    ['24h', 24 * 60 * MIN],
  ])('remind_every %j is %d ms', (value, ms) => {
    expect(parseRemindEvery(value)).toBe(ms);
  });

  test.each<[unknown]>([['4m59s'], ['1s'], ['-5m'], ['5 minutes'], [''], [300], [null], [true]])('remind_every %j is refused, naming the rule', (value) => {
    expect(() => parseRemindEvery(value)).toThrow(QuietInputError);
    expect(() => parseRemindEvery(value)).toThrow(/remind_every must be a Go duration: "0s" \(off\) or at least 5m0s/);
  });

  test.each<[number]>([[1], [3], [100]])('remind_max %d is accepted', (value) => {
    expect(parseRemindMax(value)).toBe(value);
  });

  test.each<[unknown]>([[0], [101], [-1], [2.5], ['3'], [null], [Number.NaN]])('remind_max %j is refused, naming the range', (value) => {
    expect(() => parseRemindMax(value)).toThrow(QuietInputError);
    expect(() => parseRemindMax(value)).toThrow(/remind_max must be a whole number from 1 to 100/);
  });
});
