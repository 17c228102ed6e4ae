import { describeEachEngine } from '../../../test/support/engines';
import { scrape, valueOf } from '../../../test/support/metrics';
import { setMachineEnabled } from '../src/machines/machines.repository';
import { AGENT_FIRST_REPORT, AGENT_STEADY_REPORT, call, newMachine, newUser, rawClient, startMeteredTestApi, type CallResult, type MeteredTestApi } from './support/harness';

/*
 * The ingest fast path answers agent reports before the framework sees them. Every report it takes
 * must be answered exactly as the routes answer it: the same status, headers and body, the same
 * last_seen and history rows, the same metrics. Each case below is sent twice: to `/agent/metrics`
 * (the fast path's) and to `/agent/metrics?via=routes`, which the fast path leaves alone (a query
 * string) and the framework routes to the very same route.
 */
describeEachEngine('ingest fast path', (engine) => {
  let api: MeteredTestApi;
  let machine: { id: number; key: string };
  let token: string;

  beforeEach(async () => {
    api = await startMeteredTestApi({ engine });
    const owner = await newUser(api, 'owner@example.com');
    token = owner.token;
    machine = await newMachine(api, owner.id);
  });
  afterEach(async () => {
    await api.dispose();
  });

  const lastSeen = async () => (await api.db.db.selectFrom('machines').select('last_seen').where('id', '=', machine.id).executeTakeFirstOrThrow()).last_seen;
  const historyRows = async () => Number((await api.db.db.selectFrom('machine_metrics').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
  const results = async () => {
    const expo = await scrape(api.metricsUrl);
    return Object.fromEntries(['accepted', 'unauthorized', 'forbidden', 'invalid'].map((result) => [result, valueOf(expo, 'lunasentri_ingest_reports_total', { result })]));
  };

  interface Outcome {
    status: number;
    contentType: string | null;
    text: string;
    /** whether the report moved last_seen */
    seen: boolean;
    /** history rows it added */
    rows: number;
    /** whether the fast path answered it */
    fast: boolean;
  }

  /** Sends one report at a fresh clock time, writes what was buffered, and says what it did. */
  async function outcome(send: () => Promise<CallResult>, minute: number): Promise<Outcome> {
    api.clock.set(new Date(Date.UTC(2026, 11, 1, 10) + minute * 60_000).toISOString());
    const answeredBefore = api.service.fastPath.answered;
    const rowsBefore = await historyRows();
    const result = await send();
    await api.service.ctx.ingest.flush(true);
    return {
      status: result.status,
      contentType: result.headers.get('content-type'),
      text: result.text,
      seen: (await lastSeen()) === api.clock.now().toISOString(),
      rows: (await historyRows()) - rowsBefore,
      fast: api.service.fastPath.answered > answeredBefore,
    };
  }

  let minute = 0;
  /** The case through the fast path, then through the routes: both outcomes, which must be equal but for `fast`. */
  async function both(path: '/agent/metrics' | '/agent/heartbeat', options: { auth?: string; headers?: Record<string, string>; raw?: string }) {
    const headers = { ...(options.auth === undefined ? {} : { authorization: `Bearer ${options.auth}` }), ...options.headers };
    const viaFast = await outcome(() => call(api.url, 'POST', path, { headers, raw: options.raw }), minute++);
    const viaRoutes = await outcome(() => call(api.url, 'POST', `${path}?via=routes`, { headers, raw: options.raw }), minute++);
    return { viaFast, viaRoutes };
  }

  const json = { 'content-type': 'application/json' };
  const bodies: Array<[string, string]> = [
    ["the Go agent's first report", JSON.stringify(AGENT_FIRST_REPORT)],
    ["the Go agent's steady report", JSON.stringify(AGENT_STEADY_REPORT)],
    ['an unknown field (a newer agent)', JSON.stringify({ ...AGENT_STEADY_REPORT, gpu_pct: 3 })],
    ['a value out of range', JSON.stringify({ ...AGENT_STEADY_REPORT, cpu_pct: 101 })],
    ['a number as a string', JSON.stringify({ cpu_pct: '80' })],
    ['a bad boot time', JSON.stringify({ system_info: { last_boot_time: 'yesterday' } })],
    ['malformed JSON', '{"cpu_pct":'],
    ['an array', '[1]'],
    ['null', 'null'],
    ['a bare string', '"report"'],
    ['a __proto__ key', '{"__proto__":{"cpu_pct":1}}'],
    ['an escaped __proto__ key', '{"\\u005f_proto__":{"cpu_pct":1}}'],
    ['a constructor.prototype key', '{"constructor":{"prototype":{"cpu_pct":1}}}'],
    ['a lone surrogate', '{"system_info":{"hostname":"\\ud800"}}'],
    ['a paired surrogate (valid)', '{"system_info":{"hostname":"\\ud83d\\ude00"}}'],
    ['a byte-order mark', '\ufeff{"cpu_pct":1}'],
    ['non-ASCII text', JSON.stringify({ system_info: { hostname: 'häst-01' } })],
    ['whitespace only', '   '],
  ];

  it.each(bodies)('%s: the fast path answers it, exactly as the routes do', async (_name, raw) => {
    const { viaFast, viaRoutes } = await both('/agent/metrics', { auth: machine.key, headers: json, raw });
    expect(viaFast.fast).toBe(true);
    expect(viaRoutes.fast).toBe(false);
    expect({ ...viaFast, fast: undefined }).toEqual({ ...viaRoutes, fast: undefined });
    // A refused body still proves the machine is alive (CONTRACT §5).
    expect(viaFast.seen).toBe(true);
  });

  it('answers the refusals of keys exactly as the routes do: missing, unknown, a personal token, a disabled machine, X-API-Key', async () => {
    const cases: Array<{ auth?: string; headers?: Record<string, string>; status: number }> = [
      { status: 401 },
      { auth: 'lsk_not-a-key-of-any-machine', status: 401 },
      { auth: token, status: 401 },
      { headers: { 'x-api-key': machine.key }, status: 202 },
      { headers: { authorization: `bearer   ${machine.key}  ` }, status: 202 },
    ];
    for (const c of cases) {
      const { viaFast, viaRoutes } = await both('/agent/metrics', { auth: c.auth, headers: { ...json, ...c.headers }, raw: JSON.stringify(AGENT_STEADY_REPORT) });
      expect(viaFast).toMatchObject({ status: c.status, fast: true });
      expect({ ...viaFast, fast: undefined }).toEqual({ ...viaRoutes, fast: undefined });
    }
    await setMachineEnabled(api.db.db, api.clock, (await api.db.db.selectFrom('machines').select('user_id').executeTakeFirstOrThrow()).user_id, machine.id, false);
    api.service.ctx.keyCache.invalidateMachine(machine.id);
    const disabled = await both('/agent/metrics', { auth: machine.key, headers: json, raw: JSON.stringify(AGENT_STEADY_REPORT) });
    expect(disabled.viaFast).toMatchObject({ status: 403, seen: false, fast: true });
    expect({ ...disabled.viaFast, fast: undefined }).toEqual({ ...disabled.viaRoutes, fast: undefined });
  });

  it('answers a bodiless heartbeat, and counts every report in the metrics whichever path took it', async () => {
    const { viaFast, viaRoutes } = await both('/agent/heartbeat', { auth: machine.key });
    expect(viaFast).toMatchObject({ status: 202, text: '', seen: true, rows: 0, fast: true });
    expect({ ...viaFast, fast: undefined }).toEqual({ ...viaRoutes, fast: undefined });
    await both('/agent/metrics', { auth: machine.key, headers: json, raw: '{"cpu_pct":101}' });
    await both('/agent/metrics', { auth: 'lsk_unknown', headers: json, raw: '{}' });
    expect(await results()).toEqual({ accepted: 2, unauthorized: 2, forbidden: 0, invalid: 2 });
    const expo = await scrape(api.metricsUrl);
    expect(valueOf(expo, 'lunasentri_http_request_duration_seconds_count', { route: '/agent/metrics', method: 'POST', status: '400' })).toBe(2);
    expect(valueOf(expo, 'lunasentri_http_request_duration_seconds_count', { route: '/agent/heartbeat', method: 'POST', status: '202' })).toBe(2);
  });

  it('answers 500 when a report cannot be buffered, exactly as the routes do, and logs it without the key', async () => {
    const ingest = api.service.ctx.ingest;
    const record = ingest.record;
    ingest.record = () => {
      throw new Error('the buffer refused the report');
    };
    try {
      const { viaFast, viaRoutes } = await both('/agent/metrics', { auth: machine.key, headers: json, raw: JSON.stringify(AGENT_STEADY_REPORT) });
      expect(viaFast).toMatchObject({ status: 500, seen: false, rows: 0, fast: true });
      expect(JSON.parse(viaFast.text)).toEqual({ error: 'internal error', code: 'internal.error' });
      expect({ ...viaFast, fast: undefined }).toEqual({ ...viaRoutes, fast: undefined });
      const heartbeat = await both('/agent/heartbeat', { auth: machine.key });
      expect(heartbeat.viaFast).toMatchObject({ status: 500, fast: true });
      expect({ ...heartbeat.viaFast, fast: undefined }).toEqual({ ...heartbeat.viaRoutes, fast: undefined });
    } finally {
      ingest.record = record;
    }
    // One `Request failed` line (with the error and its stack) per report, whichever path answered it.
    expect(api.logs().split('\n').filter((line) => line.includes('Request failed') && line.includes('the buffer refused the report'))).toHaveLength(4);
    expect(api.logs()).not.toContain(machine.key);
  });

  it('leaves to the routes what it cannot finish alone: other media types, a chunked or oversized body, a heartbeat with a body, a trailing slash', async () => {
    const body = JSON.stringify(AGENT_STEADY_REPORT);
    const declined: Array<{ path: string; headers: Record<string, string>; raw?: string; status: number }> = [
      { path: '/agent/metrics', headers: { 'content-type': 'text/plain' }, raw: body, status: 415 },
      { path: '/agent/metrics', headers: { 'content-type': 'application/json; charset=latin1' }, raw: body, status: 202 },
      { path: '/agent/metrics', headers: json, raw: '', status: 400 },
      { path: '/agent/metrics', headers: json, raw: `{"pad":"${'x'.repeat(70_000)}"}`, status: 413 },
      { path: '/agent/heartbeat', headers: json, raw: '{}', status: 202 },
      { path: '/agent/heartbeat', headers: json, raw: '{"bad', status: 400 },
      { path: '/agent/metrics/', headers: json, raw: body, status: 404 },
    ];
    for (const c of declined) {
      const result = await outcome(() => call(api.url, 'POST', c.path, { auth: machine.key, headers: c.headers, raw: c.raw }), minute++);
      expect({ path: c.path, status: result.status, fast: result.fast }).toEqual({ path: c.path, status: c.status, fast: false });
    }
    // Chunked: no Content-Length, so the fast path cannot bound the body before reading it.
    const client = rawClient(api.url);
    await client.connected;
    client.socket.write(
      `POST /agent/metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${machine.key}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`,
    );
    await client.closed;
    expect(client.received()).toMatch(/^HTTP\/1\.1 202 /);
    expect(api.service.fastPath.answered).toBe(0);
  });
});
