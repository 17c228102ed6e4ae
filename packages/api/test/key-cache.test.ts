import { openDatabase, type DatabaseHandle } from '@lunasentri/shared';
import { rawSqlite } from '../../../test/support/db';
import { hashCredential } from '../src/credentials/credentials';
import { call, newMachine, newUser, startTestApi, type TestApi } from './support/harness';

describe('machine key cache', () => {
  let api: TestApi;
  let other: DatabaseHandle | undefined;

  afterEach(async () => {
    await other?.close();
    other = undefined;
    await api.dispose();
  });

  const heartbeat = (key: string) => call(api.url, 'POST', '/agent/heartbeat', { headers: { 'x-api-key': key } });

  it('keeps a key cached across a real agent report interval (10 s) with the default TTL', async () => {
    api = await startTestApi({ keyCacheTtlMs: 5 * 60_000 });
    const alice = await newUser(api, 'alice@example.com');
    const machine = await newMachine(api, alice.id);
    expect((await heartbeat(machine.key)).status).toBe(202);
    api.clock.advance(10_000);
    expect(api.service.ctx.keyCache.get(hashCredential(machine.key))).toEqual(expect.objectContaining({ machineId: machine.id, enabled: true }));
    expect((await heartbeat(machine.key)).status).toBe(202);
  });

  it('sees a key revoked and a machine disabled by another process within about a second', async () => {
    api = await startTestApi({ keyCacheTtlMs: 5 * 60_000 });
    const alice = await newUser(api, 'alice@example.com');
    const revoked = await newMachine(api, alice.id, 'revoked');
    const disabled = await newMachine(api, alice.id, 'disabled');
    expect((await heartbeat(revoked.key)).status).toBe(202);
    expect((await heartbeat(disabled.key)).status).toBe(202);

    // The CLI or a second API process, on its own connection.
    other = openDatabase(api.db.path);
    rawSqlite(other).prepare('UPDATE machine_api_keys SET revoked_at = ? WHERE machine_id = ?').run(api.clock.now().toISOString(), revoked.id);
    rawSqlite(other).prepare('UPDATE machines SET is_enabled = 0 WHERE id = ?').run(disabled.id);

    api.clock.advance(1_000);
    expect((await heartbeat(revoked.key)).status).toBe(401);
    expect((await heartbeat(disabled.key)).status).toBe(403);
  });

  it('is not dropped by ingest writes or by changes that do not touch keys or the enabled flag', async () => {
    api = await startTestApi({ keyCacheTtlMs: 5 * 60_000 });
    const alice = await newUser(api, 'alice@example.com');
    const machine = await newMachine(api, alice.id);
    expect((await heartbeat(machine.key)).status).toBe(202);
    other = openDatabase(api.db.path);
    rawSqlite(other).prepare("UPDATE machines SET last_seen = ?, name = 'renamed', status = 'online' WHERE id = ?").run(api.clock.now().toISOString(), machine.id);
    api.clock.advance(1_000);
    expect((await heartbeat(machine.key)).status).toBe(202);
    expect(api.service.ctx.keyCache.size).toBe(1);
  });
});
