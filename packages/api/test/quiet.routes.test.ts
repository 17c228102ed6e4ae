import { describeEachEngine } from '../../../test/support/engines';
import { insertMachine } from '../../../test/support/fixtures';
import { call, expectError, newUser, startTestApi, type TestApi } from './support/harness';

/** CONTRACT §6.2–§6.4 from the outside: snooze, maintenance windows, quiet preferences, suppressed events. */
describeEachEngine('quiet-alert routes', (engine) => {
  let api: TestApi;
  let alice: { id: number; token: string };
  let bob: { id: number; token: string };
  let machine: number;
  let other: number;

  beforeEach(async () => {
    api = await startTestApi({ engine });
    api.clock.set('2026-11-28T03:00:00.000Z');
    alice = await newUser(api, 'alice@example.com');
    bob = await newUser(api, 'bob@example.com');
    machine = await insertMachine(api.db.db, alice.id, { status: 'online', last_seen: '2026-11-28T02:59:00.000Z' });
    other = await insertMachine(api.db.db, bob.id, { name: 'bobs' });
  });
  afterEach(() => api.dispose());

  const send = (method: string, path: string, json?: unknown, token = alice.token) => call(api.url, method, path, { auth: token, json });
  const machineRow = (id = machine) => api.db.db.selectFrom('machines').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

  describe('snooze', () => {
    test.each([
      [{ for: '1h' }, '2026-11-28T04:00:00.000Z'],
      [{ until: '2026-11-28T06:30:00+01:00' }, '2026-11-28T05:30:00.000Z'],
      [{ until: 'next-online' }, 'next-online'],
    ])('POST %j snoozes the machine and shows snoozed_until', async (body, expected) => {
      const result = await send('POST', `/machines/${machine}/snooze`, body);
      expect(result.status).toBe(200);
      expect(result.body).toMatchObject({ id: machine, snoozed_until: expected });
      expect((await send('GET', `/machines/${machine}`)).body.snoozed_until).toBe(expected);
      const row = await machineRow();
      expect(row.snoozed_until).toBe(expected);
      // The daemon looks again when a timed snooze runs out (never for next-online: a recovery ends it).
      expect(row.quiet_due_at).toBe(expected === 'next-online' ? null : expected);
    });

    test('DELETE ends the snooze now: null for the user, an ended snooze due for the daemon', async () => {
      await send('POST', `/machines/${machine}/snooze`, { for: '2h' });
      api.clock.advance(60_000);
      const result = await send('DELETE', `/machines/${machine}/snooze`);
      expect(result.status).toBe(200);
      expect(result.body.snoozed_until).toBeNull();
      expect(await machineRow()).toMatchObject({ snoozed_until: '2026-11-28T03:01:00.000Z', quiet_due_at: '2026-11-28T03:01:00.000Z' });
      // Unsnoozing a machine that is not snoozed changes nothing.
      api.clock.advance(60_000);
      expect((await send('DELETE', `/machines/${machine}/snooze`)).body.snoozed_until).toBeNull();
      expect((await machineRow()).snoozed_until).toBe('2026-11-28T03:01:00.000Z');
    });

    test('a snooze runs out for the user at its time', async () => {
      await send('POST', `/machines/${machine}/snooze`, { for: '30m' });
      api.clock.advance(30 * 60_000);
      expect((await send('GET', '/machines')).body[0].snoozed_until).toBeNull();
    });

    test.each([
      ['no body', undefined],
      ['an empty object', {}],
      ['both for and until', { for: '1h', until: 'next-online' }],
      ['an unknown field', { for: '1h', reason: 'deploy' }],
      ['a duration that is no Go duration', { for: '1 hour' }],
      ['a zero duration', { for: '0s' }],
      ['a negative duration', { for: '-5m' }],
      ['more than 30 days', { for: '721h' }],
      ['a time in the past', { until: '2026-11-28T02:00:00Z' }],
      ['a time without an offset', { until: '2026-11-28T05:00:00' }],
      ['a time 31 days ahead', { until: '2026-12-29T03:00:00Z' }],
      ['a number', { for: 3600 }],
      ['an array', ['1h']],
    ])('refuses %s with a 400 that stores nothing', async (_name, body) => {
      expectError(await send('POST', `/machines/${machine}/snooze`, body), 400, 'snooze.invalid_payload');
      expect(await machineRow()).toMatchObject({ snoozed_until: null, quiet_due_at: null });
    });

    test("another user's machine is a 404, both ways", async () => {
      expectError(await send('POST', `/machines/${other}/snooze`, { for: '1h' }), 404, 'machine.not_found');
      expectError(await send('DELETE', `/machines/${other}/snooze`), 404, 'machine.not_found');
      expect((await machineRow(other)).snoozed_until).toBeNull();
    });
  });

  describe('maintenance windows', () => {
    const count = async () => ({
      windows: (await api.db.db.selectFrom('maintenance_windows').selectAll().execute()).length,
      members: (await api.db.db.selectFrom('maintenance_window_machines').selectAll().execute()).length,
    });

    test('a one-off window for chosen machines: created, listed, fetched, with active and next times', async () => {
      const created = await send('POST', '/maintenance', { name: 'reboot', machine_ids: [machine], starts_at: '2026-11-28T04:00:00Z', ends_at: '2026-11-28T05:00:00+00:00' });
      expect(created.status).toBe(201);
      expect(created.body).toEqual({
        id: expect.any(Number),
        name: 'reboot',
        kind: 'one-off',
        machine_ids: [machine],
        starts_at: '2026-11-28T04:00:00.000Z',
        ends_at: '2026-11-28T05:00:00.000Z',
        active: false,
        next_start: '2026-11-28T04:00:00.000Z',
        next_end: '2026-11-28T05:00:00.000Z',
        created_at: '2026-11-28T03:00:00.000Z',
      });
      api.clock.set('2026-11-28T04:30:00.000Z');
      expect((await send('GET', '/maintenance')).body).toEqual([{ ...created.body, active: true, next_start: null }]);
      expect((await send('GET', `/maintenance/${created.body.id}`)).body).toMatchObject({ active: true, next_end: '2026-11-28T05:00:00.000Z' });
      expect((await send('GET', '/maintenance', undefined, bob.token)).body).toEqual([]);
      expectError(await send('GET', `/maintenance/${created.body.id}`, undefined, bob.token), 404, 'maintenance.not_found');
    });

    test('a recurring window for all machines follows its zone', async () => {
      const created = await send('POST', '/maintenance', {
        name: 'backup',
        recurrence: { weekdays: ['sun', 'sat'], start: '02:30', duration: '1h30m', timezone: 'Europe/Berlin' },
      });
      expect(created.status).toBe(201);
      // 2026-11-28 is a Saturday; 03:00 UTC is 04:00 in Berlin, after 02:30: the next start is Sunday 02:30 CET.
      expect(created.body).toMatchObject({
        kind: 'recurring',
        machine_ids: null,
        recurrence: { weekdays: ['sat', 'sun'], start: '02:30', duration: '1h30m0s', timezone: 'Europe/Berlin' },
        active: false,
        next_start: '2026-11-29T01:30:00.000Z',
        next_end: '2026-11-29T03:00:00.000Z',
      });
      const row = await api.db.db.selectFrom('maintenance_windows').selectAll().executeTakeFirstOrThrow();
      expect(row).toMatchObject({ all_machines: 1, next_end_at: '2026-11-29T03:00:00.000Z', weekdays: 'sat,sun' });
    });

    test.each([
      ['no body', undefined],
      ['no name', { starts_at: '2026-11-28T04:00:00Z', ends_at: '2026-11-28T05:00:00Z' }],
      ['a blank name', { name: ' ', starts_at: '2026-11-28T04:00:00Z', ends_at: '2026-11-28T05:00:00Z' }],
      ['no timing', { name: 'x' }],
      ['an end before the start', { name: 'x', starts_at: '2026-11-28T05:00:00Z', ends_at: '2026-11-28T04:00:00Z' }],
      ['a window already over', { name: 'x', starts_at: '2026-11-28T01:00:00Z', ends_at: '2026-11-28T02:00:00Z' }],
      ['a time without an offset', { name: 'x', starts_at: '2026-11-28T04:00:00', ends_at: '2026-11-28T05:00:00Z' }],
      ['both kinds', { name: 'x', starts_at: '2026-11-28T04:00:00Z', ends_at: '2026-11-28T05:00:00Z', recurrence: { start: '02:00', duration: '1h', timezone: 'UTC' } }],
      ['an unknown zone', { name: 'x', recurrence: { start: '02:00', duration: '1h', timezone: 'Mars/Olympus' } }],
      ['an offset as zone', { name: 'x', recurrence: { start: '02:00', duration: '1h', timezone: '+02:00' } }],
      ['an unknown weekday', { name: 'x', recurrence: { weekdays: ['mon', 'funday'], start: '02:00', duration: '1h', timezone: 'UTC' } }],
      ['no weekday at all', { name: 'x', recurrence: { weekdays: [], start: '02:00', duration: '1h', timezone: 'UTC' } }],
      ['a start of 24:00', { name: 'x', recurrence: { start: '24:00', duration: '1h', timezone: 'UTC' } }],
      ['a duration over 24h', { name: 'x', recurrence: { start: '02:00', duration: '25h', timezone: 'UTC' } }],
      ['a zero duration', { name: 'x', recurrence: { start: '02:00', duration: '0s', timezone: 'UTC' } }],
      ['an unknown recurrence field', { name: 'x', recurrence: { start: '02:00', duration: '1h', timezone: 'UTC', every: 'week' } }],
      ['an unknown field', { name: 'x', machine_id: 1, starts_at: '2026-11-28T04:00:00Z', ends_at: '2026-11-28T05:00:00Z' }],
      ['an empty machine list', { name: 'x', machine_ids: [], starts_at: '2026-11-28T04:00:00Z', ends_at: '2026-11-28T05:00:00Z' }],
      ['a machine id that is text', { name: 'x', machine_ids: ['1'], starts_at: '2026-11-28T04:00:00Z', ends_at: '2026-11-28T05:00:00Z' }],
      ['a machine listed twice', { name: 'x', machine_ids: [1, 1], starts_at: '2026-11-28T04:00:00Z', ends_at: '2026-11-28T05:00:00Z' }],
    ])('refuses %s with a 400 that stores nothing', async (_name, body) => {
      expectError(await send('POST', '/maintenance', body), 400, 'maintenance.invalid_payload');
      expect(await count()).toEqual({ windows: 0, members: 0 });
    });

    test("another user's machine (or none) is a 404 that stores nothing", async () => {
      for (const id of [other, 9999]) {
        const result = await send('POST', '/maintenance', { name: 'x', machine_ids: [machine, id], starts_at: '2026-11-28T04:00:00Z', ends_at: '2026-11-28T05:00:00Z' });
        expectError(result, 404, 'machine.not_found');
        expect(result.body.error).toBe(`machine ${id} not found`);
      }
      expect(await count()).toEqual({ windows: 0, members: 0 });
    });

    test('DELETE removes a future window at once, and an open one once the daemon has acted on its end', async () => {
      const future = (await send('POST', '/maintenance', { name: 'later', starts_at: '2026-11-28T04:00:00Z', ends_at: '2026-11-28T05:00:00Z' })).body;
      const open = (await send('POST', '/maintenance', { name: 'now', machine_ids: [machine], starts_at: '2026-11-28T02:00:00Z', ends_at: '2026-11-28T05:00:00Z' })).body;
      expect(open.active).toBe(true);
      expectError(await send('DELETE', `/maintenance/${future.id}`, undefined, bob.token), 404, 'maintenance.not_found');
      expect((await send('DELETE', `/maintenance/${future.id}`)).status).toBe(204);
      expect((await send('DELETE', `/maintenance/${open.id}`)).status).toBe(204);
      expect((await send('GET', '/maintenance')).body).toEqual([]);
      expectError(await send('DELETE', `/maintenance/${open.id}`), 404, 'maintenance.not_found');
      // The open one ended now: left for the daemon to announce what changed during it.
      expect(await api.db.db.selectFrom('maintenance_windows').select(['id', 'deleted_at', 'next_end_at']).execute()).toEqual([
        { id: open.id, deleted_at: '2026-11-28T03:00:00.000Z', next_end_at: '2026-11-28T03:00:00.000Z' },
      ]);
    });
  });

  describe('preferences for flapping and reminders', () => {
    test('remind_every, remind_max and machine_flapping are read and written', async () => {
      const result = await send('PUT', '/notifications/preferences', { remind_every: '1h30m', remind_max: 5, machine_flapping: false });
      expect(result.body).toEqual({ machine_offline: true, machine_online: true, machine_flapping: false, remind_every: '1h30m0s', remind_max: 5 });
      expect((await send('PUT', '/notifications/preferences', { remind_every: '0s' })).body.remind_every).toBe('0s');
      const row = await api.db.db.selectFrom('notification_preferences').selectAll().executeTakeFirstOrThrow();
      expect(row).toMatchObject({ remind_every_ms: 0, remind_max: 5, machine_flapping: 0 });
    });

    test.each([
      ['a reminder more often than 5m', { remind_every: '4m59s' }],
      ['a reminder interval that is no duration', { remind_every: 'hourly' }],
      ['a reminder interval as a number', { remind_every: 3600 }],
      ['a negative interval', { remind_every: '-1h' }],
      ['no reminders at all', { remind_max: 0 }],
      ['too many reminders', { remind_max: 101 }],
      ['a fractional count', { remind_max: 2.5 }],
      ['a count as text', { remind_max: '3' }],
      ['flapping as text', { machine_flapping: 'yes' }],
      ['a good field beside a bad one', { machine_offline: false, remind_max: 0 }],
    ])('refuses %s with a 400 that stores nothing', async (_name, body) => {
      expectError(await send('PUT', '/notifications/preferences', body), 400, 'preferences.invalid_payload');
      expect(await api.db.db.selectFrom('notification_preferences').selectAll().execute()).toEqual([]);
    });
  });

  test('GET /events shows why an event was held back, and null for the others', async () => {
    const t = '2026-11-28T03:02:00.000Z';
    const base = { machine_id: machine, user_id: alice.id, occurred_at: t, payload: '{}', created_at: t };
    await api.db.db.insertInto('events').values({ ...base, id: 'a', type: 'machine.offline', suppressed: 'maintenance' }).execute();
    await api.db.db.insertInto('events').values({ ...base, id: 'b', type: 'machine.flapping', occurred_at: '2026-11-28T03:03:00.000Z' }).execute();
    const events = (await send('GET', '/events')).body;
    expect(events.map((e: { id: string; type: string; suppressed: string | null }) => [e.id, e.type, e.suppressed])).toEqual([
      ['b', 'machine.flapping', null],
      ['a', 'machine.offline', 'maintenance'],
    ]);
  });
});
