import { describeEachEngine } from '../../../test/support/engines';
import { randomUUID } from 'node:crypto';
import { insertMachine } from '../../../test/support/fixtures';
import { call, expectError, startTestApi, startWithAccounts, type TestApi, type TestUser } from './support/harness';

describeEachEngine('preferences, events, health and liveness', (engine) => {
  let api: TestApi;
  let alice: TestUser;
  let bob: TestUser;
  beforeEach(async () => void ({ api, users: [alice, bob] } = await startWithAccounts({ engine }, ['alice@example.com', 'bob@example.com'])));
  afterEach(() => api.dispose());

  describe('notification preferences', () => {
    const get = (token: string) => call(api.url, 'GET', '/notifications/preferences', { auth: token });
    const put = (token: string, json: unknown) => call(api.url, 'PUT', '/notifications/preferences', { auth: token, json });

    it('defaults to every notification on and reminders off', async () => {
      const result = await get(alice.token);
      expect(result.status).toBe(200);
      expect(result.body).toEqual({ machine_offline: true, machine_online: true, machine_flapping: true, remind_every: '0s', remind_max: 3 });
    });

    it('changes one preference at a time and keeps them per user', async () => {
      expect((await put(alice.token, { machine_online: false })).body).toEqual({ machine_offline: true, machine_online: false, machine_flapping: true, remind_every: '0s', remind_max: 3 });
      expect((await put(alice.token, { machine_offline: false })).body).toEqual({ machine_offline: false, machine_online: false, machine_flapping: true, remind_every: '0s', remind_max: 3 });
      expect((await get(alice.token)).body).toEqual({ machine_offline: false, machine_online: false, machine_flapping: true, remind_every: '0s', remind_max: 3 });
      expect((await get(bob.token)).body).toEqual({ machine_offline: true, machine_online: true, machine_flapping: true, remind_every: '0s', remind_max: 3 });
      const row = await api.db.db.selectFrom('notification_preferences').selectAll().where('user_id', '=', alice.id).executeTakeFirstOrThrow();
      expect(row).toMatchObject({ machine_offline: 0, machine_online: 0 });
    });

    it.each([
      ['an empty object', {}],
      ['a string boolean', { machine_offline: 'false' }],
      ['a number', { machine_online: 0 }],
      ['an unknown preference', { machine_offline: true, machine_deleted: true }],
      ['an array', [true]],
    ])('refuses %s with 400 and keeps the defaults', async (_name, body) => {
      expectError(await put(alice.token, body), 400, 'preferences.invalid_payload');
      expect(await api.db.db.selectFrom('notification_preferences').selectAll().execute()).toEqual([]);
    });
  });

  describe('events', () => {
    async function insertEvent(userId: number, machineId: number, type: 'machine.offline' | 'machine.online', occurredAt: string) {
      const id = randomUUID();
      await api.db.db
        .insertInto('events')
        .values({ id, type, machine_id: machineId, user_id: userId, occurred_at: occurredAt, payload: JSON.stringify({ event: type, event_id: id, machine: { id: machineId } }), created_at: occurredAt })
        .execute();
      return id;
    }

    it('lists the user’s events newest first, each with its deliveries, and only theirs', async () => {
      const machine = await insertMachine(api.db.db, alice.id);
      const bobsMachine = await insertMachine(api.db.db, bob.id, { name: 'bobs' });
      const offline = await insertEvent(alice.id, machine, 'machine.offline', '2026-11-28T03:02:00.000Z');
      const online = await insertEvent(alice.id, machine, 'machine.online', '2026-11-28T03:10:00.000Z');
      await insertEvent(bob.id, bobsMachine, 'machine.offline', '2026-11-28T03:05:00.000Z');
      const t = '2026-11-28T03:02:00.000Z';
      await api.db.db
        .insertInto('deliveries')
        .values([
          { event_id: offline, machine_id: machine, channel: 'webhook', target_id: 7, status: 'delivered', attempts: 1, next_attempt_at: t, delivered_at: t, created_at: t, updated_at: t },
          { event_id: offline, machine_id: machine, channel: 'telegram', target_id: 3, status: 'failed', attempts: 2, last_error: 'HTTP 500', next_attempt_at: '2026-11-28T03:04:00.000Z', created_at: t, updated_at: t },
        ])
        .execute();

      const result = await call(api.url, 'GET', '/events', { auth: alice.token });
      expect(result.status).toBe(200);
      expect(result.body.map((e: { id: string }) => e.id)).toEqual([online, offline]);
      expect(result.body[0]).toMatchObject({ type: 'machine.online', machine_id: machine, occurred_at: '2026-11-28T03:10:00.000Z', deliveries: [] });
      expect(result.body[1].deliveries).toEqual([
        expect.objectContaining({ channel: 'webhook', target_id: 7, status: 'delivered', attempts: 1, last_error: null, next_attempt_at: t }),
        expect.objectContaining({ channel: 'telegram', target_id: 3, status: 'failed', attempts: 2, last_error: 'HTTP 500', next_attempt_at: '2026-11-28T03:04:00.000Z' }),
      ]);
      expect(result.body[1].payload).toMatchObject({ event: 'machine.offline', event_id: offline });
    });

    it('honours ?limit= and refuses a bad one', async () => {
      const machine = await insertMachine(api.db.db, alice.id);
      for (let i = 0; i < 5; i++) await insertEvent(alice.id, machine, 'machine.offline', `2026-11-28T03:0${i}:00.000Z`);
      const two = await call(api.url, 'GET', '/events?limit=2', { auth: alice.token });
      expect(two.body.map((e: { occurred_at: string }) => e.occurred_at)).toEqual(['2026-11-28T03:04:00.000Z', '2026-11-28T03:03:00.000Z']);
      for (const bad of ['0', '-1', 'abc', '501', '1.5', '']) {
        expectError(await call(api.url, 'GET', `/events?limit=${bad}`, { auth: alice.token }), 400, 'request.invalid_query');
      }
    });

    it('keeps showing events of a deleted machine', async () => {
      const machine = await insertMachine(api.db.db, alice.id);
      const event = await insertEvent(alice.id, machine, 'machine.offline', '2026-11-28T03:02:00.000Z');
      await api.db.db.deleteFrom('machines').where('id', '=', machine).execute();
      expect((await call(api.url, 'GET', '/events', { auth: alice.token })).body.map((e: { id: string }) => e.id)).toEqual([event]);
    });
  });

  describe('health', () => {
    it('answers without auth: ok, database reachable, the daemon’s last check', async () => {
      const before = await call(api.url, 'GET', '/health');
      expect(before.status).toBe(200);
      expect(before.body).toMatchObject({ status: 'ok', db: 'ok', daemon_last_check: null });
      await api.db.db
        .insertInto('service_liveness')
        .values({ instance_id: 'daemon-1', kind: 'daemon', pid: 1, hostname: 'h', started_at: '2026-11-28T02:00:00.000Z', heartbeat_at: '2026-11-28T02:59:30.000Z', stopped_at: null, ingest_resumed_at: null })
        .execute();
      const after = await call(api.url, 'GET', '/health');
      expect(after.body.daemon_last_check).toBe('2026-11-28T02:59:30.000Z');
    });
  });

  describe('liveness of the API itself', () => {
    it('registers as an api instance at start and records its stop on a graceful shutdown', async () => {
      const rows = () => api.db.db.selectFrom('service_liveness').selectAll().where('kind', '=', 'api').execute();
      const [running] = await rows();
      expect(running).toMatchObject({ instance_id: expect.any(String), pid: process.pid, stopped_at: null, started_at: api.clock.now().toISOString() });
      api.clock.advance(2_000);
      await api.stop();
      const [stopped] = await rows();
      expect(stopped.stopped_at).toBe(api.clock.now().toISOString());
    });

    it('beats about once a second while running', async () => {
      await api.dispose();
      api = await startTestApi({ engine });
      api.clock.advance(1_500);
      const expected = api.clock.now().toISOString();
      // Waits for the beat itself (an observable write), not for a fixed time.
      const start = Date.now();
      for (;;) {
        const row = await api.db.db.selectFrom('service_liveness').select('heartbeat_at').where('kind', '=', 'api').executeTakeFirstOrThrow();
        if (row.heartbeat_at === expected) break;
        if (Date.now() - start > 10_000) throw new Error(`no beat recorded; heartbeat_at is ${row.heartbeat_at}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    });
  });

  describe('unknown routes and methods', () => {
    it('answer a JSON 404', async () => {
      expectError(await call(api.url, 'GET', '/nope'), 404, 'route.not_found');
      expectError(await call(api.url, 'PUT', '/machines', { auth: alice.token }), 404, 'route.not_found');
      expectError(await call(api.url, 'GET', '/agent/metrics'), 404, 'route.not_found');
    });
  });
});
