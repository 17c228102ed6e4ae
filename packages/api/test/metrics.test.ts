import { describeEachEngine } from '../../../test/support/engines';
import { expectWellNamed, samplesOf, scrape, valueOf, type Exposition } from '../../../test/support/metrics';
import { AGENT_FIRST_REPORT, call, eventually, newMachine, newUser, startMeteredTestApi, type MeteredTestApi } from './support/harness';

/*
 * The API's metrics as Prometheus sees them: a real API on a real database, its registry served by
 * the real metrics endpoint on a port of its own, scraped over HTTP and parsed.
 */
describeEachEngine('API metrics', (engine) => {
  let api: MeteredTestApi;

  beforeEach(async () => {
    api = await startMeteredTestApi({ engine });
  });
  afterEach(async () => {
    await api.dispose();
  });

  const report = (key: string | undefined, body?: unknown) =>
    call(api.url, 'POST', body === undefined ? '/agent/heartbeat' : '/agent/metrics', { headers: key === undefined ? {} : { authorization: `Bearer ${key}` }, json: body });
  const results = (expo: Exposition) =>
    Object.fromEntries(['accepted', 'unauthorized', 'forbidden', 'invalid'].map((result) => [result, valueOf(expo, 'lunasentri_ingest_reports_total', { result })]));
  const lookups = (expo: Exposition) => ({ hit: valueOf(expo, 'lunasentri_key_cache_lookups_total', { result: 'hit' }), miss: valueOf(expo, 'lunasentri_key_cache_lookups_total', { result: 'miss' }) });
  /** On PostgreSQL the key cache's revision read answers later; lookups miss until it has. */
  const settled = () => eventually(() => (api.service.ctx.keyCache.checkingRevision ? undefined : true));

  test('counts agent reports by result: accepted, unauthorized, forbidden, invalid', async () => {
    const alice = await newUser(api, 'alice@example.com');
    const machine = await newMachine(api, alice.id);
    expect(results(await scrape(api.metricsUrl))).toEqual({ accepted: 0, unauthorized: 0, forbidden: 0, invalid: 0 });

    expect((await report(machine.key, AGENT_FIRST_REPORT)).status).toBe(202);
    expect((await report(machine.key)).status).toBe(202);
    expect((await call(api.url, 'POST', '/agent/heartbeat', { headers: { 'x-api-key': machine.key } })).status).toBe(202);
    expect((await report(undefined)).status).toBe(401);
    expect((await report('lsk_not-a-key-of-any-machine')).status).toBe(401);
    expect((await report(alice.token)).status).toBe(401);
    expect((await report(machine.key, { ...AGENT_FIRST_REPORT, cpu_pct: 101 })).status).toBe(400);
    expect((await call(api.url, 'POST', '/agent/metrics', { headers: { authorization: `Bearer ${machine.key}`, 'content-type': 'application/json' }, raw: '{"cpu_pct":' })).status).toBe(400);
    expect((await call(api.url, 'POST', `/machines/${machine.id}/disable`, { auth: alice.token })).status).toBe(200);
    expect((await report(machine.key)).status).toBe(403);

    const expo = await scrape(api.metricsUrl);
    expect(results(expo)).toEqual({ accepted: 3, unauthorized: 3, forbidden: 1, invalid: 2 });
    // Neither a key nor a token ever shows up in the exposition.
    expect(expo.text).not.toContain(machine.key);
    expect(expo.text).not.toContain(alice.token);
    expectWellNamed(expo);
  });

  test('counts key lookups answered from memory (hit) and from the database (miss)', async () => {
    const alice = await newUser(api, 'alice@example.com');
    const machine = await newMachine(api, alice.id);
    expect((await report(machine.key)).status).toBe(202);
    await settled();
    expect((await report(machine.key)).status).toBe(202);
    const before = lookups(await scrape(api.metricsUrl));
    expect(before.hit! + before.miss!).toBe(2);

    expect((await report(machine.key)).status).toBe(202);
    expect((await report(machine.key)).status).toBe(202);
    expect((await report('lsk_unknown-keys-are-never-cached')).status).toBe(401);
    expect((await report('lsk_unknown-keys-are-never-cached')).status).toBe(401);
    expect((await report(undefined)).status).toBe(401);
    expect(lookups(await scrape(api.metricsUrl))).toEqual({ hit: before.hit! + 2, miss: before.miss! + 2 });
  });

  test('times requests by route pattern, method and status, never by raw path; unmatched paths share one label', async () => {
    const alice = await newUser(api, 'alice@example.com');
    const machine = await newMachine(api, alice.id);
    expect((await call(api.url, 'GET', `/machines/${machine.id}`, { auth: alice.token })).status).toBe(200);
    expect((await call(api.url, 'GET', '/machines/987654321', { auth: alice.token })).status).toBe(404);
    expect((await call(api.url, 'GET', '/health')).status).toBe(200);
    for (const path of ['/wp-login.php', '/no/such/route/4815162342', '/machines/1/nothing-here']) expect((await call(api.url, 'GET', path)).status).toBe(404);
    expect((await call(api.url, 'DELETE', '/health')).status).toBe(404);

    const expo = await scrape(api.metricsUrl);
    const count = (route: string, method: string, status: string) => valueOf(expo, 'lunasentri_http_request_duration_seconds_count', { route, method, status });
    expect(count('/machines/:id', 'GET', '200')).toBe(1);
    expect(count('/machines/:id', 'GET', '404')).toBe(1);
    expect(count('/health', 'GET', '200')).toBe(1);
    expect(count('unmatched', 'GET', '404')).toBe(3);
    expect(count('unmatched', 'DELETE', '404')).toBe(1);
    const routes = new Set(samplesOf(expo, 'lunasentri_http_request_duration_seconds_count').map((s) => s.labels.route));
    expect([...routes].sort()).toEqual(['/health', '/machines/:id', 'unmatched']);
    expect(valueOf(expo, 'lunasentri_http_request_duration_seconds_bucket', { route: '/health', method: 'GET', status: '200', le: '+Inf' })).toBe(1);
    expect(expo.families.get('lunasentri_http_request_duration_seconds')?.type).toBe('histogram');
  });

  test('times each ingest flush', async () => {
    const alice = await newUser(api, 'alice@example.com');
    const machine = await newMachine(api, alice.id);
    expect((await scrape(api.metricsUrl)).families.get('lunasentri_ingest_flush_duration_seconds')?.type).toBe('histogram');
    expect((await report(machine.key, AGENT_FIRST_REPORT)).status).toBe(202);
    const expo = await eventually(async () => {
      const scraped = await scrape(api.metricsUrl);
      return (valueOf(scraped, 'lunasentri_ingest_flush_duration_seconds_count') ?? 0) >= 1 ? scraped : undefined;
    });
    expect(valueOf(expo, 'lunasentri_ingest_flush_duration_seconds_sum')).toBeGreaterThan(0);
    const row = await api.db.db.selectFrom('machines').select('last_seen').where('id', '=', machine.id).executeTakeFirstOrThrow();
    expect(row.last_seen).not.toBeNull();
  });
});
