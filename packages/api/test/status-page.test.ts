import { recordBeat, registerInstance } from '@lunasentri/shared';
import { describeEachEngine } from '../../../test/support/engines';
import { insertMachine, insertWebhook } from '../../../test/support/fixtures';
import { call, expectError, newUser, startTestApi, type TestApi } from './support/harness';

describeEachEngine('the public status page', (engine) => {
  let api: TestApi;
  let alice: { id: number; token: string };

  beforeEach(async () => {
    api = await startTestApi({ engine });
    alice = await newUser(api, 'alice@example.com');
  });
  afterEach(() => api.dispose());

  const put = (json: unknown, token = alice.token) => call(api.url, 'PUT', '/status-page', { auth: token, json });
  const view = (slug: string) => call(api.url, 'GET', `/status/${slug}`);

  test('PUT /status-page answers the settings with a slug of at least 128 random bits, kept across changes', async () => {
    expect((await call(api.url, 'GET', '/status-page', { auth: alice.token })).body).toMatchObject({ enabled: false, slug: null });
    const first = await put({ enabled: true, title: 'Acme status', show_hostnames: false });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ enabled: true, title: 'Acme status', show_hostnames: false, path: `/status/${first.body.slug}` });
    expect(first.body.slug).toMatch(/^[A-Za-z0-9_-]{22,}$/); // ≥ 22 base64url characters: ≥ 128 bits
    const second = await put({ show_hostnames: true });
    expect(second.body).toMatchObject({ enabled: true, title: 'Acme status', show_hostnames: true, slug: first.body.slug });
    const bob = await newUser(api, 'bob@example.com');
    expect((await put({ enabled: true }, bob.token)).body.slug).not.toBe(first.body.slug);
  });

  test.each([
    ['no field', {}],
    ['an empty title', { title: '' }],
    ['a blank title', { title: '   ' }],
    ['a title over 100 characters', { title: 'x'.repeat(101) }],
    ['enabled as a string', { enabled: 'yes' }],
    ['an unknown field', { enabled: true, slug: 'mine' }],
    ['an array', [true]],
  ])('%s is a clean 400 that stores nothing', async (_name, body) => {
    expectError(await put(body), 400, 'status_page.invalid_payload');
    expect(await api.db.db.selectFrom('status_pages').selectAll().execute()).toEqual([]);
  });

  test('shows the title and each enabled machine with its status and 90 bars, hostnames only when chosen, nothing else of the account', async () => {
    const now = api.clock.now().toISOString();
    await insertMachine(api.db.db, alice.id, { name: 'web-1', hostname: 'web-1.internal.example', status: 'online', last_seen: now });
    await insertMachine(api.db.db, alice.id, { name: 'db-1', hostname: 'db-1.internal.example', status: 'offline', last_seen: now, description: 'secret description' });
    await insertMachine(api.db.db, alice.id, { name: 'old-box', status: 'online', is_enabled: 0 });
    await insertWebhook(api.db.db, alice.id, 'https://hooks.example.com/private-path');
    const daemon = await registerInstance(api.db.db, 'daemon', api.clock, { beatEveryMs: 30_000 });
    const { slug } = (await put({ enabled: true, title: 'Acme <status>' })).body;

    const page = await view(slug);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(page.text).toContain('<title>Acme &lt;status&gt;</title>');
    expect(page.text).toContain('<h2>web-1</h2>');
    expect(page.text).toContain('<span class="status s-online">online</span>');
    expect(page.text).toContain('<span class="status s-offline">offline</span>');
    expect(page.text.match(/<li class="b-/g)).toHaveLength(180);
    expect(page.text).toMatch(/As of <time datetime="2026-11-28T03:00:00.000Z">2026-11-28 03:00:00 UTC<\/time>/);
    for (const hidden of ['old-box', 'internal.example', 'alice@example.com', 'secret description', 'hooks.example.com', 'Sign out', 'lst_']) {
      expect({ hidden, shown: page.text.includes(hidden) }).toEqual({ hidden, shown: false });
    }
    await put({ show_hostnames: true });
    expect((await view(slug)).text).toContain('web-1.internal.example');

    // The daemon stops checking: past twice its interval the statuses are unknown.
    api.clock.advance(60_000);
    await recordBeat(api.db.db, daemon, api.clock);
    api.clock.advance(60_000);
    expect((await view(slug)).text).toContain('<span class="status s-online">online</span>');
    api.clock.advance(1);
    const stale = (await view(slug)).text;
    expect(stale).not.toContain('s-online');
    expect(stale.match(/<span class="status s-unknown">unknown<\/span>/g)).toHaveLength(2);
    expect(stale).toContain('Statuses are unknown');
  });

  test('never checked by a daemon: statuses are unknown', async () => {
    await insertMachine(api.db.db, alice.id, { name: 'web-1', status: 'online', last_seen: api.clock.now().toISOString() });
    const { slug } = (await put({ enabled: true, title: 'Acme' })).body;
    expect((await view(slug)).text).toContain('<span class="status s-unknown">unknown</span>');
  });

  test('a disabled, unknown or malformed slug is a 404, the same for each', async () => {
    const { slug } = (await put({ enabled: true, title: 'Acme' })).body;
    expect((await view(slug)).status).toBe(200);
    await put({ enabled: false });
    const answers = await Promise.all([view(slug), view('A'.repeat(24)), view('..%2F..'), view(`${slug}x`)]);
    expect(answers.map((a) => a.status)).toEqual([404, 404, 404, 404]);
    expect(new Set(answers.map((a) => a.text.replace(/<time[^]*?<\/time>/g, ''))).size).toBe(1);
    expect(answers[0]!.text).not.toContain('Acme');
  });

  test('PUT /status-page needs a personal token', async () => {
    expectError(await call(api.url, 'PUT', '/status-page', { json: { enabled: true } }), 401, 'auth.missing_token');
  });
});
