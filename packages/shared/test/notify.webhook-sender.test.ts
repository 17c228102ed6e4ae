import { readFileSync } from 'node:fs';
import {
  buildOfflinePayload,
  createWebhookSender,
  generateWebhookSecret,
  serializePayload,
  type HostLookup,
  type WebhookSender,
  type WebhookSenderOptions,
} from '@lunasentri/shared';
import { TestClock } from '../../../test/support/test-clock';
import { closeAfterEach } from '../../../test/support/cleanup';
import { freePort as closedPort } from '../../../test/support/net';
import { startWebhookReceiver, type WebhookReceiver, type WebhookReceiverOptions } from '../../../test/support/webhook-receiver';

const { version } = JSON.parse(readFileSync(`${__dirname}/../package.json`, 'utf8')) as { version: string };
const whsecSecret = generateWebhookSecret();
const plainSecret = 'a-plain-user-chosen-secret';
const body = serializePayload(
  buildOfflinePayload({
    eventId: 'evt_0001',
    occurredAt: '2026-11-28T03:02:15.000Z',
    machine: { id: 1, name: 'production-server', hostname: 'prod-01.example.com', description: 'Main API server', status: 'offline', last_seen: '2026-11-28T03:00:00.000Z' },
  }),
);


describe('webhook sender against a local receiver', () => {
  const clock = new TestClock('2026-11-28T03:02:15.000Z');
  const track = closeAfterEach();

  async function receiver(options: Partial<WebhookReceiverOptions> = {}): Promise<WebhookReceiver> {
    return track(await startWebhookReceiver({ secret: whsecSecret, now: () => clock.now(), ...options }));
  }
  function sender(options: WebhookSenderOptions = {}): WebhookSender {
    return track(createWebhookSender({ allowHttp: true, allowPrivate: true, clock, ...options }));
  }


  test.each([
    ['a whsec_ secret', whsecSecret],
    ['a plain secret', plainSecret],
  ])('delivers a signed POST that verifies with standardwebhooks and the hand-computed signature (%s)', async (_label, secret) => {
    const hook = await receiver({ secret });
    const result = await sender().send({ url: hook.url, secret }, 'evt_0001', body);
    expect(result).toEqual({ kind: 'delivered', status: 200 });
    expect(hook.received).toHaveLength(1);
    const [request] = hook.received;
    expect(request!.verifyErrors).toEqual([]);
    expect(request!.verified).toBe(true);
    expect(request!.method).toBe('POST');
    expect(request!.rawBody).toBe(body);
    expect(request!.headers['content-type']).toBe('application/json');
    expect(request!.headers['user-agent']).toBe(`LunaSentri-Webhook/${version}`);
    expect(request!.headers['webhook-id']).toBe('evt_0001');
    expect(request!.headers['webhook-timestamp']).toBe(String(clock.now().getTime() / 1000));
  });

  test('any 2xx is success', async () => {
    const hook = await receiver({ respond: () => ({ status: 204 }) });
    expect(await sender().send({ url: hook.url, secret: whsecSecret }, 'e', body)).toEqual({ kind: 'delivered', status: 204 });
  });

  test('each attempt is signed with the time of that attempt and reuses kept-alive connections', async () => {
    const hook = await receiver();
    const webhook = sender();
    await webhook.send({ url: hook.url, secret: whsecSecret }, 'evt_0001', body);
    clock.advance(60_000);
    await webhook.send({ url: hook.url, secret: whsecSecret }, 'evt_0001', body);
    expect(hook.received.map((r) => r.verified)).toEqual([true, true]);
    expect(Number(hook.received[1]!.headers['webhook-timestamp']) - Number(hook.received[0]!.headers['webhook-timestamp'])).toBe(60);
    expect(hook.received.map((r) => r.headers['webhook-id'])).toEqual(['evt_0001', 'evt_0001']);
  });

  test('a receiver that never answers is retryable within the deadline', async () => {
    const hook = await receiver({ respond: () => 'hang' });
    const started = performance.now();
    const result = await sender({ timeoutMs: 200 }).send({ url: hook.url, secret: whsecSecret }, 'e', body);
    const elapsed = performance.now() - started;
    expect(result).toEqual({ kind: 'retryable', error: 'timeout after 200ms' });
    expect(elapsed).toBeGreaterThanOrEqual(190);
    expect(elapsed).toBeLessThan(2000);
  });

  test('closing the sender does not wait for a hanging request', async () => {
    const hook = await receiver({ respond: () => 'hang' });
    const webhook = sender({ timeoutMs: 30_000, closeGraceMs: 100 });
    const pending = webhook.send({ url: hook.url, secret: whsecSecret }, 'e', body);
    await hook.waitFor((r) => r.length === 1, 2000);
    const started = performance.now();
    await webhook.close();
    expect(performance.now() - started).toBeLessThan(2000);
    expect(await pending).toEqual({ kind: 'retryable', error: 'sender closed during the request' });
  });

  test('a caller abort ends the attempt as retryable', async () => {
    const hook = await receiver({ respond: () => 'hang' });
    const controller = new AbortController();
    const pending = sender({ timeoutMs: 30_000 }).send({ url: hook.url, secret: whsecSecret }, 'e', body, controller.signal);
    await hook.waitFor((r) => r.length === 1, 2000);
    controller.abort();
    expect(await pending).toEqual({ kind: 'retryable', error: 'aborted' });
  });

  test.each([
    [500, 'HTTP 500 Internal Server Error'],
    [502, 'HTTP 502 Bad Gateway'],
    [408, 'HTTP 408 Request Timeout'],
  ])('HTTP %i is retryable', async (status, error) => {
    const hook = await receiver({ respond: () => ({ status }) });
    expect(await sender().send({ url: hook.url, secret: whsecSecret }, 'e', body)).toEqual({ kind: 'retryable', error, status });
  });

  test('503 with Retry-After in seconds is retryable after that many seconds', async () => {
    const hook = await receiver({ respond: () => ({ status: 503, headers: { 'retry-after': '120' } }) });
    expect(await sender().send({ url: hook.url, secret: whsecSecret }, 'e', body)).toEqual({
      kind: 'retryable',
      error: 'HTTP 503 Service Unavailable',
      status: 503,
      retryAfterMs: 120_000,
    });
  });

  test('503 with Retry-After as an HTTP-date is retryable until that date (by the injected clock)', async () => {
    const at = new Date(clock.now().getTime() + 90_000).toUTCString();
    const hook = await receiver({ respond: () => ({ status: 503, headers: { 'retry-after': at } }) });
    expect(await sender().send({ url: hook.url, secret: whsecSecret }, 'e', body)).toMatchObject({ kind: 'retryable', status: 503, retryAfterMs: 90_000 });
  });

  test('429 is retryable and honours Retry-After', async () => {
    const hook = await receiver({ respond: () => ({ status: 429, headers: { 'retry-after': '7' } }) });
    expect(await sender().send({ url: hook.url, secret: whsecSecret }, 'e', body)).toEqual({
      kind: 'retryable',
      error: 'HTTP 429 Too Many Requests',
      status: 429,
      retryAfterMs: 7000,
    });
  });

  test('400 is permanent', async () => {
    const hook = await receiver({ respond: () => ({ status: 400, body: { error: 'bad' } }) });
    expect(await sender().send({ url: hook.url, secret: whsecSecret }, 'e', body)).toEqual({ kind: 'permanent', error: 'HTTP 400 Bad Request', status: 400 });
  });

  test('410 means the webhook is gone', async () => {
    const hook = await receiver({ respond: () => ({ status: 410 }) });
    expect(await sender().send({ url: hook.url, secret: whsecSecret }, 'e', body)).toEqual({ kind: 'gone', error: 'HTTP 410 Gone', status: 410 });
  });

  test('a redirect is not followed and fails permanently', async () => {
    const elsewhere = await receiver();
    const hook = await receiver({ respond: () => ({ status: 307, headers: { location: elsewhere.url } }) });
    const result = await sender().send({ url: hook.url, secret: whsecSecret }, 'e', body);
    expect(result).toEqual({ kind: 'permanent', error: 'HTTP 307 Temporary Redirect (redirects are not followed)', status: 307 });
    expect(hook.received).toHaveLength(1);
    expect(elsewhere.received).toHaveLength(0);
  });

  test('a refused connection is retryable', async () => {
    const port = await closedPort();
    expect(await sender().send({ url: `http://127.0.0.1:${port}/hook`, secret: whsecSecret }, 'e', body)).toEqual({ kind: 'retryable', error: 'connection refused' });
  });

  test('a URL on a private address is refused without allowPrivate and delivered with it', async () => {
    const hook = await receiver();
    expect(await sender({ allowPrivate: false }).send({ url: hook.url, secret: whsecSecret }, 'e', body)).toMatchObject({
      kind: 'permanent',
      error: expect.stringContaining('127.0.0.1 (loopback)'),
    });
    expect(hook.received).toHaveLength(0);
    expect(await sender({ allowPrivate: true }).send({ url: hook.url, secret: whsecSecret }, 'e', body)).toEqual({ kind: 'delivered', status: 200 });
  });

  test('a host name resolving to loopback is refused at send time on the resolved address', async () => {
    const hook = await receiver();
    const result = await sender({ allowPrivate: false }).send({ url: `http://localhost:${hook.port}/webhook`, secret: whsecSecret }, 'e', body);
    expect(result).toMatchObject({ kind: 'permanent', error: expect.stringMatching(/localhost resolves to (127\.0\.0\.1|::1) \(loopback\)/) });
    expect(hook.received).toHaveLength(0);
  });

  test('DNS rebinding: a host that passed the URL check but now resolves to a private address gets nothing', async () => {
    const hook = await receiver();
    // At creation the host resolved publicly (checked in the URL-guard tests); by send time it points at loopback.
    const rebound: HostLookup = async () => [{ address: '127.0.0.1', family: 4 }];
    const url = `http://hooks.example.test:${hook.port}/webhook`;
    expect(await sender({ allowPrivate: false, lookup: rebound }).send({ url, secret: whsecSecret }, 'e', body)).toMatchObject({
      kind: 'permanent',
      error: expect.stringContaining('hooks.example.test resolves to 127.0.0.1'),
    });
    expect(hook.received).toHaveLength(0);
    // Control: the same lookup is what the socket dials, so allowing private addresses reaches the receiver.
    expect(await sender({ allowPrivate: true, lookup: rebound }).send({ url, secret: whsecSecret }, 'e', body)).toEqual({ kind: 'delivered', status: 200 });
    expect(hook.received).toHaveLength(1);
  });

  test('http is refused without allowHttp and sent with it', async () => {
    const hook = await receiver();
    expect(await sender({ allowHttp: false }).send({ url: hook.url, secret: whsecSecret }, 'e', body)).toMatchObject({ kind: 'permanent', error: expect.stringContaining('https') });
    expect(hook.received).toHaveLength(0);
    expect(await sender({ allowHttp: true }).send({ url: hook.url, secret: whsecSecret }, 'e', body)).toMatchObject({ kind: 'delivered' });
  });

  test('an unusable whsec_ secret fails permanently instead of sending an unverifiable request', async () => {
    const hook = await receiver();
    expect(await sender().send({ url: hook.url, secret: 'whsec_***' }, 'e', body)).toMatchObject({ kind: 'permanent', error: expect.stringContaining('base64') });
    expect(hook.received).toHaveLength(0);
  });

  test('sends after close are retryable, not thrown', async () => {
    const hook = await receiver();
    const webhook = sender();
    await webhook.close();
    expect(await webhook.send({ url: hook.url, secret: whsecSecret }, 'e', body)).toMatchObject({ kind: 'retryable' });
  });
});
