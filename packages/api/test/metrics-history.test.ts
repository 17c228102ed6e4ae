import { describeEachEngine, testOn } from '../../../test/support/engines';
import { AGENT_STEADY_REPORT, call, eventually, expectError, newUser, startWithAccounts, type TestApi, type TestMachine, type TestUser } from './support/harness';

describeEachEngine('GET /machines/:id/metrics', (engine) => {
  let api: TestApi;
  let alice: TestUser;
  let machine: TestMachine;
  beforeEach(async () => void ({ api, users: [alice], machine } = await startWithAccounts({ engine }, ['alice@example.com'], { machine: true })));
  afterEach(() => api.dispose());

  const get = (query = '', token = alice.token, id = machine.id) => call(api.url, 'GET', `/machines/${id}/metrics${query}`, { auth: token });

  /** Reports through the agent route, 10 s apart on the test clock; returns their server times. */
  async function report(count: number): Promise<string[]> {
    const times: string[] = [];
    for (let i = 0; i < count; i++) {
      api.clock.advance(10_000);
      times.push(api.clock.now().toISOString());
      const body = { ...AGENT_STEADY_REPORT, cpu_pct: i, uptime_s: 1_000 + i * 10 };
      expect((await call(api.url, 'POST', '/agent/metrics', { auth: machine.key, json: body })).status).toBe(202);
    }
    return times;
  }

  /** Rows straight into the table, for counts the agent route would take long to produce. */
  async function insertSamples(count: number) {
    const start = Date.parse('2026-11-27T00:00:00.000Z');
    const rows = Array.from({ length: count }, (_, i) => ({
      machine_id: machine.id,
      recorded_at: new Date(start + i * 1_000).toISOString(),
      cpu_pct: 1,
      mem_used_pct: 2,
      disk_used_pct: 3,
      net_rx_bytes: 4,
      net_tx_bytes: 5,
      uptime_s: i,
    }));
    for (let i = 0; i < rows.length; i += 200) await api.db.db.insertInto('machine_metrics').values(rows.slice(i, i + 200)).execute();
  }

  it('returns the samples the agent reported, newest first, once the write-behind buffer has written them', async () => {
    const times = await report(5);
    // The flush is asynchronous: wait for the observable rows, with a deadline, not for a fixed time.
    const result = await eventually(async () => {
      const page = await get();
      return page.body.length === 5 ? page : undefined;
    });
    expect(result.status).toBe(200);
    expect(result.body.map((s: { recorded_at: string }) => s.recorded_at)).toEqual([...times].reverse());
    expect(result.body[0]).toEqual({
      recorded_at: times[4],
      cpu_pct: 4,
      mem_used_pct: AGENT_STEADY_REPORT.mem_used_pct,
      disk_used_pct: AGENT_STEADY_REPORT.disk_used_pct,
      net_rx_bytes: AGENT_STEADY_REPORT.net_rx_bytes,
      net_tx_bytes: AGENT_STEADY_REPORT.net_tx_bytes,
      uptime_s: 1_040,
    });
    // GET /machines/:id shows the same newest sample.
    const one = await call(api.url, 'GET', `/machines/${machine.id}`, { auth: alice.token });
    expect(one.body.latest_metrics).toEqual(result.body[0]);
  });

  it('since= keeps samples recorded at or after that time, in any zone; limit= keeps the newest', async () => {
    const times = await report(5);
    await api.service.ctx.ingest.flush(true);
    const recorded = (q: string) => get(q).then((r) => r.body.map((s: { recorded_at: string }) => s.recorded_at));
    expect(await recorded(`?since=${times[2]}`)).toEqual([times[4], times[3], times[2]]);
    const inParis = new Date(Date.parse(times[3]) + 3_600_000).toISOString().replace('.000Z', '+01:00');
    expect(await recorded(`?since=${encodeURIComponent(inParis)}`)).toEqual([times[4], times[3]]);
    expect(await recorded('?limit=2')).toEqual([times[4], times[3]]);
    expect(await recorded(`?since=${times[1]}&limit=2`)).toEqual([times[4], times[3]]);
    expect(await recorded('?since=2030-01-01T00:00:00Z')).toEqual([]);
  });

  it('answers 100 samples by default and at most 1000', async () => {
    await insertSamples(1_005);
    expect((await get()).body).toHaveLength(100);
    const most = await get('?limit=1000');
    expect(most.body).toHaveLength(1_000);
    expect(most.body[0].uptime_s).toBe(1_004);
  });

  it('answers a machine without samples with an empty array, and latest_metrics null', async () => {
    expect((await get()).body).toEqual([]);
    expect((await call(api.url, 'GET', `/machines/${machine.id}`, { auth: alice.token })).body.latest_metrics).toBeNull();
  });

  it('refuses a bad since, a bad limit and unknown parameters with 400 request.invalid_query', async () => {
    for (const bad of ['yesterday', '2026-11-28', '2026-11-28T03:00:00', '2026-02-30T00:00:00Z', '1795834800', '']) {
      const result = await get(`?since=${encodeURIComponent(bad)}`);
      expectError(result, 400, 'request.invalid_query');
      expect(result.body.error).toBe('since must be an ISO-8601 time with a zone, such as 2026-11-28T03:00:00Z');
    }
    for (const bad of ['0', '-1', '1001', 'ten', '1.5', '']) {
      const result = await get(`?limit=${bad}`);
      expectError(result, 400, 'request.invalid_query');
      expect(result.body.error).toBe('limit must be a whole number from 1 to 1000');
    }
    expectError(await get('?until=2026-11-28T03:00:00Z'), 400, 'request.invalid_query');
  });

  it('answers 404 for another user’s machine and for one that does not exist, showing nothing', async () => {
    await insertSamples(3);
    const bob = await newUser(api, 'bob@example.com');
    const result = await get('', bob.token);
    expectError(result, 404, 'machine.not_found');
    expect(result.text).not.toContain('recorded_at');
    expectError(await get('', alice.token, 999), 404, 'machine.not_found');
    expectError(await call(api.url, 'GET', `/machines/${machine.id}/metrics`), 401, 'auth.missing_token');
  });

  testOn('sqlite', engine)('reads the history as a range on the (machine_id, recorded_at) index', () => {
    const plan = (api.db.sqlite
      .prepare(`EXPLAIN QUERY PLAN SELECT * FROM machine_metrics WHERE machine_id = 1 AND recorded_at >= 't' ORDER BY recorded_at DESC, id DESC LIMIT 100`)
      .all() as Array<{ detail: string }>).map((r) => r.detail).join('; ');
    expect(plan).toMatch(/SEARCH machine_metrics USING INDEX idx_machine_metrics_machine_time \(machine_id=\? AND recorded_at>\?\)/);
  });
});
