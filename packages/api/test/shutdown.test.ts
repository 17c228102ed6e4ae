import { describeEachEngine } from '../../../test/support/engines';
import { startWebhookReceiver, type WebhookReceiver } from '../../../test/support/webhook-receiver';
import { call, newMachine, newUser, rawClient, startTestApi, type TestApi } from './support/harness';

describeEachEngine('graceful stop', (engine) => {
  let api: TestApi;
  let receiver: WebhookReceiver | undefined;
  let release: () => void = () => {};

  afterEach(async () => {
    release();
    await receiver?.close();
    await api.dispose();
  });

  it('lets an in-flight request finish before the server closes', async () => {
    api = await startTestApi({ engine, allowHttp: true, allowPrivate: true });
    const alice = await newUser(api, 'alice@example.com');
    const gate = new Promise<void>((resolve) => (release = resolve));
    let arrived: () => void = () => {};
    const arrival = new Promise<void>((resolve) => (arrived = resolve));
    receiver = await startWebhookReceiver({
      secret: 'irrelevant-for-this-test',
      respond: async () => {
        arrived();
        await gate;
        return undefined;
      },
    });
    const created = await call(api.url, 'POST', '/notifications/webhooks', { auth: alice.token, json: { url: receiver.url } });
    const inFlight = call(api.url, 'POST', `/notifications/webhooks/${created.body.id}/test`, { auth: alice.token });
    await arrival;

    let stopped = false;
    const stopping = api.stop().then(() => (stopped = true));
    // Still running: the test send has not been answered.
    await new Promise((resolve) => setImmediate(resolve));
    expect(stopped).toBe(false);
    release();
    const answer = await inFlight;
    await stopping;
    expect(answer.status).toBe(200);
    await expect(fetch(`${api.url}/health`)).rejects.toThrow();
  });

  it('cuts off a client trickling a body after the grace period, then writes the buffered reports and records the stop', async () => {
    // Long flush interval: the accepted report is still only in memory when the stop begins.
    api = await startTestApi({ engine, flushIntervalMs: 60_000, closeGraceMs: 200 });
    const alice = await newUser(api, 'alice@example.com');
    const machine = await newMachine(api, alice.id);
    const accepted = await call(api.url, 'POST', '/agent/heartbeat', { headers: { 'x-api-key': machine.key } });
    expect(accepted.status).toBe(202);

    const slow = rawClient(api.url);
    await slow.connected;
    slow.socket.write(
      `POST /agent/metrics HTTP/1.1\r\nHost: x\r\nX-API-Key: ${machine.key}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"cpu_pct":`,
    );
    const trickle = setInterval(() => slow.socket.write(' '), 20);
    // A round trip on another connection, sent after those bytes: the server has read them by its end.
    expect((await call(api.url, 'GET', '/health')).status).toBe(200);
    try {
      await api.service.stop();
      await slow.closed;
    } finally {
      clearInterval(trickle);
    }
    const row = await api.db.db.selectFrom('machines').select('last_seen').where('id', '=', machine.id).executeTakeFirstOrThrow();
    expect(row.last_seen).toBe(api.clock.now().toISOString());
    const liveness = await api.db.db.selectFrom('service_liveness').select('stopped_at').execute();
    expect(liveness).toEqual([{ stopped_at: expect.any(String) }]);
    expect(api.logs()).toContain('closing their connections');
  });

  it('answers 408 and closes the socket when a request body does not arrive within the request timeout', async () => {
    api = await startTestApi({ engine, requestTimeoutMs: 200 });
    const alice = await newUser(api, 'alice@example.com');
    const machine = await newMachine(api, alice.id);
    const slow = rawClient(api.url);
    await slow.connected;
    slow.socket.write(`POST /agent/metrics HTTP/1.1\r\nHost: x\r\nX-API-Key: ${machine.key}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{`);
    await slow.closed;
    expect(slow.received()).toMatch(/^HTTP\/1\.1 408 /);
    expect(slow.received()).toContain('{"error":"request did not arrive in time","code":"http.request_timeout"}');
  });
});
