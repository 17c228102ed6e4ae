import { describeEachEngine } from '../../../test/support/engines';
import { openDatabase } from '@lunasentri/shared';
import { insertMachine } from '../../../test/support/fixtures';
import { createMachine, rotateMachineKey, setMachineEnabled } from '../src/machines/machines.repository';
import { AGENT_FIRST_REPORT, AGENT_STEADY_REPORT, call, eventually, expectError, newUser, startTestApi, type TestApi } from './support/harness';

describeEachEngine('agent ingest', (engine) => {
  let api: TestApi;
  let userId: number;
  let machineId: number;
  let key: string;

  beforeEach(async () => {
    api = await startTestApi({ engine });
    userId = (await newUser(api, 'owner@example.com')).id;
    const created = await createMachine(api.db.db, api.clock, userId, { name: 'production-server', hostname: 'prod-01.example.com' });
    machineId = created.machine.id;
    key = created.apiKey;
  });

  afterEach(async () => {
    await api.dispose();
  });

  const machine = () => api.db.db.selectFrom('machines').selectAll().where('id', '=', machineId).executeTakeFirstOrThrow();
  const metricsRows = () => api.db.db.selectFrom('machine_metrics').selectAll().where('machine_id', '=', machineId).orderBy('id').execute();
  const flush = () => api.service.ctx.ingest.flush(true);

  it("accepts the Go agent's first report with 202 and an empty body, stamping server time", async () => {
    api.clock.set('2026-11-28T03:05:00.123Z');
    const result = await call(api.url, 'POST', '/agent/metrics', { auth: key, json: AGENT_FIRST_REPORT });
    expect(result.status).toBe(202);
    expect(result.text).toBe('');
    await flush();
    const row = await machine();
    expect(row.last_seen).toBe('2026-11-28T03:05:00.123Z');
    expect(row).toMatchObject({
      reported_hostname: 'vm',
      platform: 'debian',
      platform_version: '12.11',
      kernel_version: '6.18.44',
      cpu_cores: 2,
      memory_total_mb: 24105,
      disk_total_gb: 251,
      last_boot_time: '2026-11-28T02:58:46.000Z',
      hostname: 'prod-01.example.com',
    });
    expect(await metricsRows()).toEqual([
      expect.objectContaining({
        recorded_at: '2026-11-28T03:05:00.123Z',
        cpu_pct: 80.4,
        mem_used_pct: 2.7,
        disk_used_pct: 23.5,
        net_rx_bytes: 696995159,
        net_tx_bytes: 13100327,
        uptime_s: 1035,
      }),
    ]);
  });

  it('accepts steady-state reports without system_info, with zero counters left out and a fractional uptime', async () => {
    expect((await call(api.url, 'POST', '/agent/metrics', { auth: key, json: AGENT_FIRST_REPORT })).status).toBe(202);
    api.clock.advance(10_000);
    const { net_rx_bytes: _rx, net_tx_bytes: _tx, ...withoutCounters } = AGENT_STEADY_REPORT;
    expect((await call(api.url, 'POST', '/agent/metrics', { auth: key, json: { ...withoutCounters, uptime_s: 1045.73 } })).status).toBe(202);
    await flush();
    const rows = await metricsRows();
    expect(rows).toHaveLength(2);
    expect(rows[1]).toMatchObject({ net_rx_bytes: 0, net_tx_bytes: 0, uptime_s: 1045 });
    // system facts from the first report stay
    expect((await machine()).platform).toBe('debian');
    expect((await machine()).last_seen).toBe(api.clock.now().toISOString());
  });

  it('ignores the timestamp the agent may send: last_seen is server time', async () => {
    const result = await call(api.url, 'POST', '/agent/metrics', { auth: key, json: { ...AGENT_STEADY_REPORT, timestamp: '2020-01-01T00:00:00Z' } });
    expect(result.status).toBe(202);
    await flush();
    expect((await machine()).last_seen).toBe(api.clock.now().toISOString());
  });

  it('takes the key from X-API-Key as well as Authorization: Bearer', async () => {
    const result = await call(api.url, 'POST', '/agent/metrics', { headers: { 'x-api-key': key }, json: AGENT_STEADY_REPORT });
    expect(result.status).toBe(202);
    await flush();
    expect((await machine()).last_seen).not.toBeNull();
  });

  it('takes a heartbeat with no body, or an empty JSON body, and updates only last_seen', async () => {
    expect((await call(api.url, 'POST', '/agent/heartbeat', { auth: key })).status).toBe(202);
    const withType = await call(api.url, 'POST', '/agent/heartbeat', { auth: key, headers: { 'content-type': 'application/json' }, raw: '' });
    expect(withType.status).toBe(202);
    expect(withType.text).toBe('');
    await flush();
    expect((await machine()).last_seen).toBe(api.clock.now().toISOString());
    expect(await metricsRows()).toHaveLength(0);
  });

  it('never changes status, whatever the machine status was', async () => {
    for (const status of ['pending', 'online', 'offline'] as const) {
      await api.db.db.updateTable('machines').set({ status }).where('id', '=', machineId).execute();
      api.clock.advance(1_000);
      expect((await call(api.url, 'POST', '/agent/metrics', { auth: key, json: AGENT_STEADY_REPORT })).status).toBe(202);
      expect((await call(api.url, 'POST', '/agent/heartbeat', { auth: key })).status).toBe(202);
      await flush();
      const row = await machine();
      expect(row.status).toBe(status);
      expect(row.last_seen).toBe(api.clock.now().toISOString());
    }
  });

  it('writes reports in the background within the flush interval, without being asked', async () => {
    expect((await call(api.url, 'POST', '/agent/metrics', { auth: key, json: AGENT_STEADY_REPORT })).status).toBe(202);
    await eventually(async () => ((await machine()).last_seen !== null ? true : undefined));
  });

  it('refuses a missing, unknown or malformed key with 401 and writes nothing', async () => {
    expectError(await call(api.url, 'POST', '/agent/metrics', { json: AGENT_STEADY_REPORT }), 401, 'auth.missing_key');
    expectError(await call(api.url, 'POST', '/agent/metrics', { auth: 'lsk_unknown', json: AGENT_STEADY_REPORT }), 401, 'auth.invalid_key');
    expectError(await call(api.url, 'POST', '/agent/metrics', { headers: { authorization: `Basic ${key}` }, json: AGENT_STEADY_REPORT }), 401);
    expectError(await call(api.url, 'POST', '/agent/heartbeat', { headers: { 'x-api-key': '' } }), 401);
    await flush();
    expect((await machine()).last_seen).toBeNull();
    expect(await metricsRows()).toHaveLength(0);
  });

  it('refuses a user token on the agent routes', async () => {
    const { token } = await newUser(api, 'someone@example.com');
    expectError(await call(api.url, 'POST', '/agent/metrics', { auth: token, json: AGENT_STEADY_REPORT }), 401, 'auth.invalid_key');
  });

  it('stops accepting a key revoked by another process within about a second', async () => {
    expect((await call(api.url, 'POST', '/agent/heartbeat', { auth: key })).status).toBe(202);
    const rotated = await rotateMachineKey(api.db.db, api.clock, userId, machineId);
    // Revoked by another process (here: straight in the DB): the cache notices at its next revision
    // check, at most a second later, which the test clock skips.
    api.clock.advance(1_000);
    expectError(await call(api.url, 'POST', '/agent/heartbeat', { auth: key }), 401, 'auth.invalid_key');
    expect((await call(api.url, 'POST', '/agent/heartbeat', { auth: rotated!.apiKey })).status).toBe(202);
  });

  it('answers 403 for a disabled machine and writes nothing', async () => {
    await setMachineEnabled(api.db.db, api.clock, userId, machineId, false);
    expectError(await call(api.url, 'POST', '/agent/metrics', { auth: key, json: AGENT_STEADY_REPORT }), 403, 'machine.disabled');
    expectError(await call(api.url, 'POST', '/agent/heartbeat', { headers: { 'x-api-key': key } }), 403, 'machine.disabled');
    await flush();
    expect((await machine()).last_seen).toBeNull();
  });

  describe('bad input gets a clean JSON 4xx and stores no metrics, but the machine is still seen', () => {
    const cases: Array<[string, { json?: unknown; raw?: string | Buffer; headers?: Record<string, string> }, number, RegExp]> = [
      ['malformed JSON', { raw: '{"cpu_pct": 80.4,', headers: { 'content-type': 'application/json' } }, 400, /^request\.malformed_json$/],
      ['a JSON array', { json: [AGENT_STEADY_REPORT] }, 400, /^ingest\.invalid_payload$/],
      ['a JSON string', { json: 'hello' }, 400, /^ingest\.invalid_payload$/],
      ['null', { raw: 'null', headers: { 'content-type': 'application/json' } }, 400, /^ingest\.invalid_payload$/],
      ['a percentage as a string', { json: { ...AGENT_STEADY_REPORT, cpu_pct: '80.4' } }, 400, /^ingest\.invalid_payload$/],
      ['a percentage above 100', { json: { ...AGENT_STEADY_REPORT, mem_used_pct: 100.01 } }, 400, /^ingest\.invalid_payload$/],
      ['a negative percentage', { json: { ...AGENT_STEADY_REPORT, disk_used_pct: -0.5 } }, 400, /^ingest\.invalid_payload$/],
      ['a null percentage', { json: { ...AGENT_STEADY_REPORT, cpu_pct: null } }, 400, /^ingest\.invalid_payload$/],
      ['a fractional byte counter', { json: { ...AGENT_STEADY_REPORT, net_rx_bytes: 1.5 } }, 400, /^ingest\.invalid_payload$/],
      ['a negative counter', { json: { ...AGENT_STEADY_REPORT, net_tx_bytes: -1 } }, 400, /^ingest\.invalid_payload$/],
      ['a huge hostname', { json: { ...AGENT_FIRST_REPORT, system_info: { hostname: 'h'.repeat(256) } } }, 400, /^ingest\.invalid_payload$/],
      ['a boot time that is not a time', { json: { ...AGENT_FIRST_REPORT, system_info: { last_boot_time: 'yesterday' } } }, 400, /^ingest\.invalid_payload$/],
      ['system_info as a string', { json: { ...AGENT_STEADY_REPORT, system_info: 'vm' } }, 400, /^ingest\.invalid_payload$/],
      ['a text/plain body', { raw: JSON.stringify(AGENT_STEADY_REPORT), headers: { 'content-type': 'text/plain' } }, 415, /^request\.unsupported_media_type$/],
      ['a form body', { raw: 'cpu_pct=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } }, 415, /^request\.unsupported_media_type$/],
      ['a 100 KiB body', { raw: JSON.stringify({ ...AGENT_STEADY_REPORT, pad: 'x'.repeat(100 * 1024) }), headers: { 'content-type': 'application/json' } }, 413, /^request\.body_too_large$/],
      ['a JSON body with __proto__', { raw: '{"cpu_pct":1,"__proto__":{"x":1}}', headers: { 'content-type': 'application/json' } }, 400, /^request\.malformed_json$/],
    ];
    it.each(cases)('%s', async (_name, request, status, code) => {
      const result = await call(api.url, 'POST', '/agent/metrics', { auth: key, ...request });
      expectError(result, status, code);
      await flush();
      // The key proved which machine is talking, and the Go agent treats a 4xx as final: without this
      // a body quirk would make a live machine look offline.
      expect((await machine()).last_seen).toBe(api.clock.now().toISOString());
      expect(await metricsRows()).toHaveLength(0);
      const row = await api.db.db.selectFrom('machines').select(['platform', 'reported_hostname']).where('id', '=', machineId).executeTakeFirstOrThrow();
      expect(row).toEqual({ platform: null, reported_hostname: null });
    });

    it('records nothing for a bad body sent with an unknown key', async () => {
      expectError(await call(api.url, 'POST', '/agent/metrics', { auth: 'lsk_unknown', raw: '{', headers: { 'content-type': 'application/json' } }), 401);
      await flush();
      expect((await machine()).last_seen).toBeNull();
    });

    it('names the offending field in the message', async () => {
      const unknown = await call(api.url, 'POST', '/agent/metrics', { auth: key, json: { ...AGENT_STEADY_REPORT, uptime_s: 'long' } });
      expect(unknown.body.error).toContain('uptime_s');
      const range = await call(api.url, 'POST', '/agent/metrics', { auth: key, json: { ...AGENT_STEADY_REPORT, cpu_pct: 101 } });
      expect(range.body.error).toContain('cpu_pct');
    });

    it('answers 413 for a 100 KiB body on the heartbeat route too', async () => {
      expectError(await call(api.url, 'POST', '/agent/heartbeat', { auth: key, raw: 'x'.repeat(100 * 1024), headers: { 'content-type': 'application/json' } }), 413);
    });
  });

  it('accepts and ignores fields it does not know, at the top level and in system_info (a newer agent is never refused)', async () => {
    const report = { ...AGENT_FIRST_REPORT, load_avg: [1.2, 0.8], agent_version: '2.0', system_info: { ...AGENT_FIRST_REPORT.system_info, gpu: 'none' } };
    expect((await call(api.url, 'POST', '/agent/metrics', { auth: key, json: report })).status).toBe(202);
    await flush();
    expect((await machine()).last_seen).toBe(api.clock.now().toISOString());
    expect(await metricsRows()).toHaveLength(1);
    const row = await api.db.db.selectFrom('machines').select('platform').where('id', '=', machineId).executeTakeFirstOrThrow();
    expect(row.platform).toBe('debian');
  });

  it('coalesces fast reports of one machine into one write per write interval, keeping the latest last_seen', async () => {
    await api.dispose();
    api = await startTestApi({ minWriteIntervalMs: 1_000, engine });
    userId = (await newUser(api, 'owner@example.com')).id;
    const created = await createMachine(api.db.db, api.clock, userId, { name: 'chatty' });
    machineId = created.machine.id;
    const start = api.clock.now().getTime();
    for (let i = 0; i < 5; i++) {
      expect((await call(api.url, 'POST', '/agent/metrics', { auth: created.apiKey, json: AGENT_STEADY_REPORT })).status).toBe(202);
      await api.service.ctx.ingest.flush();
      api.clock.advance(100);
    }
    // First report written at once; the next four wait for the interval.
    expect((await machine()).last_seen).toBe(new Date(start).toISOString());
    expect(api.service.ctx.ingest.pendingMachines).toBe(1);
    api.clock.set(start + 1_000);
    await api.service.ctx.ingest.flush();
    expect((await machine()).last_seen).toBe(new Date(start + 400).toISOString());
    expect(await metricsRows()).toHaveLength(1);
  });

  it('skips the history row of a machine deleted before the flush, without losing the rest of the batch', async () => {
    const other = await createMachine(api.db.db, api.clock, userId, { name: 'stays' });
    expect((await call(api.url, 'POST', '/agent/metrics', { auth: key, json: AGENT_STEADY_REPORT })).status).toBe(202);
    expect((await call(api.url, 'POST', '/agent/metrics', { auth: other.apiKey, json: AGENT_STEADY_REPORT })).status).toBe(202);
    await api.db.db.deleteFrom('machines').where('id', '=', machineId).execute();
    await flush();
    const kept = await api.db.db.selectFrom('machine_metrics').select('machine_id').execute();
    expect(kept).toEqual([{ machine_id: other.machine.id }]);
    const stays = await api.db.db.selectFrom('machines').select('last_seen').where('id', '=', other.machine.id).executeTakeFirstOrThrow();
    expect(stays.last_seen).toBe(api.clock.now().toISOString());
  });

  it('never moves last_seen back when another process already wrote a later one', async () => {
    await api.db.db.updateTable('machines').set({ last_seen: '2030-01-01T00:00:00.000Z' }).where('id', '=', machineId).execute();
    expect((await call(api.url, 'POST', '/agent/heartbeat', { auth: key })).status).toBe(202);
    await flush();
    expect((await machine()).last_seen).toBe('2030-01-01T00:00:00.000Z');
  });

  it('keeps a flushed last_seen across a restart: stop writes what is buffered, a reopened file has it', async () => {
    await api.dispose();
    api = await startTestApi({ flushIntervalMs: 60_000, minWriteIntervalMs: 60_000, engine });
    const path = api.db.path;
    const owner = await newUser(api, 'owner@example.com');
    const created = await createMachine(api.db.db, api.clock, owner.id, { name: 'restart-me' });
    api.clock.set('2026-11-28T03:30:00.000Z');
    expect((await call(api.url, 'POST', '/agent/metrics', { auth: created.apiKey, json: AGENT_STEADY_REPORT })).status).toBe(202);
    // A long flush interval: only the graceful stop can have written it.
    await api.stop();
    await api.db.close();
    const reopened = openDatabase(path);
    try {
      const row = await reopened.db.selectFrom('machines').select(['last_seen', 'status']).where('id', '=', created.machine.id).executeTakeFirstOrThrow();
      expect(row).toEqual({ last_seen: '2026-11-28T03:30:00.000Z', status: 'pending' });
    } finally {
      await reopened.close();
    }
  });

  it('logs no key, even for refused requests', async () => {
    await call(api.url, 'POST', '/agent/metrics', { auth: key, json: AGENT_STEADY_REPORT });
    await call(api.url, 'POST', '/agent/metrics', { auth: `${key}x`, json: AGENT_STEADY_REPORT });
    await insertMachine(api.db.db, userId);
    await flush();
    expect(api.logs()).not.toContain(key);
  });
});
