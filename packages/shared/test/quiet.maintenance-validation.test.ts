import { parseMaintenanceSchedule, QuietInputError, validateMaintenanceSchedule, type MaintenanceSchedule } from '@lunasentri/shared';

const recurrence = (fields: Record<string, unknown>) => ({
  name: 'patch night',
  recurrence: { start: '02:30', duration: '2h', timezone: 'Europe/Berlin', ...fields },
});

function refusal(run: () => unknown): { field: string; message: string } {
  try {
    run();
  } catch (error) {
    if (error instanceof QuietInputError) return { field: error.field, message: error.message };
    throw error;
  }
  throw new Error('expected a QuietInputError');
}

describe('maintenance window payloads', () => {
  test.each<[string, unknown, MaintenanceSchedule]>([
    [
      'a one-off window with offsets is stored as UTC with milliseconds',
      { name: 'db upgrade', starts_at: '2026-11-28T04:00+01:00', ends_at: '2026-11-28T05:30:00Z', machine_ids: [1, 2] },
      { kind: 'one-off', startsAt: '2026-11-28T03:00:00.000Z', endsAt: '2026-11-28T05:30:00.000Z' },
    ],
    [
      'a daily window has no weekdays',
      recurrence({}),
      { kind: 'recurring', start: '02:30', durationMs: 7_200_000, timezone: 'Europe/Berlin' },
    ],
    [
      'weekdays are kept in week order',
      recurrence({ weekdays: ['sun', 'mon', 'wed'] }),
      { kind: 'recurring', weekdays: ['mon', 'wed', 'sun'], start: '02:30', durationMs: 7_200_000, timezone: 'Europe/Berlin' },
    ],
    [
      'a window of exactly 24h, at midnight, in a 30-minute-offset zone',
      recurrence({ start: '00:00', duration: '24h', timezone: 'Asia/Kolkata' }),
      { kind: 'recurring', start: '00:00', durationMs: 86_400_000, timezone: 'Asia/Kolkata' },
    ],
    [
      'a duration in Go syntax with fractions',
      recurrence({ start: '23:59', duration: '1.5h', timezone: 'Australia/Lord_Howe' }),
      { kind: 'recurring', start: '23:59', durationMs: 5_400_000, timezone: 'Australia/Lord_Howe' },
    ],
  ])('accepts %s', (_name, body, expected) => {
    expect(parseMaintenanceSchedule(body)).toEqual(expected);
  });

  test.each<[string, unknown, string, RegExp]>([
    ['a body that is not an object', ['2026-11-28'], '', /JSON object/],
    ['a body with neither times nor a recurrence', { name: 'x' }, 'starts_at', /needs starts_at and ends_at, or a recurrence/],
    ['a body with both times and a recurrence', { ...recurrence({}), starts_at: '2026-11-28T03:00:00Z' }, 'recurrence', /not both/],
    ['an end before the start', { starts_at: '2026-11-28T05:00:00Z', ends_at: '2026-11-28T03:00:00Z' }, 'ends_at', /ends_at \(2026-11-28T03:00:00.000Z\) must be after starts_at/],
    ['an end equal to the start', { starts_at: '2026-11-28T05:00:00Z', ends_at: '2026-11-28T06:00:00+01:00' }, 'ends_at', /must be after starts_at/],
    ['a missing end', { starts_at: '2026-11-28T05:00:00Z' }, 'ends_at', /ends_at must be an ISO-8601 time.*got nothing/],
    ['a start without an offset', { starts_at: '2026-11-28T05:00:00', ends_at: '2026-11-28T06:00:00Z' }, 'starts_at', /with an offset/],
    ['a date that does not exist', { starts_at: '2026-02-30T05:00:00Z', ends_at: '2026-03-01T06:00:00Z' }, 'starts_at', /"2026-02-30T05:00:00Z"/],
    ['a start given as epoch milliseconds', { starts_at: 1_795_000_000_000, ends_at: '2026-11-28T06:00:00Z' }, 'starts_at', /got 1795000000000/],
    ['a recurrence that is not an object', { recurrence: 'daily' }, 'recurrence', /recurrence must be an object/],
    ['an unknown recurrence field', recurrence({ days: ['mon'] }), 'recurrence.days', /recurrence.days is not a field/],
    ['an unknown weekday', recurrence({ weekdays: ['mon', 'funday'] }), 'recurrence.weekdays[1]', /unknown weekday "funday".*mon, tue, wed, thu, fri, sat, sun/],
    ['a capitalised weekday', recurrence({ weekdays: ['Mon'] }), 'recurrence.weekdays[0]', /unknown weekday "Mon"/],
    ['a weekday listed twice', recurrence({ weekdays: ['mon', 'tue', 'mon'] }), 'recurrence.weekdays[2]', /weekday "mon" is listed twice/],
    ['an empty weekday list', recurrence({ weekdays: [] }), 'recurrence.weekdays', /at least one day; omit it for every day/],
    ['weekdays that are not a list', recurrence({ weekdays: 'mon' }), 'recurrence.weekdays', /must be a list of days/],
    ['a start without a leading zero', recurrence({ start: '2:30' }), 'recurrence.start', /"HH:MM".*got "2:30"/],
    ['a start at 24:00', recurrence({ start: '24:00' }), 'recurrence.start', /got "24:00"/],
    ['a start with seconds', recurrence({ start: '02:30:00' }), 'recurrence.start', /got "02:30:00"/],
    ['a missing start', recurrence({ start: undefined }), 'recurrence.start', /got nothing/],
    ['a zero duration', recurrence({ duration: '0s' }), 'recurrence.duration', /longer than 0s; got "0s"/],
    ['a negative duration', recurrence({ duration: '-1h' }), 'recurrence.duration', /longer than 0s; got "-1h"/],
    ['a duration over 24h', recurrence({ duration: '24h0m1s' }), 'recurrence.duration', /at most 24h0m0s; got "24h0m1s"/],
    ['a duration that is not Go syntax', recurrence({ duration: '2 hours' }), 'recurrence.duration', /Go duration.*got "2 hours"/],
    ['a duration given as a number', recurrence({ duration: 7200 }), 'recurrence.duration', /got 7200/],
    ['an unknown time zone', recurrence({ timezone: 'Mars/Olympus_Mons' }), 'recurrence.timezone', /IANA time zone.*"Mars\/Olympus_Mons" is not one/],
    ['a bare offset instead of a zone', recurrence({ timezone: '+02:00' }), 'recurrence.timezone', /"\+02:00" is not one/],
    ['a negative bare offset', recurrence({ timezone: '-0500' }), 'recurrence.timezone', /"-0500" is not one/],
    ['a bare offset in hours', recurrence({ timezone: '+02' }), 'recurrence.timezone', /"\+02" is not one/],
    ['a bare offset with a minus sign', recurrence({ timezone: '\u221202:00' }), 'recurrence.timezone', /"\u221202:00" is not one/],
    ['a missing time zone', recurrence({ timezone: undefined }), 'recurrence.timezone', /nothing is not one/],
  ])('refuses %s, naming the field', (_name, body, field, message) => {
    const problem = refusal(() => parseMaintenanceSchedule(body));
    expect(problem.field).toBe(field);
    expect(problem.message).toMatch(message);
  });

  test.each<[string, MaintenanceSchedule, string, RegExp]>([
    ['a one-off window that ends before it starts', { kind: 'one-off', startsAt: '2026-11-28T05:00:00.000Z', endsAt: '2026-11-28T04:00:00.000Z' }, 'endsAt', /must be after startsAt/],
    ['a recurring window longer than a day', { kind: 'recurring', start: '02:30', durationMs: 86_400_001, timezone: 'UTC' }, 'duration', /at most 24h0m0s/],
    ['a recurring window of no length', { kind: 'recurring', start: '02:30', durationMs: 0, timezone: 'UTC' }, 'duration', /longer than 0s/],
    ['a recurring window in an unknown zone', { kind: 'recurring', start: '02:30', durationMs: 60_000, timezone: 'Europe/Atlantis' }, 'timezone', /"Europe\/Atlantis" is not one/],
  ])('a schedule built in code is checked the same way: %s', (_name, schedule, field, message) => {
    const problem = refusal(() => validateMaintenanceSchedule(schedule));
    expect(problem.field).toBe(field);
    expect(problem.message).toMatch(message);
  });

  test('a valid schedule built in code comes back normalized', () => {
    expect(
      validateMaintenanceSchedule({ kind: 'recurring', weekdays: ['fri', 'mon'], start: '22:00', durationMs: 3_600_000, timezone: 'America/New_York' }),
    ).toEqual({ kind: 'recurring', weekdays: ['mon', 'fri'], start: '22:00', durationMs: 3_600_000, timezone: 'America/New_York' });
  });
});
