import type { CompiledQuery } from 'kysely';
import type { OutageKind } from '@lunasentri/shared';
import { describeEachEngine } from '../../../test/support/engines';
import { insertMachine } from '../../../test/support/fixtures';
import { queryPlan, usesIndex } from '../../../test/support/query-plan';
import { machineHistoryQuery, machinesHistoryQuery } from '../src/uptime/uptime.repository';
import { call, expectError, newUser, startTestApi, type TestApi } from './support/harness';

const DAY = 24 * 3600_000;

describeEachEngine('GET /machines/:id/uptime', (engine) => {
  let api: TestApi;
  let alice: { id: number; token: string };
  let bob: { id: number; token: string };
  let machine: number;

  beforeEach(async () => {
    api = await startTestApi({ engine });
    alice = await newUser(api, 'alice@example.com');
    bob = await newUser(api, 'bob@example.com');
    // Registered 2026-11-20 at noon, online since; the clock stands at 2026-11-28 12:00 UTC.
    machine = await insertMachine(api.db.db, alice.id, { status: 'online', last_seen: '2026-11-28T11:59:00.000Z' });
    await api.db.db.updateTable('machines').set({ created_at: '2026-11-20T12:00:00.000Z' }).where('id', '=', machine).execute();
    api.clock.set(new Date('2026-11-28T12:00:00.000Z'));
  });
  afterEach(() => api.dispose());

  const get = (path: string, token = alice.token) => call(api.url, 'GET', path, { auth: token });
  const interval = (kind: OutageKind, started_at: string, ended_at: string | null, id = machine) =>
    api.db.db.insertInto('outage_history').values({ machine_id: id, kind, started_at, ended_at }).execute();

  test('90 UTC days by default, oldest first: none before the machine existed, outages and maintenance from the history', async () => {
    await interval('outage', '2026-11-25T00:00:00.000Z', '2026-11-25T06:00:00.000Z');
    await interval('maintenance', '2026-11-26T00:00:00.000Z', '2026-11-26T12:00:00.000Z');
    await interval('outage', '2026-11-26T06:00:00.000Z', '2026-11-26T18:00:00.000Z');
    await interval('outage', '2026-11-28T09:00:00.000Z', null);
    const result = await get(`/machines/${machine}/uptime`);
    expect(result.status).toBe(200);
    expect(Object.keys(result.body)).toEqual(['days']);
    const days = result.body.days as Array<{ date: string; uptime: number | null; maintenance_seconds: number }>;
    expect(days).toHaveLength(90);
    expect(days[0]!.date).toBe('2026-08-31');
    expect(days.slice(-10)).toEqual([
      { date: '2026-11-19', uptime: null, maintenance_seconds: 0 },
      { date: '2026-11-20', uptime: 1, maintenance_seconds: 0 },
      { date: '2026-11-21', uptime: 1, maintenance_seconds: 0 },
      { date: '2026-11-22', uptime: 1, maintenance_seconds: 0 },
      { date: '2026-11-23', uptime: 1, maintenance_seconds: 0 },
      { date: '2026-11-24', uptime: 1, maintenance_seconds: 0 },
      { date: '2026-11-25', uptime: 0.75, maintenance_seconds: 0 },
      { date: '2026-11-26', uptime: 0.5, maintenance_seconds: 43_200 },
      { date: '2026-11-27', uptime: 1, maintenance_seconds: 0 },
      { date: '2026-11-28', uptime: 0.75, maintenance_seconds: 0 },
    ]);
    expect(days.slice(0, -9).every((d) => d.uptime === null)).toBe(true);
  });

  test('?days=N from 1 to 400; an interval that ended before the range does not count', async () => {
    await interval('outage', '2026-11-27T00:00:00.000Z', '2026-11-27T12:00:00.000Z');
    expect((await get(`/machines/${machine}/uptime?days=1`)).body).toEqual({ days: [{ date: '2026-11-28', uptime: 1, maintenance_seconds: 0 }] });
    const year = await get(`/machines/${machine}/uptime?days=400`);
    expect(year.body.days).toHaveLength(400);
    expect(year.body.days[0].date).toBe(new Date(Date.parse('2026-11-28T00:00:00.000Z') - 399 * DAY).toISOString().slice(0, 10));
  });

  test('a machine that never reported has no data', async () => {
    const fresh = await insertMachine(api.db.db, alice.id, { name: 'fresh', status: 'pending' });
    const result = await get(`/machines/${fresh}/uptime?days=3`);
    expect(result.body.days.map((d: { uptime: unknown }) => d.uptime)).toEqual([null, null, null]);
  });

  test.each(['0', '401', '-1', '1.5', 'abc', '', '90&days=1000'])('bad days=%s is a clean 400', async (days) => {
    expectError(await get(`/machines/${machine}/uptime?days=${days}`), 400, 'request.invalid_query');
  });

  test('an unknown query parameter is a 400; another user, an unknown machine or a bad id is a 404; no token is a 401', async () => {
    expectError(await get(`/machines/${machine}/uptime?day=3`), 400, 'request.invalid_query');
    expectError(await get(`/machines/${machine}/uptime`, bob.token), 404, 'machine.not_found');
    expectError(await get('/machines/99999/uptime'), 404, 'machine.not_found');
    expectError(await get('/machines/x/uptime'), 404, 'machine.not_found');
    expectError(await call(api.url, 'GET', `/machines/${machine}/uptime`), 401, 'auth.missing_token');
  });

  test("a machine's history, or a page of machines', is read through the history index, never by scanning the table", async () => {
    const since = '2026-09-01T00:00:00.000Z';
    const plan = (query: CompiledQuery) => queryPlan(api.db, query);
    const uses = (index: string) => usesIndex(engine, index);
    const one = await plan(machineHistoryQuery(api.db.db, machine, since).compile());
    expect(one).toMatch(uses('idx_outage_history_machine'));
    const all = await plan(machinesHistoryQuery(api.db.db, [machine, machine + 1, machine + 2], since).compile());
    expect(all).toMatch(uses('idx_outage_history_machine'));
    expect(all).not.toMatch(/SCAN h\b|Seq Scan on outage_history/);
  });
});
