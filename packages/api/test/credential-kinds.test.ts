import { describeEachEngine } from '../../../test/support/engines';
import { revokeToken } from '../src/users/users.repository';
import { AGENT_STEADY_REPORT, call, expectError, startWithAccounts, type TestApi, type TestMachine, type TestUser } from './support/harness';

const KEY_ON_USER_ROUTE = 'this is a machine API key; user routes need a personal API token (Authorization: Bearer lst_…)';
const TOKEN_ON_AGENT_ROUTE = "this is a personal API token; agent routes need the machine's API key (Authorization: Bearer lsk_… or X-API-Key)";

describeEachEngine('a credential of the wrong kind', (engine) => {
  let api: TestApi;
  let user: TestUser;
  let machine: TestMachine;
  beforeEach(async () => void ({ api, users: [user], machine } = await startWithAccounts({ engine }, ['owner@example.com'], { machine: true })));
  afterEach(() => api.dispose());

  it('a machine API key on a user route: 401 auth.invalid_token saying a personal token is needed', async () => {
    for (const [method, path] of [
      ['GET', '/machines'],
      ['POST', '/agent/register'],
      ['GET', '/events'],
    ]) {
      const result = await call(api.url, method, path, { auth: machine.key, json: method === 'POST' ? { name: 'x' } : undefined });
      expectError(result, 401, 'auth.invalid_token');
      expect(result.body.error).toBe(KEY_ON_USER_ROUTE);
      expect(result.text).not.toContain(machine.key);
    }
    // A disabled machine's key is still a machine key.
    await call(api.url, 'POST', `/machines/${machine.id}/disable`, { auth: user.token });
    expect((await call(api.url, 'GET', '/machines', { auth: machine.key })).body.error).toBe(KEY_ON_USER_ROUTE);
    expect(await api.db.db.selectFrom('machines').select('name').execute()).toEqual([{ name: 'web-1' }]);
  });

  it('a personal API token on an agent route: 401 auth.invalid_key saying the machine key is needed, nothing recorded', async () => {
    const viaBearer = await call(api.url, 'POST', '/agent/metrics', { auth: user.token, json: AGENT_STEADY_REPORT });
    expectError(viaBearer, 401, 'auth.invalid_key');
    expect(viaBearer.body.error).toBe(TOKEN_ON_AGENT_ROUTE);
    const viaHeader = await call(api.url, 'POST', '/agent/heartbeat', { headers: { 'x-api-key': user.token } });
    expectError(viaHeader, 401, 'auth.invalid_key');
    expect(viaHeader.body.error).toBe(TOKEN_ON_AGENT_ROUTE);
    expect(viaHeader.text).not.toContain(user.token);
    await api.service.ctx.ingest.flush(true);
    expect(await api.db.db.selectFrom('machines').select('last_seen').execute()).toEqual([{ last_seen: null }]);
  });

  it('unknown or revoked credentials keep the plain messages', async () => {
    const unknownToken = await call(api.url, 'GET', '/machines', { auth: 'lst_not-a-token' });
    expect(unknownToken.body).toEqual({ code: 'auth.invalid_token', error: 'unknown or revoked API token' });
    const unknownKey = await call(api.url, 'POST', '/agent/heartbeat', { auth: 'lsk_not-a-key' });
    expect(unknownKey.body).toEqual({ code: 'auth.invalid_key', error: 'unknown or revoked machine API key' });

    // A revoked token is no longer a credential of any kind; a rotated-away key neither.
    const tokenId = (await api.db.db.selectFrom('api_tokens').select('id').executeTakeFirstOrThrow()).id;
    const spare = await call(api.url, 'POST', `/machines/${machine.id}/rotate-key`, { auth: user.token });
    await revokeToken(api.db.db, api.clock, user.id, tokenId);
    expect((await call(api.url, 'POST', '/agent/heartbeat', { auth: user.token })).body.error).toBe('unknown or revoked machine API key');
    expect((await call(api.url, 'GET', '/machines', { auth: machine.key })).body.error).toBe('unknown or revoked API token');
    expect((await call(api.url, 'POST', '/agent/heartbeat', { auth: spare.body.api_key })).status).toBe(202);
  });
});
