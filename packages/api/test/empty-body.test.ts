import { describeEachEngine } from '../../../test/support/engines';
import { call, expectError, rawClient, startWithAccounts, type TestApi, type TestMachine, type TestUser } from './support/harness';

/** `curl -d ''` sends an empty form body; an empty body means "no body" whatever its content type. */
describeEachEngine('empty bodies with a non-JSON content type', (engine) => {
  let api: TestApi;
  let user: TestUser;
  let machine: TestMachine;
  beforeEach(async () => void ({ api, users: [user], machine } = await startWithAccounts({ engine }, ['owner@example.com'], { machine: true })));
  afterEach(() => api.dispose());

  const form = { 'content-type': 'application/x-www-form-urlencoded' };

  it('takes a heartbeat sent as curl -d "" (X-API-Key, empty form body)', async () => {
    const result = await call(api.url, 'POST', '/agent/heartbeat', { raw: '', headers: { ...form, 'x-api-key': machine.key } });
    expect(result.status).toBe(202);
    expect(result.text).toBe('');
  });

  it('disables, enables and deletes a machine with an empty body of any content type', async () => {
    const disabled = await call(api.url, 'POST', `/machines/${machine.id}/disable`, { auth: user.token, raw: '', headers: form });
    expect(disabled.status).toBe(200);
    expect(disabled.body).toMatchObject({ id: machine.id });
    const enabled = await call(api.url, 'POST', `/machines/${machine.id}/enable`, { auth: user.token, raw: '', headers: { 'content-type': 'text/plain' } });
    expect(enabled.status).toBe(200);
    const deleted = await call(api.url, 'DELETE', `/machines/${machine.id}`, { auth: user.token, raw: '', headers: { 'content-type': 'text/plain' } });
    expect(deleted.status).toBe(204);
    expect(await api.db.db.selectFrom('machines').select('id').execute()).toEqual([]);
  });

  it('a route that needs a body still refuses an empty one with 400, not 415 and not 500', async () => {
    expectError(await call(api.url, 'POST', '/agent/register', { auth: user.token, raw: '', headers: { 'content-type': 'text/plain' } }), 400, 'machine.invalid_payload');
  });

  it('still answers 415 to a non-empty non-JSON body, and to a body without a content type', async () => {
    expectError(await call(api.url, 'POST', '/agent/heartbeat', { raw: 'x=1', headers: { ...form, 'x-api-key': machine.key } }), 415, 'request.unsupported_media_type');
    expectError(await call(api.url, 'POST', `/machines/${machine.id}/disable`, { auth: user.token, raw: 'please', headers: { 'content-type': 'text/plain' } }), 415, 'request.unsupported_media_type');
    const noType = rawClient(api.url);
    await noType.connected;
    noType.socket.write(`POST /agent/heartbeat HTTP/1.1\r\nHost: x\r\nX-API-Key: ${machine.key}\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc`);
    await noType.closed;
    expect(noType.received()).toMatch(/^HTTP\/1\.1 415 /);
    expect(noType.received()).toContain('"code":"request.unsupported_media_type"');
    expect((await api.db.db.selectFrom('machines').select('is_enabled').executeTakeFirstOrThrow()).is_enabled).toBe(1);
  });

  it('handles chunked bodies: empty is no body, any byte is 415', async () => {
    const send = async (chunks: string) => {
      const client = rawClient(api.url);
      await client.connected;
      client.socket.write(
        `POST /agent/heartbeat HTTP/1.1\r\nHost: x\r\nX-API-Key: ${machine.key}\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${chunks}`,
      );
      await client.closed;
      return client.received();
    };
    expect(await send('0\r\n\r\n')).toMatch(/^HTTP\/1\.1 202 /);
    const refused = await send('3\r\nabc\r\n0\r\n\r\n');
    expect(refused).toMatch(/^HTTP\/1\.1 415 /);
    expect(refused).toContain('"code":"request.unsupported_media_type"');
  });
});
