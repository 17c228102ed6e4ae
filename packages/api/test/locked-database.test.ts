import { openDatabase, type DatabaseHandle } from '@lunasentri/shared';
import { rawSqlite } from '../../../test/support/db';
import { call, eventually, newMachine, newUser, startTestApi, type TestApi } from './support/harness';

describe('a write lock held by another process', () => {
  let api: TestApi;
  let other: DatabaseHandle | undefined;

  afterEach(async () => {
    if ((other && rawSqlite(other).inTransaction)) rawSqlite(other).exec('ROLLBACK');
    await other?.close();
    await api.dispose();
  });

  it('does not freeze the API: a heartbeat is answered while the lock is held and written once it is released', async () => {
    api = await startTestApi();
    const alice = await newUser(api, 'alice@example.com');
    const machine = await newMachine(api, alice.id);
    // Another process (the CLI, the daemon) in a long write transaction.
    other = openDatabase(api.db.path);
    rawSqlite(other).exec('BEGIN IMMEDIATE');

    const answer = await call(api.url, 'POST', '/agent/heartbeat', { headers: { 'x-api-key': machine.key } });
    const health = await call(api.url, 'GET', '/health');
    const machines = await call(api.url, 'GET', '/machines', { auth: alice.token });
    // The flush was refused by the lock (and will be retried)...
    await eventually(() => (api.logs().includes('Could not write ingest reports') ? true : undefined));
    expect(rawSqlite(other).inTransaction).toBe(true);
    expect([answer.status, health.status, machines.status]).toEqual([202, 200, 200]);
    const before = await api.db.db.selectFrom('machines').select('last_seen').where('id', '=', machine.id).executeTakeFirstOrThrow();
    expect(before.last_seen).toBeNull();

    // ...and goes through once the other process commits.
    rawSqlite(other).exec('COMMIT');
    const seen = await eventually(async () => {
      const row = await api.db.db.selectFrom('machines').select('last_seen').where('id', '=', machine.id).executeTakeFirstOrThrow();
      return row.last_seen ?? undefined;
    });
    expect(seen).toBe(api.clock.now().toISOString());
  });
});
