import { dailyUptime, DAY_MS, tallyWindow, timelineOf, uptimeOver, utcDays, type HistoryInterval, type UptimeInputs } from '../src/uptime/uptime.models';

const at = (iso: string) => `${iso}.000Z`;
const outage = (from: string, to: string | null): HistoryInterval => ({ kind: 'outage', started_at: at(from), ended_at: to === null ? null : at(to) });
const maintenance = (from: string, to: string | null): HistoryInterval => ({ kind: 'maintenance', started_at: at(from), ended_at: to === null ? null : at(to) });

interface Case {
  name: string;
  now: string;
  createdAt?: string;
  hasReported?: boolean;
  intervals: HistoryInterval[];
  days: number;
  expected: Array<[date: string, uptime: number | null, maintenanceSeconds: number]>;
}

const CASES: Case[] = [
  {
    name: 'no history: every whole day since creation is fully up, today so far too',
    now: '2026-11-28T06:00:00',
    intervals: [],
    days: 3,
    expected: [
      ['2026-11-26', 1, 0],
      ['2026-11-27', 1, 0],
      ['2026-11-28', 1, 0],
    ],
  },
  {
    name: 'a day before the machine existed has no data; its first day counts from its creation',
    now: '2026-11-28T12:00:00',
    createdAt: '2026-11-27T18:00:00',
    intervals: [outage('2026-11-27T21:00:00', '2026-11-27T22:30:00')],
    days: 3,
    expected: [
      ['2026-11-26', null, 0],
      ['2026-11-27', 0.75, 0], // 1.5 h down of 6 h observed
      ['2026-11-28', 1, 0],
    ],
  },
  {
    name: 'an outage across midnight is split between the two days',
    now: '2026-11-28T12:00:00',
    intervals: [outage('2026-11-27T18:00:00', '2026-11-28T06:00:00')],
    days: 2,
    expected: [
      ['2026-11-27', 0.75, 0],
      ['2026-11-28', 0.5, 0], // 6 h down of 12 h so far
    ],
  },
  {
    name: 'an outage still open counts up to now',
    now: '2026-11-28T12:00:00',
    intervals: [outage('2026-11-28T09:00:00', null)],
    days: 1,
    expected: [['2026-11-28', 0.75, 0]],
  },
  {
    name: 'maintenance is left out of the ratio, and an outage inside it does not count',
    now: '2026-11-29T00:00:00',
    intervals: [maintenance('2026-11-28T00:00:00', '2026-11-28T12:00:00'), outage('2026-11-28T06:00:00', '2026-11-28T18:00:00')],
    days: 2,
    expected: [['2026-11-28', 0.5, 43_200], ['2026-11-29', null, 0]], // 6 h down of the 12 h outside the window
  },
  {
    name: 'a day wholly in maintenance has no uptime',
    now: '2026-11-29T12:00:00',
    intervals: [maintenance('2026-11-28T00:00:00', '2026-11-29T00:00:00'), outage('2026-11-28T01:00:00', '2026-11-28T02:00:00')],
    days: 2,
    expected: [
      ['2026-11-28', null, 86_400],
      ['2026-11-29', 1, 0],
    ],
  },
  {
    name: 'overlapping outages count once',
    now: '2026-11-29T00:00:00',
    intervals: [outage('2026-11-28T00:00:00', '2026-11-28T06:00:00'), outage('2026-11-28T03:00:00', '2026-11-28T12:00:00')],
    days: 2,
    expected: [['2026-11-28', 0.5, 0], ['2026-11-29', null, 0]],
  },
  {
    name: 'a machine that never reported has no data at all',
    now: '2026-11-28T12:00:00',
    hasReported: false,
    intervals: [],
    days: 2,
    expected: [
      ['2026-11-27', null, 0],
      ['2026-11-28', null, 0],
    ],
  },
  {
    name: 'the first moment of today: nothing of today observed yet',
    now: '2026-11-28T00:00:00',
    intervals: [],
    days: 2,
    expected: [
      ['2026-11-27', 1, 0],
      ['2026-11-28', null, 0],
    ],
  },
  {
    name: 'a whole day down is 0, and maintenance seconds are whole',
    now: '2026-11-29T00:00:00',
    intervals: [outage('2026-11-27T00:00:00', '2026-11-29T00:00:00'), { kind: 'maintenance', started_at: '2026-11-28T10:00:00.400Z', ended_at: '2026-11-28T10:00:01.000Z' }],
    days: 2,
    expected: [['2026-11-28', 0, 1], ['2026-11-29', null, 0]],
  },
];

function inputs(c: Pick<Case, 'now' | 'createdAt' | 'hasReported' | 'intervals'>): UptimeInputs {
  return { now: new Date(at(c.now)), createdAt: at(c.createdAt ?? '2026-01-01T00:00:00'), hasReported: c.hasReported ?? true, intervals: c.intervals };
}

describe('daily uptime from the outage history', () => {
  test.each(CASES.map((c) => [c.name, c]))('%s', (_name, c) => {
    const days = dailyUptime(timelineOf(inputs(c)), utcDays(new Date(at(c.now)), c.days));
    expect(days.map((d) => [d.date, d.uptime, d.maintenance_seconds])).toEqual(c.expected);
  });

  test('rolling windows: 24 h back from now, across the day boundary', () => {
    const timeline = timelineOf(inputs({ now: '2026-11-28T06:00:00', intervals: [outage('2026-11-27T12:00:00', '2026-11-27T18:00:00')] }));
    expect(uptimeOver(timeline, DAY_MS)).toBe(0.75);
    expect(uptimeOver(timeline, 7 * DAY_MS)).toBe(Math.round((1 - 6 / (7 * 24)) * 1e6) / 1e6);
  });

  test('agrees with a brute-force count, ten minutes at a time, on random histories', () => {
    let seed = 42;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const MINUTE = 600_000; // the grid every boundary falls on
    const base = Date.parse('2026-11-20T00:00:00.000Z');
    const PER_DAY = 144;
    const span = 8 * PER_DAY; // eight days of steps
    for (let round = 0; round < 60; round++) {
      const created = base + Math.floor(random() * 2 * PER_DAY) * MINUTE;
      const now = base + Math.floor((6 + random() * 2) * PER_DAY) * MINUTE;
      const intervals: HistoryInterval[] = [];
      for (let i = Math.floor(random() * 12); i > 0; i--) {
        const from = base + Math.floor(random() * span) * MINUTE;
        const open = random() < 0.1;
        const to = from + Math.floor(random() * PER_DAY) * MINUTE;
        intervals.push({ kind: random() < 0.3 ? 'maintenance' : 'outage', started_at: new Date(from).toISOString(), ended_at: open ? null : new Date(to).toISOString() });
      }
      const timeline = timelineOf({ now: new Date(now), createdAt: new Date(created).toISOString(), hasReported: true, intervals });
      const inState = (t: number, kind: HistoryInterval['kind']) =>
        intervals.some((iv) => iv.kind === kind && Date.parse(iv.started_at) <= t && t < (iv.ended_at === null ? now : Date.parse(iv.ended_at)));
      for (const [from, to] of [
        [base, base + DAY_MS],
        [base + 3 * DAY_MS, base + 4 * DAY_MS],
        [now - 2 * DAY_MS, now],
        [base, now + DAY_MS],
      ]) {
        let observed = 0;
        let down = 0;
        let maint = 0;
        for (let t = from!; t < to!; t += MINUTE) {
          if (t < created || t >= now) continue;
          if (inState(t, 'maintenance')) maint++;
          else if (inState(t, 'outage')) (down++, observed++);
          else observed++;
        }
        expect(tallyWindow(timeline, from!, to!)).toEqual({ observedMs: observed * MINUTE, outageMs: down * MINUTE, maintenanceMs: maint * MINUTE });
      }
    }
  });
});
