import type { MaintenanceSchedule } from '@lunasentri/shared';
import { TestClock } from '../../../../test/support/test-clock';
import { createTestDb, type TestDb } from '../../../../test/support/db';
import { describeEachEngine } from '../../../../test/support/engines';
import { insertMachine, insertUser } from '../../../../test/support/fixtures';
import { queryPlan, usesIndex } from '../../../../test/support/query-plan';
// The windows are written as the API writes them.
import { createWindow, deleteWindow } from '../../../api/src/maintenance/maintenance.repository';
import { dailyUptime, timelineOf, utcDays } from '../../../api/src/uptime/uptime.models';
import { createHousekeeping, MAINTENANCE_HISTORY_EVERY_MS } from '../../src/dispatch/housekeeping.usecases';
import { planWindowHistory } from '../../src/dispatch/maintenance-history.models';
import { dueWindows } from '../../src/dispatch/maintenance-history.repository';
import { testLogger } from '../helpers';

const HOUR = 3600_000;
const DAY = 24 * HOUR;
const T0 = '2026-11-28T03:00:00.000Z';
const at = (iso: string) => new Date(iso);
const nightly: MaintenanceSchedule = { kind: 'recurring', start: '02:00', durationMs: HOUR, timezone: 'UTC' };

describe('which maintenance occurrences go into the outage history', () => {
  const base = { schedule: nightly, createdAt: at('2026-11-01T00:00:00.000Z'), deletedAt: null };
  test.each([
    ['nothing before the window first opens', { dueAt: at('2026-11-29T02:00:00.000Z'), now: at('2026-11-28T03:00:00.000Z') }, [], '2026-11-29T02:00:00.000Z'],
    ['an occurrence once it has started, with its planned end', { dueAt: at('2026-11-29T02:00:00.000Z'), now: at('2026-11-29T02:00:05.000Z') }, [['2026-11-29T02:00:00.000Z', '2026-11-29T03:00:00.000Z']], '2026-11-30T02:00:00.000Z'],
    [
      'every occurrence a daemon that was down missed, and the open one',
      { dueAt: at('2026-11-29T02:00:00.000Z'), now: at('2026-12-01T02:30:00.000Z') },
      [
        ['2026-11-29T02:00:00.000Z', '2026-11-29T03:00:00.000Z'],
        ['2026-11-30T02:00:00.000Z', '2026-11-30T03:00:00.000Z'],
        ['2026-12-01T02:00:00.000Z', '2026-12-01T03:00:00.000Z'],
      ],
      '2026-12-02T02:00:00.000Z',
    ],
    ['from its creation when created open', { createdAt: at('2026-11-29T02:20:00.000Z'), dueAt: at('2026-11-29T02:20:00.000Z'), now: at('2026-11-29T02:20:01.000Z') }, [['2026-11-29T02:20:00.000Z', '2026-11-29T03:00:00.000Z']], '2026-11-30T02:00:00.000Z'],
    ['up to its deletion when deleted open, and no more after', { dueAt: at('2026-11-29T02:00:00.000Z'), deletedAt: at('2026-11-29T02:10:00.000Z'), now: at('2026-11-29T02:10:03.000Z') }, [['2026-11-29T02:00:00.000Z', '2026-11-29T02:10:00.000Z']], null],
  ] as const)('%s', (_name, input, expected, nextDueAt) => {
    const plan = planWindowHistory({ ...base, ...input });
    expect(plan).toEqual({ occurrences: expected.map(([startedAt, endedAt]) => ({ startedAt, endedAt })), nextDueAt });
  });

  test('a one-off window is recorded once, then never due again', () => {
    const schedule: MaintenanceSchedule = { kind: 'one-off', startsAt: '2026-11-28T04:00:00.000Z', endsAt: '2026-11-28T06:00:00.000Z' };
    const plan = planWindowHistory({ schedule, createdAt: at(T0), deletedAt: null, dueAt: at('2026-11-28T04:00:00.000Z'), now: at('2026-11-28T04:00:09.000Z') });
    expect(plan).toEqual({ occurrences: [{ startedAt: '2026-11-28T04:00:00.000Z', endedAt: '2026-11-28T06:00:00.000Z' }], nextDueAt: null });
  });
});

describeEachEngine('maintenance in the outage history, recorded by the daemon', (engine) => {
  let db: TestDb;
  let clock: TestClock;
  let alice: number;
  let bob: number;

  beforeEach(async () => {
    db = await createTestDb(engine);
    clock = new TestClock(T0);
    alice = await insertUser(db.db, 'alice@example.com');
    bob = await insertUser(db.db, 'bob@example.com');
  });
  afterEach(() => db.dispose());

  const daemon = (instanceId = 'daemon-a') => createHousekeeping({ db: db.db, clock, logger: testLogger().logger, instanceId, channels: ['webhook'] });
  const history = () =>
    db.db.selectFrom('outage_history').select(['machine_id', 'kind', 'started_at', 'ended_at']).orderBy('started_at').orderBy('machine_id').execute();
  const window = (input: Omit<Parameters<typeof createWindow>[1], 'userId' | 'now'>, userId = alice) => createWindow(db.db, { ...input, userId, now: clock.now() });

  test("a one-off window's listed machines get one interval once it has started, however many daemons run, and no other machine does", async () => {
    const web = await insertMachine(db.db, alice, { name: 'web' });
    await insertMachine(db.db, alice, { name: 'api' });
    await insertMachine(db.db, bob, { name: 'bobs' });
    await window({ name: 'upgrade', machineIds: [web], schedule: { kind: 'one-off', startsAt: '2026-11-28T04:00:00.000Z', endsAt: '2026-11-28T05:00:00.000Z' } });
    const [a, b] = [daemon('daemon-a'), daemon('daemon-b')];
    await a.runOnce();
    expect(await history()).toEqual([]);
    clock.set(new Date('2026-11-28T04:00:01.000Z'));
    await Promise.all([a.runOnce(), b.runOnce()]);
    clock.advance(MAINTENANCE_HISTORY_EVERY_MS);
    await Promise.all([b.runOnce(), a.runOnce()]);
    expect(await history()).toEqual([{ machine_id: web, kind: 'maintenance', started_at: '2026-11-28T04:00:00.000Z', ended_at: '2026-11-28T05:00:00.000Z' }]);
  });

  test('a daily window over all machines (one added later too) is recorded each night, and the nights a stopped daemon missed when it is back', async () => {
    const first = await insertMachine(db.db, alice, { name: 'first' });
    await insertMachine(db.db, bob, { name: 'bobs' });
    await window({ name: 'nightly', machineIds: null, schedule: nightly });
    const housekeeping = daemon();
    clock.set(new Date('2026-11-29T02:00:30.000Z'));
    await housekeeping.runOnce();
    const later = await insertMachine(db.db, alice, { name: 'later' });
    // Stopped for two nights, then back.
    clock.set(new Date('2026-12-01T12:00:00.000Z'));
    await housekeeping.runOnce();
    const night = (d: string, id: number) => ({ machine_id: id, kind: 'maintenance', started_at: `${d}T02:00:00.000Z`, ended_at: `${d}T03:00:00.000Z` });
    expect(await history()).toEqual([
      night('2026-11-29', first),
      night('2026-11-30', first),
      night('2026-11-30', later),
      night('2026-12-01', first),
      night('2026-12-01', later),
    ]);
    expect((await db.db.selectFrom('maintenance_windows').select('history_due_at').executeTakeFirstOrThrow()).history_due_at).toBe('2026-12-02T02:00:00.000Z');
  });

  test('deleting an open window ends its history then; uptime leaves the maintenance out of the ratio', async () => {
    const id = await insertMachine(db.db, alice, { name: 'db', status: 'online' });
    await db.db.updateTable('machines').set({ created_at: '2026-11-20T00:00:00.000Z' }).execute();
    const { window: created } = await window({ name: 'now', machineIds: [id], schedule: { kind: 'one-off', startsAt: '2026-11-28T02:00:00.000Z', endsAt: '2026-11-28T06:00:00.000Z' } });
    await daemon().runOnce();
    // An outage inside the window: maintenance, not downtime.
    await db.db.insertInto('outage_history').values({ machine_id: id, kind: 'outage', started_at: '2026-11-28T03:00:00.000Z', ended_at: '2026-11-28T03:30:00.000Z' }).execute();
    clock.set(new Date('2026-11-28T04:00:00.000Z'));
    expect(await deleteWindow(db.db, alice, created.id, clock.now())).toBe(true);
    clock.set(new Date('2026-11-28T12:00:00.000Z'));
    await daemon().runOnce();
    const intervals = await history();
    // Recorded from the window's creation (03:00), not its earlier start, to its deletion.
    expect(intervals.filter((h) => h.kind === 'maintenance')).toEqual([{ machine_id: id, kind: 'maintenance', started_at: T0, ended_at: '2026-11-28T04:00:00.000Z' }]);
    const timeline = timelineOf({ now: clock.now(), createdAt: '2026-11-20T00:00:00.000Z', hasReported: true, intervals });
    expect(dailyUptime(timeline, utcDays(clock.now(), 1))).toEqual([{ date: '2026-11-28', uptime: 1, maintenance_seconds: 3600 }]);
  });

  test('the job reads only the windows that are due, through their index', async () => {
    await window({ name: 'nightly', machineIds: null, schedule: nightly });
    expect(await queryPlan(db, dueWindows(db.db, clock.now(), 100).compile())).toMatch(usesIndex(engine, 'idx_maintenance_windows_history_due'));
  });
});
