import { checkFlapSettled, NOT_FLAPPING, recordStatusChange, type FlapSettings, type FlapState, type MachineStatus } from '@lunasentri/shared';

const T0 = Date.parse('2026-11-28T03:00:00.000Z');
const MIN = 60_000;
const DEFAULTS: FlapSettings = { threshold: 5, windowMs: 30 * MIN, settleMs: 5 * MIN };
const iso = (minutes: number): string => new Date(T0 + minutes * MIN).toISOString();

type Step = [to: MachineStatus, atMinute: number];

/** Plays status changes from `start` and returns what each one was decided to be. */
function replay(steps: Step[], settings: FlapSettings = DEFAULTS, start: MachineStatus = 'online', state: FlapState = NOT_FLAPPING) {
  let status = start;
  const kinds: string[] = [];
  for (const [to, minute] of steps) {
    const decision = recordStatusChange(state, { from: status, to, at: T0 + minute * MIN }, settings);
    kinds.push(decision.kind === 'started-flapping' ? `started-flapping(${decision.transitions})` : decision.kind);
    state = decision.state;
    status = to;
  }
  return { kinds, state };
}

/** Alternates offline/online at the given minutes, starting with offline. */
const alternating = (...minutes: number[]): Step[] => minutes.map((minute, i): Step => [i % 2 === 0 ? 'offline' : 'online', minute]);

describe('flapping starts when a change brings the count within the window to the threshold', () => {
  test.each<[string, Step[], FlapSettings, MachineStatus, string[]]>([
    [
      'four quick changes are announced as usual; the fifth starts flapping',
      alternating(0, 1, 2, 3, 4),
      DEFAULTS,
      'online',
      ['announce', 'announce', 'announce', 'announce', 'started-flapping(5)'],
    ],
    [
      'while flapping, every further change is recorded suppressed',
      alternating(0, 1, 2, 3, 4, 5, 6),
      DEFAULTS,
      'online',
      ['announce', 'announce', 'announce', 'announce', 'started-flapping(5)', 'suppressed', 'suppressed'],
    ],
    [
      'changes spread wider than the window never flap',
      alternating(0, 8, 16, 24, 32, 40, 48),
      DEFAULTS,
      'online',
      ['announce', 'announce', 'announce', 'announce', 'announce', 'announce', 'announce'],
    ],
    [
      'a change exactly one window after an earlier one still counts it',
      alternating(0, 10, 20, 25, 30),
      DEFAULTS,
      'online',
      ['announce', 'announce', 'announce', 'announce', 'started-flapping(5)'],
    ],
    [
      'a change just past one window no longer counts the earliest',
      alternating(0, 10, 20, 25, 30.00002),
      DEFAULTS,
      'online',
      ['announce', 'announce', 'announce', 'announce', 'announce'],
    ],
    [
      'a first report from pending does not count',
      [['online', 0], ...alternating(1, 2, 3, 4)],
      DEFAULTS,
      'pending',
      ['not-counted', 'announce', 'announce', 'announce', 'announce'],
    ],
    [
      'threshold 0 turns detection off',
      alternating(0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
      { ...DEFAULTS, threshold: 0 },
      'online',
      Array(10).fill('announce'),
    ],
    [
      'threshold 1 makes the first change a flapping one',
      alternating(0, 1),
      { ...DEFAULTS, threshold: 1 },
      'online',
      ['started-flapping(1)', 'suppressed'],
    ],
    [
      'a threshold of 3 in a 10m window',
      alternating(0, 4, 9, 15, 18),
      { threshold: 3, windowMs: 10 * MIN, settleMs: MIN },
      'online',
      ['announce', 'announce', 'started-flapping(3)', 'suppressed', 'suppressed'],
    ],
  ])('%s', (_name, steps, settings, start, expected) => {
    expect(replay(steps, settings, start).kinds).toEqual(expected);
  });

  test('the stored list never holds more than threshold change times', () => {
    const { state } = replay(alternating(...Array.from({ length: 40 }, (_, i) => i)));
    expect(state.recentChanges).toEqual([iso(35), iso(36), iso(37), iso(38), iso(39)]);
    expect(state.flappingSince).toBe(iso(4));
  });

  test('changes the window has left behind are dropped from the stored list', () => {
    const { state } = replay(alternating(0, 1, 40));
    expect(state.recentChanges).toEqual([iso(40)]);
  });

  test('the flapping event carries the window in seconds', () => {
    const flapping = { flappingSince: null, recentChanges: [iso(0), iso(1), iso(2), iso(3)] };
    expect(recordStatusChange(flapping, { from: 'online', to: 'offline', at: new Date(iso(4)) }, DEFAULTS)).toEqual({
      kind: 'started-flapping',
      state: { flappingSince: iso(4), recentChanges: [iso(0), iso(1), iso(2), iso(3), iso(4)] },
      transitions: 5,
      windowSeconds: 1800,
    });
  });
});

describe('a flapping machine settles when it keeps one status for the settle time', () => {
  const flapping: FlapState = { flappingSince: iso(4), recentChanges: [iso(0), iso(1), iso(2), iso(3), iso(4)] };

  test.each<[string, FlapState, MachineStatus, number, number, FlapSettings, unknown]>([
    ['a machine that is not flapping has nothing to settle', NOT_FLAPPING, 'online', 0, 60, DEFAULTS, { kind: 'not-flapping' }],
    ['a second short of the settle time it is still flapping', flapping, 'online', 4, 8.99, DEFAULTS, { kind: 'still-flapping', settlesAt: new Date(iso(9)) }],
    ['exactly at the settle time it settles online', flapping, 'online', 4, 9, DEFAULTS, { kind: 'settled', status: 'online', state: { ...flapping, flappingSince: null } }],
    ['it settles offline, and that event announces the outage', flapping, 'offline', 4, 30, DEFAULTS, { kind: 'settled', status: 'offline', state: { ...flapping, flappingSince: null } }],
    ['with detection turned off since, it still settles', flapping, 'offline', 4, 9, { ...DEFAULTS, threshold: 0 }, { kind: 'settled', status: 'offline', state: { ...flapping, flappingSince: null } }],
  ])('%s', (_name, state, status, changedAtMinute, nowMinute, settings, expected) => {
    expect(checkFlapSettled(state, { status, statusChangedAt: T0 + changedAtMinute * MIN }, T0 + nowMinute * MIN, settings)).toEqual(expected);
  });

  test.each<[string, number, string]>([
    ['after settling, a change while the window still holds threshold changes flaps again at once', 10, 'started-flapping(5)'],
    ['after settling and a quiet window, counting starts over', 40, 'announce'],
  ])('%s', (_name, minute, expected) => {
    const settled = checkFlapSettled(flapping, { status: 'online', statusChangedAt: T0 + 4 * MIN }, T0 + 9 * MIN, DEFAULTS);
    if (settled.kind !== 'settled') throw new Error('expected settled');
    expect(replay([['offline', minute]], DEFAULTS, 'online', settled.state).kinds).toEqual([expected]);
  });
});
