import { maintenanceColumnsOf, maintenanceState, type DatabaseHandle, type FlapSettings, type MaintenanceSchedule } from '@lunasentri/shared';
import { TestClock } from '../../../../test/support/test-clock';
import { createTestDb, type TestDb } from '../../../../test/support/db';
import { describeEachEngine, testOn } from '../../../../test/support/engines';
import { insertMachine, insertUser, insertWebhook } from '../../../../test/support/fixtures';
import { createSweeper } from '../../src/sweep/sweep.usecases';
import { secondConnection, testLogger } from '../helpers';

/*
 * The quiet rules of CONTRACT §6.2–§6.4 through the real sweep on a real database, driven by a test
 * clock: what the channels get (events with deliveries) and what is only recorded (suppressed).
 */

const THRESHOLD = 10_000;
const T0 = '2026-11-28T03:00:00.000Z';
const NO_FLAP: FlapSettings = { threshold: 0, windowMs: 60_000, settleMs: 20_000 };

describeEachEngine('quiet rules in the sweep', (engine) => {
  let db: TestDb;
  let clock: TestClock;
  let userId: number;

  beforeEach(async () => {
    db = await createTestDb(engine);
    clock = new TestClock(T0);
    userId = await insertUser(db.db);
    await insertWebhook(db.db, userId, 'https://hooks.example.com/a');
  });
  afterEach(() => db.dispose());

  const sweep = (flap: FlapSettings = NO_FLAP, handle: DatabaseHandle = db) =>
    createSweeper({ db: handle.db, clock, logger: testLogger().logger, thresholdMs: THRESHOLD, intervalMs: 1_000, flap }).run();
  const report = (...ids: number[]) => db.db.updateTable('machines').set({ last_seen: clock.now().toISOString() }).where('id', 'in', ids).execute();
  /** Every event as `type machine [suppressed]`, with `→` when it has deliveries: what the channels got. */
  async function story(): Promise<string[]> {
    const events = await db.db.selectFrom('events').selectAll().orderBy('occurred_at').orderBy('created_at').execute();
    const out: string[] = [];
    for (const e of events) {
      const n = (await db.db.selectFrom('deliveries').select('id').where('event_id', '=', e.id).execute()).length;
      const payload = JSON.parse(e.payload) as { machine: { name: string; status: string } };
      out.push(`${e.type} ${payload.machine.name} ${payload.machine.status}${e.suppressed ? ` [${e.suppressed}]` : ''}${n > 0 ? ' →' : ''}`);
    }
    return out;
  }
  const told = async () => (await story()).filter((line) => line.endsWith('→'));
  const dedup = async () => (await db.db.selectFrom('machine_offline_notifications').select('machine_id').orderBy('machine_id').execute()).map((r) => r.machine_id);
  const online = (name: string) => insertMachine(db.db, userId, { name, status: 'online', last_seen: clock.now().toISOString(), status_changed_at: clock.now().toISOString() });
  /** Steps the clock by `stepMs` up to `totalMs`, sweeping each step, with `reporting` machines reporting. */
  async function run(totalMs: number, reporting: number[], flap: FlapSettings = NO_FLAP, stepMs = 1_000) {
    for (let t = 0; t < totalMs; t += stepMs) {
      clock.advance(stepMs);
      if (reporting.length > 0) await report(...reporting);
      await sweep(flap);
    }
  }
  async function insertWindow(schedule: MaintenanceSchedule, machineIds: number[] | null) {
    const row = await db.db
      .insertInto('maintenance_windows')
      .values({
        user_id: userId,
        name: 'window',
        ...maintenanceColumnsOf(schedule),
        all_machines: machineIds === null ? 1 : 0,
        next_end_at: maintenanceState(schedule, clock.now()).next_end,
        deleted_at: null,
        created_at: T0,
        updated_at: T0,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    if (machineIds) for (const id of machineIds) await db.db.insertInto('maintenance_window_machines').values({ window_id: row.id, machine_id: id }).execute();
    return row.id;
  }

  describe('flapping', () => {
    const FLAP: FlapSettings = { threshold: 3, windowMs: 60_000, settleMs: 20_000 };

    test('one flapping notice, suppressed changes, then one flapping_ended that announces the settled status', async () => {
      const id = await online('link');
      // 15 s down (offline after the 10 s threshold), 5 s up, three times: changes at each edge.
      for (let i = 0; i < 3; i++) {
        await run(15_000, [], FLAP);
        await run(5_000, [id], FLAP);
      }
      expect(await told()).toEqual(['machine.offline link offline →', 'machine.online link online →', 'machine.flapping link offline →']);
      expect((await story()).slice(3)).toEqual([
        'machine.online link online [flapping]',
        'machine.offline link offline [flapping]',
        'machine.online link online [flapping]',
      ]);
      const flapping = await db.db.selectFrom('events').select('payload').where('type', '=', 'machine.flapping').executeTakeFirstOrThrow();
      expect(JSON.parse(flapping.payload)).toMatchObject({ event: 'machine.flapping', machine: { status: 'offline' }, transitions: 3, window_seconds: 60 });
      // It keeps reporting: online for the settle time, then one flapping_ended, online.
      await run(25_000, [id], FLAP);
      expect((await told()).slice(3)).toEqual(['machine.flapping_ended link online →']);
      expect(await dedup()).toEqual([]);
      expect(await db.db.selectFrom('machines').select(['flapping_since', 'announced_status']).executeTakeFirstOrThrow()).toEqual({ flapping_since: null, announced_status: 'online' });
    });

    test('a machine that settles offline is announced by flapping_ended: the dedup row exists, and its recovery is announced', async () => {
      const id = await online('link');
      for (let i = 0; i < 2; i++) {
        await run(15_000, [], FLAP);
        await run(5_000, [id], FLAP);
      }
      await run(40_000, [], FLAP); // down for good: flapping started at the 3rd change, settles 20 s after the 5th
      expect(await told()).toEqual(['machine.offline link offline →', 'machine.online link online →', 'machine.flapping link offline →', 'machine.flapping_ended link offline →']);
      expect(await dedup()).toEqual([id]);
      // Back while the window still holds the threshold's changes: flapping again at once (announcing it online).
      await run(2_000, [id], FLAP);
      expect((await told()).slice(4)).toEqual(['machine.flapping link online →']);
      expect(await dedup()).toEqual([]);
      // It settles again, and a later single outage is an ordinary one.
      await run(90_000, [id], FLAP);
      await run(12_000, [], FLAP);
      expect((await told()).slice(5)).toEqual(['machine.flapping_ended link online →', 'machine.offline link offline →']);
    });

    test('a steady single outage still sends exactly offline and online', async () => {
      const id = await online('steady');
      await run(60_000, [], FLAP);
      await run(10_000, [id], FLAP);
      expect(await story()).toEqual(['machine.offline steady offline →', 'machine.online steady online →']);
    });

    test('the preference machine_flapping off records both notices with no deliveries', async () => {
      await db.db.insertInto('notification_preferences').values({ user_id: userId, machine_flapping: 0, updated_at: T0 }).execute();
      const id = await online('link');
      for (let i = 0; i < 2; i++) {
        await run(15_000, [], FLAP);
        await run(5_000, [id], FLAP);
      }
      await run(25_000, [id], FLAP);
      expect(await story()).toEqual([
        'machine.offline link offline →',
        'machine.online link online →',
        'machine.flapping link offline',
        'machine.online link online [flapping]',
        'machine.flapping_ended link online',
      ]);
    });
  });

  describe('a one-off maintenance window', () => {
    // The window: 03:01:00 to 03:03:00. Each machine lives one of the six stories of CONTRACT §6.3.
    const W0 = Date.parse(T0) + 60_000;
    const W1 = Date.parse(T0) + 180_000;

    test('six machines through one window, each told only what differs from what it was last told', async () => {
      const names = ['down-before-and-after', 'down-and-back-inside', 'down-inside-still-down', 'online-throughout', 'snoozed-next-online', 'last-report-before-end'];
      const ids: Record<string, number> = {};
      for (const name of names) ids[name] = await online(name);
      await insertWindow({ kind: 'one-off', startsAt: new Date(W0).toISOString(), endsAt: new Date(W1).toISOString() }, Object.values(ids));
      const reporting = new Set(Object.values(ids));
      const stop = (name: string) => reporting.delete(ids[name]);
      const start = (name: string) => reporting.add(ids[name]);
      const until = async (at: number) => {
        while (clock.now().getTime() < at) {
          clock.advance(1_000);
          if (reporting.size > 0) await report(...reporting);
          await sweep();
        }
      };
      // Before the window: two machines go down and are announced; one of them is snoozed until it is back.
      stop('down-before-and-after');
      stop('snoozed-next-online');
      await until(W0 - 30_000);
      await db.db.updateTable('machines').set({ snoozed_until: 'next-online' }).where('id', '=', ids['snoozed-next-online']).execute();
      await until(W0 + 10_000);
      stop('down-and-back-inside');
      stop('down-inside-still-down');
      await until(W0 + 40_000);
      start('down-and-back-inside');
      start('snoozed-next-online'); // its recovery ends the snooze, inside the window
      await until(W1 - 1_000);
      stop('last-report-before-end');
      await until(W1 + 30_000);
      stop('snoozed-next-online'); // down again after the window

      await until(W1 + 60_000);
      const lines = await story();
      const toldOf = (name: string) => lines.filter((l) => l.includes(` ${name} `) && l.endsWith('→'));
      expect(toldOf('down-before-and-after')).toEqual([`machine.offline down-before-and-after offline →`]);
      expect(toldOf('down-and-back-inside')).toEqual([]);
      expect(toldOf('down-inside-still-down')).toEqual(['machine.offline down-inside-still-down offline →']);
      expect(toldOf('online-throughout')).toEqual([]);
      expect(toldOf('snoozed-next-online')).toEqual([
        'machine.offline snoozed-next-online offline →',
        'machine.online snoozed-next-online online →',
        'machine.offline snoozed-next-online offline →',
      ]);
      expect(toldOf('last-report-before-end')).toEqual(['machine.offline last-report-before-end offline →']);
      // Inside the window the changes were recorded, held back.
      expect(lines.filter((l) => l.includes('[maintenance]')).sort()).toEqual([
        'machine.offline down-and-back-inside offline [maintenance]',
        'machine.offline down-inside-still-down offline [maintenance]',
        'machine.online down-and-back-inside online [maintenance]',
        'machine.online snoozed-next-online online [maintenance]',
      ]);
      // When: the owed offline one threshold after the end, the last report's threshold counted from the end.
      const at = async (name: string, type: string) =>
        (await db.db.selectFrom('events').select('occurred_at').where('machine_id', '=', ids[name]).where('type', '=', type as never).where('suppressed', 'is', null).orderBy('occurred_at').execute()).map((e) => Date.parse(e.occurred_at) - W1);
      expect(await at('down-inside-still-down', 'machine.offline')).toEqual([11_000]);
      expect(await at('last-report-before-end', 'machine.offline')).toEqual([11_000]);
      expect(await at('snoozed-next-online', 'machine.online')).toEqual([0]);
      expect(await dedup()).toEqual([ids['down-before-and-after'], ids['down-inside-still-down'], ids['snoozed-next-online'], ids['last-report-before-end']].sort((a, b) => a - b));
    });

    test('a daemon restart inside the window sends nothing, and the end is acted on once', async () => {
      const id = await online('quiet');
      await insertWindow({ kind: 'one-off', startsAt: new Date(W0).toISOString(), endsAt: new Date(W1).toISOString() }, null);
      clock.set(W0 + 1_000);
      await sweep();
      clock.advance(THRESHOLD + 1);
      await sweep(); // goes offline inside: held back
      const restarted = await secondConnection(db.path);
      try {
        clock.advance(5_000);
        await sweep(NO_FLAP, restarted);
        expect(await told()).toEqual([]);
        clock.set(W1 + THRESHOLD + 1);
        await sweep(NO_FLAP, restarted);
        await sweep(NO_FLAP, restarted);
      } finally {
        await restarted.close();
      }
      expect(await told()).toEqual(['machine.offline quiet offline →']);
      expect(await db.db.selectFrom('maintenance_windows').select('next_end_at').executeTakeFirstOrThrow()).toEqual({ next_end_at: null });
      void id;
    });
  });

  test.each([
    ['a window', 'window'],
    ['a timed snooze', 'snooze'],
  ])('a daemon that was down across the end of %s still counts the threshold from the end', async (_name, kind) => {
    const id = await online('back-to-work');
    const end = Date.parse(T0) + 60_000;
    if (kind === 'window') await insertWindow({ kind: 'one-off', startsAt: T0, endsAt: new Date(end).toISOString() }, [id]);
    else await db.db.updateTable('machines').set({ snoozed_until: new Date(end).toISOString(), quiet_due_at: new Date(end).toISOString() }).where('id', '=', id).execute();
    clock.set(end - 1_000);
    await report(id); // its last report, just before the end; no check runs until well after it
    clock.set(end + THRESHOLD - 500);
    await sweep();
    expect(await story()).toEqual([]);
    clock.set(end + THRESHOLD + 1);
    await sweep();
    expect(await told()).toEqual(['machine.offline back-to-work offline →']);
  });

  test('a recurring window on the night clocks go forward in Europe/Berlin holds back what happens in it', async () => {
    // Daily at 02:30 for 1h: on 2026-03-29 02:30 does not exist, so it opens at 03:00 CEST (01:00 UTC) and closes at 02:00 UTC.
    clock.set('2026-03-29T00:30:00.000Z');
    const id = await online('nightly');
    await insertWindow({ kind: 'recurring', start: '02:30', durationMs: 3_600_000, timezone: 'Europe/Berlin' }, [id]);
    expect(await db.db.selectFrom('maintenance_windows').select('next_end_at').executeTakeFirstOrThrow()).toEqual({ next_end_at: '2026-03-29T02:00:00.000Z' });
    clock.set('2026-03-29T00:59:00.000Z');
    await report(id);
    await sweep();
    clock.set('2026-03-29T01:00:00.000Z');
    await sweep(); // 01:00 UTC: silent for 60 s, past the threshold, in the window
    clock.set('2026-03-29T01:59:59.999Z');
    await sweep();
    expect(await story()).toEqual(['machine.offline nightly offline [maintenance]']);
    clock.set('2026-03-29T02:00:00.000Z');
    await sweep(); // the end: the threshold counts from here
    clock.set('2026-03-29T02:00:10.000Z');
    await sweep();
    expect(await told()).toEqual([]);
    clock.set('2026-03-29T02:00:10.001Z');
    await sweep();
    expect(await told()).toEqual(['machine.offline nightly offline →']);
    // The next opening is the next night's 02:30 CEST.
    expect(await db.db.selectFrom('maintenance_windows').select('next_end_at').executeTakeFirstOrThrow()).toEqual({ next_end_at: '2026-03-30T01:30:00.000Z' });
  });

  // Two daemons in one process on one SQLite file would block each other's synchronous driver; on
  // SQLite the write lock serialises daemons anyway (the CLI suite runs two as processes).
  testOn('postgres', engine)('two daemons sweeping at once write each quiet event once: held back, owed after the window, reminders', async () => {
    await db.db.insertInto('notification_preferences').values({ user_id: userId, remind_every_ms: 300_000, remind_max: 3, updated_at: T0 }).execute();
    const ids: number[] = [];
    for (let i = 0; i < 30; i++) ids.push(await online(`m${i}`));
    await insertWindow({ kind: 'one-off', startsAt: new Date(Date.parse(T0) + 1_000).toISOString(), endsAt: new Date(Date.parse(T0) + 60_000).toISOString() }, null);
    const other = await secondConnection(db.path);
    const both = () => Promise.all([sweep(NO_FLAP), sweep(NO_FLAP, other)]);
    const count = async (type: string, suppressed: boolean) =>
      (await db.db.selectFrom('events').select('id').where('type', '=', type as never).where('suppressed', suppressed ? 'is not' : 'is', null).execute()).length;
    try {
      clock.set(Date.parse(T0) + 20_000);
      await both();
      await both();
      expect(await count('machine.offline', true)).toBe(30);
      clock.set(Date.parse(T0) + 60_000 + THRESHOLD + 1);
      await both();
      await both();
      expect(await count('machine.offline', false)).toBe(30);
      clock.advance(300_000);
      await both();
      await both();
      expect(await count('machine.still_offline', false)).toBe(30);
      expect(await db.db.selectFrom('deliveries').select('id').execute()).toHaveLength(60);
      expect(await dedup()).toEqual(ids);
    } finally {
      await other.close();
    }
  });

  describe('snooze', () => {
    test('a timed snooze: the outage inside it is recorded; at its end the threshold counts from the end, then it is announced', async () => {
      const id = await online('snoozed');
      const end = new Date(Date.parse(T0) + 60_000).toISOString();
      await db.db.updateTable('machines').set({ snoozed_until: end, quiet_due_at: end }).where('id', '=', id).execute();
      await run(59_000, []);
      expect(await story()).toEqual(['machine.offline snoozed offline [snooze]']);
      await run(10_000, []);
      expect(await told()).toEqual([]);
      await run(2_000, []);
      expect(await told()).toEqual(['machine.offline snoozed offline →']);
      expect(await db.db.selectFrom('machines').select(['snoozed_until', 'quiet_ended_at']).executeTakeFirstOrThrow()).toEqual({ snoozed_until: null, quiet_ended_at: end });
    });

    test('a snooze ended early (an ended snooze) announces a recovery its outage was owed', async () => {
      const id = await online('m');
      await run(12_000, []);
      expect(await told()).toEqual(['machine.offline m offline →']);
      await db.db.updateTable('machines').set({ snoozed_until: 'next-online' }).where('id', '=', id).execute();
      // Unsnoozed at once (as DELETE /machines/:id/snooze does), then back: the recovery is announced.
      const now = clock.now().toISOString();
      await db.db.updateTable('machines').set({ snoozed_until: now, quiet_due_at: now }).where('id', '=', id).execute();
      await run(2_000, [id]);
      expect(await told()).toEqual(['machine.offline m offline →', 'machine.online m online →']);
    });
  });

  describe('reminders', () => {
    const MIN = 60_000;

    test('at the exact grid times, at most remind_max, and once after a stop across two due times', async () => {
      await db.db.insertInto('notification_preferences').values({ user_id: userId, remind_every_ms: 5 * MIN, remind_max: 4, updated_at: T0 }).execute();
      const id = await online('down');
      clock.advance(THRESHOLD + 1);
      await sweep();
      const announced = clock.now().getTime();
      const reminders = async () =>
        (await db.db.selectFrom('events').select(['occurred_at', 'payload']).where('type', '=', 'machine.still_offline').orderBy('occurred_at').execute()).map((e) => [
          (Date.parse(e.occurred_at) - announced) / MIN,
          (JSON.parse(e.payload) as { reminder: number }).reminder,
        ]);
      clock.set(announced + 5 * MIN - 1);
      await sweep();
      expect(await reminders()).toEqual([]);
      clock.set(announced + 5 * MIN);
      await sweep();
      await sweep();
      expect(await reminders()).toEqual([[5, 1]]);
      // The daemon is stopped from 6 to 21 minutes: due times at 10, 15 and 20 pass.
      clock.set(announced + 21 * MIN);
      await sweep();
      await sweep();
      expect(await reminders()).toEqual([[5, 1], [21, 2]]);
      clock.set(announced + 25 * MIN);
      await sweep();
      clock.set(announced + 30 * MIN);
      await sweep();
      clock.set(announced + 35 * MIN);
      await sweep();
      expect(await reminders()).toEqual([[5, 1], [21, 2], [25, 3], [30, 4]]);
      const payload = JSON.parse((await db.db.selectFrom('events').select('payload').where('type', '=', 'machine.still_offline').orderBy('occurred_at').executeTakeFirstOrThrow()).payload);
      expect(payload).toMatchObject({ event: 'machine.still_offline', machine: { id, status: 'offline' }, downtime_seconds: 300, reminder: 1 });
      expect(await db.db.selectFrom('deliveries').select('id').execute()).toHaveLength(5);
    });

    test('a snooze stops the reminders of that outage, and a recovery ends them', async () => {
      await db.db.insertInto('notification_preferences').values({ user_id: userId, remind_every_ms: 5 * MIN, remind_max: 3, updated_at: T0 }).execute();
      const id = await online('down');
      clock.advance(THRESHOLD + 1);
      await sweep();
      const until = new Date(clock.now().getTime() + 2 * MIN).toISOString();
      await db.db.updateTable('machines').set({ snoozed_until: until, quiet_due_at: until }).where('id', '=', id).execute();
      for (let m = 1; m <= 12; m++) {
        clock.advance(MIN);
        await sweep();
      }
      expect(await told()).toEqual(['machine.offline down offline →']);
      expect(await db.db.selectFrom('machine_offline_notifications').select('next_reminder_at').executeTakeFirstOrThrow()).toEqual({ next_reminder_at: null });
    });
  });
});
