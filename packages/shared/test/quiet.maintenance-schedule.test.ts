import {
  isInMaintenance,
  lastEndedOccurrence,
  lastMaintenanceEnd,
  maintenanceState,
  occurrenceAt,
  occurrencesEndingBetween,
  type MaintenanceSchedule,
  type RecurringSchedule,
  type Weekday,
} from '@lunasentri/shared';

const HOUR = 3_600_000;
const MIN = 60_000;

const daily = (timezone: string, start: string, durationMs: number, weekdays?: Weekday[]): RecurringSchedule => ({
  kind: 'recurring',
  start,
  durationMs,
  timezone,
  ...(weekdays ? { weekdays } : {}),
});
const oneOff = (startsAt: string, endsAt: string): MaintenanceSchedule => ({ kind: 'one-off', startsAt, endsAt });
const at = (iso: string): Date => new Date(iso);
const state = (active: boolean, nextStart: string | null, nextEnd: string | null) => ({
  active,
  next_start: nextStart,
  next_end: nextEnd,
});

const berlin0230 = daily('Europe/Berlin', '02:30', HOUR);

describe('maintenance windows: active, next_start and next_end', () => {
  test.each<[string, MaintenanceSchedule, string, ReturnType<typeof state>]>([
    // One-off windows: [start, end), nothing next once started or over.
    ['a one-off window ahead is inactive and names its times', oneOff('2026-11-28T03:00:00.000Z', '2026-11-28T05:00:00.000Z'), '2026-11-28T02:59:59.999Z', state(false, '2026-11-28T03:00:00.000Z', '2026-11-28T05:00:00.000Z')],
    ['a one-off window is active from its start instant', oneOff('2026-11-28T03:00:00.000Z', '2026-11-28T05:00:00.000Z'), '2026-11-28T03:00:00.000Z', state(true, null, '2026-11-28T05:00:00.000Z')],
    ['a one-off window is over at its end instant', oneOff('2026-11-28T03:00:00.000Z', '2026-11-28T05:00:00.000Z'), '2026-11-28T05:00:00.000Z', state(false, null, null)],

    // Europe/Berlin, spring night 2026-03-29: 02:00 CET jumps to 03:00 CEST (01:00Z).
    ['Berlin 02:30 before the spring night opens at 03:00 CEST, the first valid minute', berlin0230, '2026-03-28T12:00:00.000Z', state(false, '2026-03-29T01:00:00.000Z', '2026-03-29T02:00:00.000Z')],
    ['Berlin 02:30 is not open a minute before the jump', berlin0230, '2026-03-29T00:59:00.000Z', state(false, '2026-03-29T01:00:00.000Z', '2026-03-29T02:00:00.000Z')],
    ['Berlin 02:30 on the spring night is open from the jump, for one elapsed hour', berlin0230, '2026-03-29T01:00:00.000Z', state(true, '2026-03-30T00:30:00.000Z', '2026-03-29T02:00:00.000Z')],
    ['Berlin 02:30 on the spring night is closed after its elapsed hour (04:00 CEST)', berlin0230, '2026-03-29T02:00:00.000Z', state(false, '2026-03-30T00:30:00.000Z', '2026-03-30T01:30:00.000Z')],
    ['Berlin 02:00 on the spring night also opens at 03:00 CEST', daily('Europe/Berlin', '02:00', HOUR), '2026-03-28T12:00:00.000Z', state(false, '2026-03-29T01:00:00.000Z', '2026-03-29T02:00:00.000Z')],
    ['Berlin 03:00 on the spring night is 03:00 CEST', daily('Europe/Berlin', '03:00', HOUR), '2026-03-28T12:00:00.000Z', state(false, '2026-03-29T01:00:00.000Z', '2026-03-29T02:00:00.000Z')],
    ['Berlin 01:59 on the spring night is still CET', daily('Europe/Berlin', '01:59', HOUR), '2026-03-28T12:00:00.000Z', state(false, '2026-03-29T00:59:00.000Z', '2026-03-29T01:59:00.000Z')],

    // Europe/Berlin, autumn night 2026-10-25: 03:00 CEST falls back to 02:00 CET (01:00Z); 02:00–02:59 happen twice.
    ['Berlin 02:30 on the autumn night opens at its first occurrence (CEST)', berlin0230, '2026-10-24T12:00:00.000Z', state(false, '2026-10-25T00:30:00.000Z', '2026-10-25T01:30:00.000Z')],
    ['Berlin 02:30 on the autumn night stays open through the repeated 02:15 CET', berlin0230, '2026-10-25T01:15:00.000Z', state(true, '2026-10-26T01:30:00.000Z', '2026-10-25T01:30:00.000Z')],
    ['Berlin 02:30 does not open again at the second 02:30 (CET)', berlin0230, '2026-10-25T01:30:00.000Z', state(false, '2026-10-26T01:30:00.000Z', '2026-10-26T02:30:00.000Z')],
    ['Berlin 02:00 on the autumn night opens at 02:00 CEST', daily('Europe/Berlin', '02:00', HOUR), '2026-10-24T12:00:00.000Z', state(false, '2026-10-25T00:00:00.000Z', '2026-10-25T01:00:00.000Z')],
    ['Berlin 03:00 on the autumn night happens once, in CET', daily('Europe/Berlin', '03:00', HOUR), '2026-10-24T12:00:00.000Z', state(false, '2026-10-25T02:00:00.000Z', '2026-10-25T03:00:00.000Z')],

    // America/New_York: 2026-03-08 02:00 EST → 03:00 EDT (07:00Z); 2026-11-01 02:00 EDT → 01:00 EST (06:00Z).
    ['New York 02:30 on the spring night opens at 03:00 EDT', daily('America/New_York', '02:30', HOUR), '2026-03-07T12:00:00.000Z', state(false, '2026-03-08T07:00:00.000Z', '2026-03-08T08:00:00.000Z')],
    ['New York 01:30 on the autumn night opens at 01:30 EDT, the first one', daily('America/New_York', '01:30', 2 * HOUR, ['sun']), '2026-10-31T12:00:00.000Z', state(false, '2026-11-01T05:30:00.000Z', '2026-11-01T07:30:00.000Z')],
    ['New York 01:30 for 2h on the autumn night is elapsed time: open at 02:15 EST', daily('America/New_York', '01:30', 2 * HOUR, ['sun']), '2026-11-01T07:15:00.000Z', state(true, '2026-11-08T06:30:00.000Z', '2026-11-01T07:30:00.000Z')],
    ['New York Friday 22:00 is Saturday in UTC and still a Friday window', daily('America/New_York', '22:00', HOUR, ['fri']), '2026-06-06T02:30:00.000Z', state(true, '2026-06-13T02:00:00.000Z', '2026-06-06T03:00:00.000Z')],

    // Asia/Kolkata: +05:30, no DST; its local date is ahead of UTC from 18:30Z.
    ['Kolkata 23:00 for 2h crosses midnight and is open after it', daily('Asia/Kolkata', '23:00', 2 * HOUR), '2026-06-01T19:00:00.000Z', state(true, '2026-06-02T17:30:00.000Z', '2026-06-01T19:30:00.000Z')],
    ['Kolkata Monday 23:00 is still open early on Tuesday', daily('Asia/Kolkata', '23:00', 2 * HOUR, ['mon']), '2026-06-01T18:45:00.000Z', state(true, '2026-06-08T17:30:00.000Z', '2026-06-01T19:30:00.000Z')],
    ['Kolkata Tuesday 01:00 opens while UTC is still Monday', daily('Asia/Kolkata', '01:00', HOUR, ['tue']), '2026-06-01T19:45:00.000Z', state(true, '2026-06-08T19:30:00.000Z', '2026-06-01T20:30:00.000Z')],
    ['Kolkata Tuesday 01:00 seen on Monday morning UTC opens that evening UTC', daily('Asia/Kolkata', '01:00', HOUR, ['tue']), '2026-06-01T06:00:00.000Z', state(false, '2026-06-01T19:30:00.000Z', '2026-06-01T20:30:00.000Z')],

    // Australia/Lord_Howe: a 30-minute DST shift. 2026-04-05 02:00 LHDT → 01:30 LHST (15:00Z on the 4th);
    // 2026-10-04 02:00 LHST → 02:30 LHDT (15:30Z on the 3rd).
    ['Lord Howe 01:45 on the night the half hour repeats opens at its first occurrence (+11:00)', daily('Australia/Lord_Howe', '01:45', HOUR), '2026-04-04T12:00:00.000Z', state(false, '2026-04-04T14:45:00.000Z', '2026-04-04T15:45:00.000Z')],
    ['Lord Howe 01:45 the next night is +10:30', daily('Australia/Lord_Howe', '01:45', HOUR), '2026-04-05T12:00:00.000Z', state(false, '2026-04-05T15:15:00.000Z', '2026-04-05T16:15:00.000Z')],
    ['Lord Howe 02:15 on the night the half hour is skipped opens at 02:30 LHDT', daily('Australia/Lord_Howe', '02:15', HOUR), '2026-10-03T12:00:00.000Z', state(false, '2026-10-03T15:30:00.000Z', '2026-10-03T16:30:00.000Z')],
    ['Lord Howe 02:30 on that night is the first valid minute itself', daily('Australia/Lord_Howe', '02:30', HOUR), '2026-10-03T12:00:00.000Z', state(false, '2026-10-03T15:30:00.000Z', '2026-10-03T16:30:00.000Z')],

    // Windows crossing midnight and days.
    ['Berlin Saturday 23:00 for 3h crosses midnight and the spring jump', daily('Europe/Berlin', '23:00', 3 * HOUR, ['sat']), '2026-03-29T00:30:00.000Z', state(true, '2026-04-04T21:00:00.000Z', '2026-03-29T01:00:00.000Z')],
    ['a 24h daily window is open all day and ends where the next opens', daily('UTC', '06:00', 24 * HOUR), '2026-06-01T05:59:00.000Z', state(true, '2026-06-01T06:00:00.000Z', '2026-06-01T06:00:00.000Z')],
    ['two 24h openings overlap after the spring jump: the later end is when it closes', daily('Europe/Berlin', '02:30', 24 * HOUR), '2026-03-29T01:15:00.000Z', state(true, '2026-03-30T00:30:00.000Z', '2026-03-30T01:00:00.000Z')],
    ['a weekday window seen on another day names the next matching day', daily('UTC', '02:00', HOUR, ['mon', 'thu']), '2026-06-02T12:00:00.000Z', state(false, '2026-06-04T02:00:00.000Z', '2026-06-04T03:00:00.000Z')],
    ['a window opening at 00:00 on a Sunday', daily('UTC', '00:00', 30 * MIN, ['sun']), '2026-06-06T23:59:59.999Z', state(false, '2026-06-07T00:00:00.000Z', '2026-06-07T00:30:00.000Z')],
  ])('%s', (_name, schedule, now, expected) => {
    expect(maintenanceState(schedule, at(now))).toEqual(expected);
  });

  test('time may be given as epoch milliseconds', () => {
    expect(occurrenceAt(berlin0230, Date.parse('2026-03-29T01:30:00.000Z'))).toEqual({
      start: at('2026-03-29T01:00:00.000Z'),
      end: at('2026-03-29T02:00:00.000Z'),
    });
  });
});

describe('the end of maintenance: thresholds count from it', () => {
  test.each<[string, MaintenanceSchedule, string, string | null]>([
    ['a one-off window not yet over has no end behind it', oneOff('2026-11-28T03:00:00.000Z', '2026-11-28T05:00:00.000Z'), '2026-11-28T04:00:00.000Z', null],
    ['a one-off window ended exactly now', oneOff('2026-11-28T03:00:00.000Z', '2026-11-28T05:00:00.000Z'), '2026-11-28T05:00:00.000Z', '2026-11-28T05:00:00.000Z'],
    ['a weekly window ended last Monday', daily('UTC', '02:00', HOUR, ['mon']), '2026-06-07T12:00:00.000Z', '2026-06-01T03:00:00.000Z'],
    ['a window crossing midnight ended this morning', daily('Asia/Kolkata', '23:00', 2 * HOUR), '2026-06-01T20:00:00.000Z', '2026-06-01T19:30:00.000Z'],
    ['while open, the previous opening is the last that ended', berlin0230, '2026-03-29T01:30:00.000Z', '2026-03-28T02:30:00.000Z'],
    ['the spring-night opening ended after its elapsed hour', berlin0230, '2026-03-29T02:00:00.000Z', '2026-03-29T02:00:00.000Z'],
  ])('%s', (_name, schedule, now, expected) => {
    expect(lastEndedOccurrence(schedule, at(now))?.end.toISOString() ?? null).toBe(expected);
  });

  test.each<[string, MaintenanceSchedule[], string, boolean, string | null]>([
    ['no windows: never in maintenance', [], '2026-06-01T12:00:00.000Z', false, null],
    ['one open window among others is enough', [oneOff('2026-06-01T11:00:00.000Z', '2026-06-01T13:00:00.000Z'), daily('UTC', '02:00', HOUR)], '2026-06-01T12:00:00.000Z', true, '2026-06-01T03:00:00.000Z'],
    ['the latest end of all windows counts', [oneOff('2026-06-01T09:00:00.000Z', '2026-06-01T10:00:00.000Z'), daily('UTC', '02:00', HOUR)], '2026-06-01T12:00:00.000Z', false, '2026-06-01T10:00:00.000Z'],
  ])('%s', (_name, schedules, now, active, lastEnd) => {
    expect(isInMaintenance(schedules, at(now))).toBe(active);
    expect(lastMaintenanceEnd(schedules, at(now))?.toISOString() ?? null).toBe(lastEnd);
  });

  test.each<[string, MaintenanceSchedule, string, string, string[]]>([
    ['openings that closed since the last check, the spring night one an hour after 03:00 CEST', berlin0230, '2026-03-27T00:00:00.000Z', '2026-03-30T00:00:00.000Z', ['2026-03-27T02:30:00.000Z', '2026-03-28T02:30:00.000Z', '2026-03-29T02:00:00.000Z']],
    ['an end exactly at the later bound counts, one at the earlier bound does not', daily('UTC', '02:00', HOUR), '2026-06-01T03:00:00.000Z', '2026-06-02T03:00:00.000Z', ['2026-06-02T03:00:00.000Z']],
    ['a window open across the whole span has not ended', oneOff('2026-06-01T00:00:00.000Z', '2026-06-03T00:00:00.000Z'), '2026-06-01T12:00:00.000Z', '2026-06-02T12:00:00.000Z', []],
    ['an opening of the day before that ends after midnight', daily('Asia/Kolkata', '23:00', 2 * HOUR), '2026-06-01T19:00:00.000Z', '2026-06-01T20:00:00.000Z', ['2026-06-01T19:30:00.000Z']],
  ])('%s', (_name, schedule, from, to, ends) => {
    expect(occurrencesEndingBetween(schedule, at(from), at(to)).map((o) => o.end.toISOString())).toEqual(ends);
  });

  test.each([
    ['a span that runs backwards', '2026-06-02T00:00:00.000Z', '2026-06-01T00:00:00.000Z'],
    ['a span longer than a year', '2026-01-01T00:00:00.000Z', '2027-01-03T00:00:00.000Z'],
  ])('refuses %s', (_name, from, to) => {
    expect(() => occurrencesEndingBetween(berlin0230, at(from), at(to))).toThrow(RangeError);
  });
});
