import { DurationSyntaxError, formatDuration, parseDuration } from '@lunasentri/shared';

describe('Go durations', () => {
  // Each pair is what Go's time.ParseDuration accepts and what Duration.String prints back.
  test.each([
    ['30s', 30_000, '30s'],
    ['2m', 120_000, '2m0s'],
    ['2m0s', 120_000, '2m0s'],
    ['1m30s', 90_000, '1m30s'],
    ['90s', 90_000, '1m30s'],
    ['1h', 3_600_000, '1h0m0s'],
    ['1h30m', 5_400_000, '1h30m0s'],
    ['500ms', 500, '500ms'],
    ['1.5s', 1_500, '1.5s'],
    ['1.5h', 5_400_000, '1h30m0s'],
    ['.5s', 500, '500ms'],
    ['1m0.5s', 60_500, '1m0.5s'],
    ['2h45m10.25s', 9_910_250, '2h45m10.25s'],
    ['100us', 0.1, '100µs'],
    ['100µs', 0.1, '100µs'],
    ['1500ns', 0.0015, '1.5µs'],
    ['999ns', 0.000999, '999ns'],
    ['1.25ms', 1.25, '1.25ms'],
    ['0', 0, '0s'],
    ['-1m', -60_000, '-1m0s'],
    ['+5s', 5_000, '5s'],
    ['25h', 90_000_000, '25h0m0s'],
  ])('%s parses to %d ms and prints as %s', (text, ms, printed) => {
    expect(parseDuration(text)).toBeCloseTo(ms, 9);
    expect(formatDuration(parseDuration(text))).toBe(printed);
  });

  test.each(['', ' ', '2x', '2', 's', '1.s.5', '1hh', 'ms', '--1s', '1 m', '1m-1s', 'abc', '.s', '1e3s'])(
    'rejects %j',
    (text) => {
      expect(() => parseDuration(text)).toThrow(DurationSyntaxError);
    },
  );

  test.each([
    ['10', 'missing unit in duration "10": add a unit, e.g. 10s'],
    ['1.5', 'missing unit in duration "1.5": add a unit, e.g. 1.5s'],
    ['-10', 'missing unit in duration "-10": add a unit, e.g. -10s'],
    [' 30 ', 'missing unit in duration " 30 ": add a unit, e.g. 30s'],
    ['00', 'missing unit in duration "00": add a unit, e.g. 00s'],
    ['1h30', 'missing unit in duration "1h30": add a unit to 30, e.g. 30s'],
  ])('a number without a unit (%j) is told to add one', (text, message) => {
    expect(() => parseDuration(text)).toThrow(new DurationSyntaxError(message));
  });

  test.each(['0', '+0', '-0', ' 0 '])('%j is zero without a unit, as in Go', (text) => {
    expect(parseDuration(text)).toBe(0);
  });

  test('formats the contract examples', () => {
    expect(formatDuration(30_000)).toBe('30s');
    expect(formatDuration(120_000)).toBe('2m0s');
    expect(formatDuration(135_000)).toBe('2m15s');
  });
});
