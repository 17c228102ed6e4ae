import { describeEachEngine } from '../../../test/support/engines';
import { startWebhookReceiver, type WebhookReceiver } from '../../../test/support/webhook-receiver';
import { call, expectError, newUser, seenResponses, startTestApi, type TestApi, type TestApiOptions } from './support/harness';

/** A public address literal: passes the private-address rule without any DNS query. */
const PUBLIC_URL = 'https://93.184.215.14/hooks/lunasentri';

describeEachEngine('webhooks', (engine) => {
  let api: TestApi;
  let alice: { id: number; token: string };
  let bob: { id: number; token: string };
  let receiver: WebhookReceiver | undefined;

  async function start(options: TestApiOptions = {}) {
    api = await startTestApi(options);
    alice = await newUser(api, 'alice@example.com');
    bob = await newUser(api, 'bob@example.com');
  }

  afterEach(async () => {
    await receiver?.close();
    receiver = undefined;
    await api.dispose();
  });

  const create = (token: string, json: unknown) => call(api.url, 'POST', '/notifications/webhooks', { auth: token, json });
  const rows = () => api.db.db.selectFrom('webhooks').selectAll().orderBy('id').execute();

  describe('with the default URL rules (https only, no private addresses)', () => {
    beforeEach(() => start());

    it('creates a webhook with a generated whsec_ secret, shown only in the create response', async () => {
      const created = await create(alice.token, { url: PUBLIC_URL });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ id: expect.any(Number), url: PUBLIC_URL, is_active: true, secret: expect.stringMatching(/^whsec_[A-Za-z0-9+/]+=*$/) });
      expect((await rows())[0].secret).toBe(created.body.secret);

      const from = seenResponses.length;
      const list = await call(api.url, 'GET', '/notifications/webhooks', { auth: alice.token });
      expect(list.body).toEqual([expect.objectContaining({ id: created.body.id, url: PUBLIC_URL, is_active: true })]);
      const updated = await call(api.url, 'PUT', `/notifications/webhooks/${created.body.id}`, { auth: alice.token, json: { is_active: false } });
      expect(updated.body).toMatchObject({ is_active: false });
      for (const text of seenResponses.slice(from)) {
        expect(text).not.toContain(created.body.secret);
        expect(text).not.toContain('"secret"');
      }
    });

    it('keeps a secret the user chose, and never shows it again', async () => {
      const secret = 'my-own-signing-secret-0123456789';
      const created = await create(alice.token, { url: PUBLIC_URL, secret, is_active: false });
      expect(created.body).toMatchObject({ secret, is_active: false });
      const list = await call(api.url, 'GET', '/notifications/webhooks', { auth: alice.token });
      expect(list.text).not.toContain(secret);
      const replaced = await call(api.url, 'PUT', `/notifications/webhooks/${created.body.id}`, { auth: alice.token, json: { secret: 'another-secret-abcdef' } });
      expect(replaced.status).toBe(200);
      expect(replaced.text).not.toContain('another-secret-abcdef');
      expect((await rows())[0].secret).toBe('another-secret-abcdef');
    });

    it('refuses weak secrets (plain under 16 characters, whsec_ under 24 decoded bytes) on create and PUT, without echoing them', async () => {
      const weak = ['short', 'fifteen-chars-x', `whsec_${Buffer.alloc(23, 7).toString('base64')}`, `whsec_${Buffer.from('tiny').toString('base64')}`];
      for (const secret of weak) {
        const refused = await create(alice.token, { url: PUBLIC_URL, secret });
        expectError(refused, 400, 'webhook.invalid_secret');
        expect(refused.text).not.toContain(secret);
      }
      expect(await rows()).toEqual([]);

      const strong16 = 'sixteen-chars-xx';
      const created = await create(alice.token, { url: PUBLIC_URL, secret: strong16 });
      expect(created.status).toBe(201);
      const whsec24 = `whsec_${Buffer.alloc(24, 9).toString('base64')}`;
      expect((await create(alice.token, { url: `${PUBLIC_URL}/2`, secret: whsec24 })).status).toBe(201);

      const put = (json: unknown) => call(api.url, 'PUT', `/notifications/webhooks/${created.body.id}`, { auth: alice.token, json });
      for (const secret of weak) expectError(await put({ secret }), 400, 'webhook.invalid_secret');
      expect((await rows())[0].secret).toBe(strong16);
      expect((await put({ secret: whsec24 })).status).toBe(200);
      expect((await rows())[0].secret).toBe(whsec24);
    });

    it('refuses a whsec_ secret that is not base64', async () => {
      expectError(await create(alice.token, { url: PUBLIC_URL, secret: 'whsec_not base64!' }), 400, 'webhook.invalid_secret');
      expect(await rows()).toEqual([]);
    });

    it.each([
      ['plain http', 'http://93.184.215.14/hook', 'webhook.insecure_url'],
      ['loopback', 'https://127.0.0.1/hook', 'webhook.private_address'],
      ['a private network', 'https://10.1.2.3/hook', 'webhook.private_address'],
      ['link-local', 'https://169.254.169.254/latest/meta-data', 'webhook.private_address'],
      ['IPv6 loopback', 'https://[::1]/hook', 'webhook.private_address'],
      ['IPv6 unique-local', 'https://[fd00::1]/hook', 'webhook.private_address'],
      ['not a URL', 'not a url', 'webhook.invalid_url'],
      ['another scheme', 'ftp://93.184.215.14/hook', 'webhook.invalid_url'],
      ['credentials in the URL', 'https://user:pass@93.184.215.14/hook', 'webhook.invalid_url'],
    ])('refuses %s with 400 and stores nothing', async (_name, url, code) => {
      expectError(await create(alice.token, { url }), 400, code);
      expect(await rows()).toEqual([]);
    });

    it('a URL refused for two reasons names both, and both settings, at once', async () => {
      const refused = await create(alice.token, { url: 'http://127.0.0.1:9000/hook' });
      expectError(refused, 400, 'webhook.insecure_url');
      expect(refused.body.error).toBe(
        'webhook URL refused for two reasons: it must use https (set WEBHOOK_ALLOW_HTTP=true to allow http), and its address 127.0.0.1 is loopback (set WEBHOOK_ALLOW_PRIVATE=true to allow it)',
      );
      expect(await rows()).toEqual([]);
    });

    it('applies the URL rules to an update too, leaving the webhook as it was', async () => {
      const created = await create(alice.token, { url: PUBLIC_URL });
      expectError(await call(api.url, 'PUT', `/notifications/webhooks/${created.body.id}`, { auth: alice.token, json: { url: 'https://192.168.1.10/hook' } }), 400, 'webhook.private_address');
      expect((await rows())[0].url).toBe(PUBLIC_URL);
    });

    it('compares URLs in their normalised form: case, default port, fragment, tabs and an empty query do not make a new URL', async () => {
      const first = await create(alice.token, { url: 'https://93.184.215.14/hook' });
      expect(first.status).toBe(201);
      for (const url of ['HTTPS://93.184.215.14:443/hook', 'https://93.184.215.14/hook#frag', 'https://93.184.215.14/ho\tok', 'https://93.184.215.14/hook?']) {
        expectError(await create(alice.token, { url }), 409, 'webhook.duplicate_url');
      }
      const other = await create(alice.token, { url: 'https://93.184.215.14/other' });
      expectError(await call(api.url, 'PUT', `/notifications/webhooks/${other.body.id}`, { auth: alice.token, json: { url: 'HTTPS://93.184.215.14:443/hook#x' } }), 409, 'webhook.duplicate_url');
      // Stored as normalised, so what is listed is what is compared.
      const stored = await create(alice.token, { url: 'HTTPS://93.184.215.14:443/Path?q=1#frag' });
      expect(stored.body.url).toBe('https://93.184.215.14/Path?q=1');
      expect((await rows()).map((r) => r.url)).toEqual(['https://93.184.215.14/hook', 'https://93.184.215.14/other', 'https://93.184.215.14/Path?q=1']);
    });

    it('answers 409 for a URL the user already has, on create and on update', async () => {
      const first = await create(alice.token, { url: PUBLIC_URL });
      expectError(await create(alice.token, { url: PUBLIC_URL }), 409, 'webhook.duplicate_url');
      const second = await create(alice.token, { url: `${PUBLIC_URL}/2` });
      expectError(await call(api.url, 'PUT', `/notifications/webhooks/${second.body.id}`, { auth: alice.token, json: { url: PUBLIC_URL } }), 409, 'webhook.duplicate_url');
      // Another user may use the same URL.
      expect((await create(bob.token, { url: PUBLIC_URL })).status).toBe(201);
      expect((await rows()).map((r) => [r.user_id, r.url])).toEqual([
        [alice.id, PUBLIC_URL],
        [alice.id, `${PUBLIC_URL}/2`],
        [bob.id, PUBLIC_URL],
      ]);
      expect(first.status).toBe(201);
    });

    it.each([
      ['a missing url', {}],
      ['a numeric url', { url: 42 }],
      ['a 2,049-character url', { url: `https://93.184.215.14/${'a'.repeat(2049)}` }],
      ['an empty secret', { url: PUBLIC_URL, secret: '' }],
      ['a 1,025-character secret', { url: PUBLIC_URL, secret: 's'.repeat(1025) }],
      ['is_active as a string', { url: PUBLIC_URL, is_active: 'yes' }],
      ['an unknown field', { url: PUBLIC_URL, events: ['machine.offline'] }],
    ])('refuses %s with 400', async (_name, body) => {
      expectError(await create(alice.token, body), 400, 'webhook.invalid_payload');
      expect(await rows()).toEqual([]);
    });

    it('refuses an empty update and unknown fields in an update', async () => {
      const created = await create(alice.token, { url: PUBLIC_URL });
      expectError(await call(api.url, 'PUT', `/notifications/webhooks/${created.body.id}`, { auth: alice.token, json: {} }), 400, 'webhook.invalid_payload');
      expectError(await call(api.url, 'PUT', `/notifications/webhooks/${created.body.id}`, { auth: alice.token, json: { user_id: bob.id } }), 400, 'webhook.invalid_payload');
      expect((await rows())[0].user_id).toBe(alice.id);
    });

    it('deletes a webhook', async () => {
      const created = await create(alice.token, { url: PUBLIC_URL });
      const deleted = await call(api.url, 'DELETE', `/notifications/webhooks/${created.body.id}`, { auth: alice.token });
      expect(deleted.status).toBe(204);
      expect(await rows()).toEqual([]);
      expectError(await call(api.url, 'DELETE', `/notifications/webhooks/${created.body.id}`, { auth: alice.token }), 404, 'webhook.not_found');
    });

    it('answers 404 for another user’s webhook on every route, and changes nothing', async () => {
      const bobs = await create(bob.token, { url: PUBLIC_URL });
      const id = bobs.body.id;
      expectError(await call(api.url, 'PUT', `/notifications/webhooks/${id}`, { auth: alice.token, json: { is_active: false } }), 404, 'webhook.not_found');
      expectError(await call(api.url, 'DELETE', `/notifications/webhooks/${id}`, { auth: alice.token }), 404, 'webhook.not_found');
      expectError(await call(api.url, 'POST', `/notifications/webhooks/${id}/test`, { auth: alice.token }), 404, 'webhook.not_found');
      expect((await call(api.url, 'GET', '/notifications/webhooks', { auth: alice.token })).body).toEqual([]);
      expect(await rows()).toEqual([expect.objectContaining({ id, is_active: 1, user_id: bob.id })]);
    });
  });

  describe('with WEBHOOK_ALLOW_HTTP and WEBHOOK_ALLOW_PRIVATE', () => {
    beforeEach(() => start({ allowHttp: true, allowPrivate: true }));

    it('accepts a plain-http loopback URL', async () => {
      const created = await create(alice.token, { url: 'http://127.0.0.1:9/hook' });
      expect(created.status).toBe(201);
    });

    it('sends a signed test message through the notifier and answers 200', async () => {
      const created = await create(alice.token, { url: 'http://127.0.0.1:1/placeholder' });
      receiver = await startWebhookReceiver({ secret: created.body.secret, now: () => api.clock.now() });
      await call(api.url, 'PUT', `/notifications/webhooks/${created.body.id}`, { auth: alice.token, json: { url: receiver.url } });
      const tested = await call(api.url, 'POST', `/notifications/webhooks/${created.body.id}/test`, { auth: alice.token });
      expect(tested.status).toBe(200);
      expect(tested.body).toMatchObject({ ok: true, outcome: 'delivered', status: 200 });
      expect(receiver.received).toHaveLength(1);
      expect(receiver.received[0].verified).toBe(true);
      expect(receiver.received[0].json).toMatchObject({ event: 'webhook.test', occurred_at: api.clock.now().toISOString() });
      expect(tested.text).not.toContain(created.body.secret);
    });

    it('answers 502 with the receiver’s error when the test message is refused', async () => {
      receiver = await startWebhookReceiver({ secret: 'irrelevant-secret', respond: () => ({ status: 500, body: 'boom' }) });
      const secret = 'whsec_c2VjcmV0LWZvci10aGUtdGVzdC1lbmRwb2ludA==';
      const created = await create(alice.token, { url: receiver.url, secret });
      const tested = await call(api.url, 'POST', `/notifications/webhooks/${created.body.id}/test`, { auth: alice.token });
      expectError(tested, 502, 'webhook.test_failed');
      expect(tested.body).toMatchObject({ ok: false, outcome: 'retryable', status: 500 });
      expect(tested.text).not.toContain(secret);
    });

    it('answers 502 when nothing listens at the URL', async () => {
      const created = await create(alice.token, { url: 'http://127.0.0.1:1/nobody' });
      const tested = await call(api.url, 'POST', `/notifications/webhooks/${created.body.id}/test`, { auth: alice.token });
      expectError(tested, 502, 'webhook.test_failed');
    });
  });

  describe('with WEBHOOK_ALLOW_HTTP only', () => {
    beforeEach(() => start({ allowHttp: true }));

    it('accepts http to a public address but still refuses private ones', async () => {
      expect((await create(alice.token, { url: 'http://93.184.215.14/hook' })).status).toBe(201);
      expectError(await create(alice.token, { url: 'http://127.0.0.1/hook' }), 400, 'webhook.private_address');
    });
  });

  describe('with WEBHOOK_ALLOW_PRIVATE only', () => {
    beforeEach(() => start({ allowPrivate: true }));

    it('accepts https to a private address but still refuses http', async () => {
      expect((await create(alice.token, { url: 'https://10.0.0.5/hook' })).status).toBe(201);
      expectError(await create(alice.token, { url: 'http://10.0.0.5/hook' }), 400, 'webhook.insecure_url');
    });
  });
});
