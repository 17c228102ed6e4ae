import { describeEachEngine } from '../../../test/support/engines';
import { randomUUID } from 'node:crypto';
import { AGENT_STEADY_REPORT, call, expectError, seenResponses, startWithAccounts, type TestApi, type TestUser } from './support/harness';

describeEachEngine('machines', (engine) => {
  let api: TestApi;
  let alice: TestUser;
  let bob: TestUser;
  beforeEach(async () => void ({ api, users: [alice, bob] } = await startWithAccounts({ engine }, ['alice@example.com', 'bob@example.com'])));
  afterEach(() => api.dispose());

  const register = (token: string, json: unknown) => call(api.url, 'POST', '/agent/register', { auth: token, json });
  const machineCount = async () => Number((await api.db.db.selectFrom('machines').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);

  it('registers a machine: 201 with the machine, pending, and its API key shown once', async () => {
    const result = await register(alice.token, { name: 'production-server', hostname: 'prod-01.example.com', description: 'Main API server' });
    expect(result.status).toBe(201);
    expect(result.body).toMatchObject({
      id: expect.any(Number),
      name: 'production-server',
      hostname: 'prod-01.example.com',
      description: 'Main API server',
      status: 'pending',
      last_seen: null,
      is_enabled: true,
      api_key: expect.stringMatching(/^lsk_[A-Za-z0-9_-]{43}$/),
    });
    // Only the hash is stored.
    const keys = await api.db.db.selectFrom('machine_api_keys').selectAll().execute();
    expect(keys).toHaveLength(1);
    expect(keys[0].key_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(keys)).not.toContain(result.body.api_key);
    // The key works for ingest.
    expect((await call(api.url, 'POST', '/agent/metrics', { auth: result.body.api_key, json: AGENT_STEADY_REPORT })).status).toBe(202);
  });

  it('lists and shows only the caller’s machines, never with key material', async () => {
    const mine = await register(alice.token, { name: 'a1' });
    await register(bob.token, { name: 'b1' });
    const list = await call(api.url, 'GET', '/machines', { auth: alice.token });
    expect(list.status).toBe(200);
    expect(list.body.map((m: { name: string }) => m.name)).toEqual(['a1']);
    const one = await call(api.url, 'GET', `/machines/${mine.body.id}`, { auth: alice.token });
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ id: mine.body.id, name: 'a1', status: 'pending', latest_metrics: null });
    for (const text of [list.text, one.text]) {
      expect(text).not.toContain(mine.body.api_key);
      expect(text).not.toMatch(/api_key|key_hash|lsk_/);
    }
  });

  it('shows the latest metrics and the agent’s system facts after a report', async () => {
    const mine = await register(alice.token, { name: 'a1' });
    await call(api.url, 'POST', '/agent/metrics', { auth: mine.body.api_key, json: { ...AGENT_STEADY_REPORT, system_info: { platform: 'debian', cpu_cores: 2 } } });
    await api.service.ctx.ingest.flush(true);
    const one = await call(api.url, 'GET', `/machines/${mine.body.id}`, { auth: alice.token });
    expect(one.body.last_seen).toBe(api.clock.now().toISOString());
    expect(one.body.system_info).toMatchObject({ platform: 'debian', cpu_cores: 2 });
    expect(one.body.latest_metrics).toMatchObject({ cpu_pct: 12.5, mem_used_pct: 40.2 });
  });

  it('shows the hostname the agent reports when none was given, and the given one otherwise', async () => {
    const bare = await register(alice.token, { name: 'bare' });
    const named = await register(alice.token, { name: 'named', hostname: 'prod-01.example.com' });
    for (const created of [bare, named]) {
      const report = { ...AGENT_STEADY_REPORT, system_info: { hostname: `vm-${created.body.name}` } };
      expect((await call(api.url, 'POST', '/agent/metrics', { auth: created.body.api_key, json: report })).status).toBe(202);
    }
    await api.service.ctx.ingest.flush(true);

    const one = await call(api.url, 'GET', `/machines/${bare.body.id}`, { auth: alice.token });
    expect(one.body).toMatchObject({ hostname: 'vm-bare', system_info: { hostname: 'vm-bare' } });
    const list = await call(api.url, 'GET', '/machines', { auth: alice.token });
    expect(list.body.map((m: { hostname: string }) => m.hostname)).toEqual(['vm-bare', 'prod-01.example.com']);
    expect(list.body[1].system_info.hostname).toBe('vm-named');

    // Clearing a given hostname (null or empty) falls back to the reported one; the column keeps what was given.
    for (const hostname of [null, '']) {
      const cleared = await call(api.url, 'PATCH', `/machines/${named.body.id}`, { auth: alice.token, json: { hostname } });
      expect(cleared.body.hostname).toBe('vm-named');
      const row = await api.db.db.selectFrom('machines').select('hostname').where('id', '=', named.body.id).executeTakeFirstOrThrow();
      expect(row.hostname).toBe(hostname);
    }
    const given = await call(api.url, 'PATCH', `/machines/${bare.body.id}`, { auth: alice.token, json: { hostname: 'chosen' } });
    expect(given.body.hostname).toBe('chosen');
  });

  it('updates name, hostname and description with PATCH, and never status', async () => {
    const mine = await register(alice.token, { name: 'a1', hostname: 'h1' });
    await api.db.db.updateTable('machines').set({ status: 'online' }).where('id', '=', mine.body.id).execute();
    api.clock.advance(1_000);
    const patched = await call(api.url, 'PATCH', `/machines/${mine.body.id}`, { auth: alice.token, json: { name: 'renamed', hostname: null, description: 'now described' } });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ name: 'renamed', hostname: null, description: 'now described', status: 'online', updated_at: api.clock.now().toISOString() });
  });

  it('refuses to PATCH status or unknown fields, and writes nothing', async () => {
    const mine = await register(alice.token, { name: 'a1' });
    expectError(await call(api.url, 'PATCH', `/machines/${mine.body.id}`, { auth: alice.token, json: { status: 'online' } }), 400, 'machine.invalid_payload');
    expectError(await call(api.url, 'PATCH', `/machines/${mine.body.id}`, { auth: alice.token, json: { name: 'x', colour: 'red' } }), 400, 'machine.invalid_payload');
    expectError(await call(api.url, 'PATCH', `/machines/${mine.body.id}`, { auth: alice.token, json: {} }), 400, 'machine.invalid_payload');
    const row = await api.db.db.selectFrom('machines').selectAll().where('id', '=', mine.body.id).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ name: 'a1', status: 'pending' });
  });

  describe('registration input', () => {
    const cases: Array<[string, unknown]> = [
      ['a missing name', { hostname: 'h' }],
      ['an empty name', { name: '' }],
      ['a blank name', { name: '   ' }],
      ['a name of 256 characters', { name: 'n'.repeat(256) }],
      ['a numeric name', { name: 42 }],
      ['a hostname of 256 characters', { name: 'ok', hostname: 'h'.repeat(256) }],
      ['a description of 10,001 characters', { name: 'ok', description: 'd'.repeat(10_001) }],
      ['an unknown field', { name: 'ok', api_key: 'lsk_mine' }],
      ['an array', [{ name: 'ok' }]],
    ];
    it.each(cases)('refuses %s with 400 and creates nothing', async (_name, body) => {
      expectError(await register(alice.token, body), 400, 'machine.invalid_payload');
      expect(await machineCount()).toBe(0);
    });

    it('accepts the longest allowed strings', async () => {
      const result = await register(alice.token, { name: 'n'.repeat(255), hostname: 'h'.repeat(255), description: 'd'.repeat(10_000) });
      expect(result.status).toBe(201);
    });

    it('refuses malformed JSON and a missing body', async () => {
      expectError(await call(api.url, 'POST', '/agent/register', { auth: alice.token, raw: '{"name":', headers: { 'content-type': 'application/json' } }), 400, 'request.malformed_json');
      expectError(await call(api.url, 'POST', '/agent/register', { auth: alice.token }), 400, 'machine.invalid_payload');
      expect(await machineCount()).toBe(0);
    });
  });

  it('asks for a valid personal token on every user route', async () => {
    const mine = await register(alice.token, { name: 'a1' });
    const routes: Array<[string, string]> = [
      ['POST', '/agent/register'],
      ['GET', '/machines'],
      ['GET', `/machines/${mine.body.id}`],
      ['PATCH', `/machines/${mine.body.id}`],
      ['DELETE', `/machines/${mine.body.id}`],
      ['POST', `/machines/${mine.body.id}/disable`],
      ['POST', `/machines/${mine.body.id}/enable`],
      ['POST', `/machines/${mine.body.id}/rotate-key`],
      ['GET', '/notifications/webhooks'],
      ['POST', '/notifications/webhooks'],
      ['PUT', '/notifications/webhooks/1'],
      ['DELETE', '/notifications/webhooks/1'],
      ['POST', '/notifications/webhooks/1/test'],
      ['GET', '/notifications/telegram'],
      ['POST', '/notifications/telegram'],
      ['PUT', '/notifications/telegram/1'],
      ['DELETE', '/notifications/telegram/1'],
      ['POST', '/notifications/telegram/1/test'],
      ['GET', '/notifications/preferences'],
      ['PUT', '/notifications/preferences'],
      ['GET', '/events'],
      ['POST', `/machines/${mine.body.id}/snooze`],
      ['DELETE', `/machines/${mine.body.id}/snooze`],
      ['GET', '/maintenance'],
      ['POST', '/maintenance'],
      ['GET', '/maintenance/1'],
      ['DELETE', '/maintenance/1'],
    ];
    for (const [method, path] of routes) {
      expectError(await call(api.url, method, path), 401, 'auth.missing_token');
      expectError(await call(api.url, method, path, { auth: 'lst_not-a-token' }), 401, 'auth.invalid_token');
      // A machine key is not a user token.
      expectError(await call(api.url, method, path, { auth: mine.body.api_key }), 401, 'auth.invalid_token');
    }
    const row = await api.db.db.selectFrom('machines').selectAll().where('id', '=', mine.body.id).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ name: 'a1', is_enabled: 1 });
  });

  it('answers 404 for another user’s machine on every route, and changes nothing', async () => {
    const bobs = await register(bob.token, { name: 'bobs' });
    const id = bobs.body.id;
    const attempts: Array<[string, string, unknown?]> = [
      ['GET', `/machines/${id}`],
      ['PATCH', `/machines/${id}`, { name: 'stolen' }],
      ['DELETE', `/machines/${id}`],
      ['POST', `/machines/${id}/disable`],
      ['POST', `/machines/${id}/enable`],
      ['POST', `/machines/${id}/rotate-key`],
    ];
    for (const [method, path, json] of attempts) {
      expectError(await call(api.url, method, path, { auth: alice.token, json }), 404, 'machine.not_found');
    }
    const row = await api.db.db.selectFrom('machines').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ name: 'bobs', is_enabled: 1, enabled_at: null });
    // Bob's key still works: it was not rotated.
    expect((await call(api.url, 'POST', '/agent/heartbeat', { auth: bobs.body.api_key })).status).toBe(202);
  });

  it('answers 404 for ids that name nothing', async () => {
    for (const id of ['999', '0', '-1', 'abc', '1.5', '99999999999999999999']) {
      expectError(await call(api.url, 'GET', `/machines/${id}`, { auth: alice.token }), 404, 'machine.not_found');
    }
  });

  it('disables and re-enables a machine: 403 while disabled, enabled_at stamped on enable, status untouched', async () => {
    const mine = await register(alice.token, { name: 'a1' });
    const key = mine.body.api_key;
    expect((await call(api.url, 'POST', '/agent/heartbeat', { auth: key })).status).toBe(202);
    await api.db.db.updateTable('machines').set({ status: 'offline' }).where('id', '=', mine.body.id).execute();

    const disabled = await call(api.url, 'POST', `/machines/${mine.body.id}/disable`, { auth: alice.token });
    expect(disabled.status).toBe(200);
    expect(disabled.body).toMatchObject({ is_enabled: false, status: 'offline', enabled_at: null });
    // The cached key answers 403 at once.
    expectError(await call(api.url, 'POST', '/agent/heartbeat', { auth: key }), 403, 'machine.disabled');

    api.clock.advance(60_000);
    const enabled = await call(api.url, 'POST', `/machines/${mine.body.id}/enable`, { auth: alice.token });
    expect(enabled.status).toBe(200);
    expect(enabled.body).toMatchObject({ is_enabled: true, status: 'offline', enabled_at: api.clock.now().toISOString() });
    expect((await call(api.url, 'POST', '/agent/heartbeat', { auth: key })).status).toBe(202);

    // Enabling an enabled machine is a no-op: it does not restart the threshold.
    api.clock.advance(60_000);
    const again = await call(api.url, 'POST', `/machines/${mine.body.id}/enable`, { auth: alice.token });
    expect(again.body.enabled_at).toBe(enabled.body.enabled_at);
  });

  it('rotates the key: the old key is refused at once, the new one works, status untouched', async () => {
    const mine = await register(alice.token, { name: 'a1' });
    const oldKey = mine.body.api_key;
    expect((await call(api.url, 'POST', '/agent/heartbeat', { auth: oldKey })).status).toBe(202);
    const rotated = await call(api.url, 'POST', `/machines/${mine.body.id}/rotate-key`, { auth: alice.token });
    expect(rotated.status).toBe(200);
    expect(rotated.body).toMatchObject({ id: mine.body.id, status: 'pending', api_key: expect.stringMatching(/^lsk_/) });
    expect(rotated.body.api_key).not.toBe(oldKey);
    expectError(await call(api.url, 'POST', '/agent/metrics', { auth: oldKey, json: AGENT_STEADY_REPORT }), 401, 'auth.invalid_key');
    expect((await call(api.url, 'POST', '/agent/metrics', { auth: rotated.body.api_key, json: AGENT_STEADY_REPORT })).status).toBe(202);
    const keys = await api.db.db.selectFrom('machine_api_keys').select(['revoked_at']).where('machine_id', '=', mine.body.id).orderBy('id').execute();
    expect(keys).toEqual([{ revoked_at: api.clock.now().toISOString() }, { revoked_at: null }]);
  });

  it('deletes a machine: its key stops at once, its events and pending deliveries stay in the outbox', async () => {
    const mine = await register(alice.token, { name: 'a1' });
    const eventId = randomUUID();
    const now = api.clock.now().toISOString();
    await api.db.db
      .insertInto('events')
      .values({ id: eventId, type: 'machine.offline', machine_id: mine.body.id, user_id: alice.id, occurred_at: now, payload: '{}', created_at: now })
      .execute();
    await api.db.db
      .insertInto('deliveries')
      .values({ event_id: eventId, machine_id: mine.body.id, channel: 'webhook', target_id: 1, next_attempt_at: now, created_at: now, updated_at: now })
      .execute();
    expect((await call(api.url, 'POST', '/agent/heartbeat', { auth: mine.body.api_key })).status).toBe(202);

    const deleted = await call(api.url, 'DELETE', `/machines/${mine.body.id}`, { auth: alice.token });
    expect(deleted.status).toBe(204);
    expect(deleted.text).toBe('');
    expectError(await call(api.url, 'POST', '/agent/heartbeat', { auth: mine.body.api_key }), 401, 'auth.invalid_key');
    expectError(await call(api.url, 'GET', `/machines/${mine.body.id}`, { auth: alice.token }), 404);
    expect(await api.db.db.selectFrom('deliveries').select(['event_id', 'status']).execute()).toEqual([{ event_id: eventId, status: 'pending' }]);
    expect(await api.db.db.selectFrom('machine_api_keys').selectAll().execute()).toEqual([]);
    await api.service.ctx.ingest.flush(true);
  });

  it('never returns a key after the call that created it', async () => {
    const mine = await register(alice.token, { name: 'a1' });
    const rotated = await call(api.url, 'POST', `/machines/${mine.body.id}/rotate-key`, { auth: alice.token });
    const from = seenResponses.length;
    await call(api.url, 'GET', '/machines', { auth: alice.token });
    await call(api.url, 'GET', `/machines/${mine.body.id}`, { auth: alice.token });
    await call(api.url, 'PATCH', `/machines/${mine.body.id}`, { auth: alice.token, json: { name: 'x' } });
    await call(api.url, 'POST', `/machines/${mine.body.id}/disable`, { auth: alice.token });
    await call(api.url, 'POST', `/machines/${mine.body.id}/enable`, { auth: alice.token });
    const later = seenResponses.slice(from).join('\n');
    expect(later).not.toContain(mine.body.api_key);
    expect(later).not.toContain(rotated.body.api_key);
  });

  it('refuses control characters in name, hostname and description (log-line forgery) with a clean 400', async () => {
    const forged = 'web\n2026-11-28T03:00:00.000Z info: Machine 1 (prod) came back online';
    for (const json of [
      { name: forged },
      { name: 'web\u0000' },
      { name: 'web\u007f' },
      { name: 'web', hostname: 'host\r\nx' },
      { name: 'web', description: 'line one\nline two' },
      { name: 'web', description: 'bell\u0007' },
    ]) {
      const result = await register(alice.token, json);
      expectError(result, 400, 'machine.invalid_payload');
      expect(result.body.error).toMatch(/^body\.(name|hostname|description) must not .*control characters/);
    }
    expect(await machineCount()).toBe(0);
    // A tab is fine in a description.
    const created = await register(alice.token, { name: 'web', description: 'col1\tcol2' });
    expect(created.status).toBe(201);
    const patched = await call(api.url, 'PATCH', `/machines/${created.body.id}`, { auth: alice.token, json: { name: 'web\nforged' } });
    expectError(patched, 400, 'machine.invalid_payload');
    expect(patched.body.error).toBe('body.name must not be blank or contain control characters');
  });

  it('refuses control characters in the strings an agent reports in system_info', async () => {
    const created = await register(alice.token, { name: 'web' });
    const result = await call(api.url, 'POST', '/agent/metrics', {
      headers: { 'x-api-key': created.body.api_key },
      json: { ...AGENT_STEADY_REPORT, system_info: { hostname: 'vm\nforged' } },
    });
    expectError(result, 400, 'ingest.invalid_payload');
    expect(result.body.error).toBe('body.system_info.hostname must not contain control characters');
  });
});
