import { parseIsoTime } from '@lunasentri/shared';

describe('parseIsoTime', () => {
  test.each([
    ['2026-11-28T03:00:00Z', '2026-11-28T03:00:00.000Z'],
    ['2026-11-28T03:00:00.123Z', '2026-11-28T03:00:00.123Z'],
    ['2026-11-28T03:00:00.123456789Z', '2026-11-28T03:00:00.123Z'],
    ['2026-11-28T04:00:00+01:00', '2026-11-28T03:00:00.000Z'],
    ['2026-11-27T22:30:00-04:30', '2026-11-28T03:00:00.000Z'],
    ['2026-11-28T03:00Z', '2026-11-28T03:00:00.000Z'],
    ['2026-11-28t03:00:00z', '2026-11-28T03:00:00.000Z'],
    ['2028-02-29T00:00:00Z', '2028-02-29T00:00:00.000Z'],
  ])('reads %s', (text, iso) => {
    expect(new Date(parseIsoTime(text) as number).toISOString()).toBe(iso);
  });

  test.each([
    ['no zone', '2026-11-28T03:00:00'],
    ['a date alone', '2026-11-28'],
    ['a space instead of T', '2026-11-28 03:00:00Z'],
    ['February 30', '2026-02-30T00:00:00Z'],
    ['February 29 of a common year', '2026-02-29T00:00:00Z'],
    ['month 13', '2026-13-01T00:00:00Z'],
    ['day 0', '2026-11-00T00:00:00Z'],
    ['24:00', '2026-11-28T24:00:00Z'],
    ['a leap second', '2026-12-31T23:59:60Z'],
    ['an offset of 24 hours', '2026-11-28T03:00:00+24:00'],
    ['epoch seconds', '1795834800'],
    ['a relative time', 'yesterday'],
    ['empty', ''],
  ])('refuses %s', (_name, text) => {
    expect(parseIsoTime(text)).toBeUndefined();
  });
});
