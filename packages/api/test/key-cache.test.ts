import { openDatabase, type DatabaseHandle } from '@lunasentri/shared';
import { describeEachEngine } from '../../../test/support/engines';
import { call, eventually, newMachine, newUser, startTestApi, type TestApi } from './support/harness';

describeEachEngine('machine key cache', (engine) => {
  let api: TestApi;
  let other: DatabaseHandle | undefined;

  afterEach(async () => {
    await other?.close();
    other = undefined;
    await api.dispose();
  });

  const heartbeat = (key: string) => call(api.url, 'POST', '/agent/heartbeat', { headers: { 'x-api-key': key } });

  it('keeps a key cached across a real agent report interval (10 s) with the default TTL', async () => {
    api = await startTestApi({ keyCacheTtlMs: 5 * 60_000, engine });
    const alice = await newUser(api, 'alice@example.com');
    const machine = await newMachine(api, alice.id);
    expect((await heartbeat(machine.key)).status).toBe(202);
    api.clock.advance(10_000);
    // The revision check falls due now; on PostgreSQL its answer comes back asynchronously.
    api.service.ctx.keyCache.get('a revision check', api.clock.now().getTime());
    await eventually(() => (api.service.ctx.keyCache.checkingRevision ? undefined : true));
    expect(api.service.ctx.keyCache.get(machine.key, api.clock.now().getTime())).toEqual(expect.objectContaining({ machineId: machine.id, enabled: true }));
    expect((await heartbeat(machine.key)).status).toBe(202);
  });

  it('sees a key revoked and a machine disabled by another process within about a second', async () => {
    api = await startTestApi({ keyCacheTtlMs: 5 * 60_000, engine });
    const alice = await newUser(api, 'alice@example.com');
    const revoked = await newMachine(api, alice.id, 'revoked');
    const disabled = await newMachine(api, alice.id, 'disabled');
    expect((await heartbeat(revoked.key)).status).toBe(202);
    expect((await heartbeat(disabled.key)).status).toBe(202);

    // The CLI or a second API process, on its own connection.
    other = openDatabase(api.db.path);
    await other.db.updateTable('machine_api_keys').set({ revoked_at: api.clock.now().toISOString() }).where('machine_id', '=', revoked.id).execute();
    await other.db.updateTable('machines').set({ is_enabled: 0 }).where('id', '=', disabled.id).execute();

    api.clock.advance(1_000);
    expect((await heartbeat(revoked.key)).status).toBe(401);
    expect((await heartbeat(disabled.key)).status).toBe(403);
  });

  it('is not dropped by ingest writes or by changes that do not touch keys or the enabled flag', async () => {
    api = await startTestApi({ keyCacheTtlMs: 5 * 60_000, engine });
    const alice = await newUser(api, 'alice@example.com');
    const machine = await newMachine(api, alice.id);
    expect((await heartbeat(machine.key)).status).toBe(202);
    other = openDatabase(api.db.path);
    await other.db.updateTable('machines').set({ last_seen: api.clock.now().toISOString(), name: 'renamed', status: 'online' }).where('id', '=', machine.id).execute();
    api.clock.advance(1_000);
    expect((await heartbeat(machine.key)).status).toBe(202);
    expect(api.service.ctx.keyCache.size).toBe(1);
  });
});
