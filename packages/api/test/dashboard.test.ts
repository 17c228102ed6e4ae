import { createTestDb } from '../../../test/support/db';
import { describeEachEngine } from '../../../test/support/engines';
import { insertMachine, insertWebhook } from '../../../test/support/fixtures';
import { countQueries } from '../../../test/support/query-counter';
import { SESSION_TTL_MS } from '../src/dashboard/sessions.repository';
import { CookieClient, csrfOf } from './support/browser-client';
import { call, expectError, newUser, startTestApi, type TestApi } from './support/harness';

describeEachEngine('the dashboard over HTTP', (engine) => {
  let api: TestApi;
  let alice: { id: number; token: string };
  let browser: CookieClient;

  beforeEach(async () => {
    api = await startTestApi({ engine });
    alice = await newUser(api, 'alice@example.com');
    browser = new CookieClient(api.url);
  });
  afterEach(() => api.dispose());

  const sessions = () => api.db.db.selectFrom('dashboard_sessions').selectAll().execute();

  async function signIn(client = browser, token = alice.token, headers?: Record<string, string>) {
    const form = await client.get('/', headers);
    return client.post('/login', { token, _csrf: csrfOf(form.text) }, headers);
  }

  test('without a session / is the sign-in form, with a strict CSP that allows no script at all', async () => {
    const page = await browser.get('/');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.text).toContain('<form method="post" action="/login">');
    const csp = page.headers.get('content-security-policy')!;
    expect(csp.split(';').map((d) => d.trim())).toEqual(
      expect.arrayContaining(["default-src 'none'", "style-src 'self'", "form-action 'self'", "frame-ancestors 'none'"]),
    );
    expect(csp).not.toMatch(/script-src|unsafe-inline|unsafe-eval/);
    expect(page.text).not.toMatch(/<script|style=/i);
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    // The stylesheet the policy allows is served from here.
    const css = await browser.get('/static/dashboard.css');
    expect({ status: css.status, type: css.headers.get('content-type') }).toEqual({ status: 200, type: 'text/css; charset=utf-8' });
  });

  test('signing in with a personal token sets an HttpOnly, SameSite=Strict, expiring session cookie, stored only as a hash', async () => {
    const answer = await signIn();
    expect(answer.status).toBe(303);
    expect(answer.headers.get('location')).toBe('/');
    const cookie = answer.setCookies.find((c) => c.startsWith('lunasentri_session='))!;
    expect(cookie).toMatch(/; HttpOnly/);
    expect(cookie).toMatch(/; SameSite=Strict/);
    expect(cookie).toMatch(/; Path=\//);
    expect(cookie).not.toMatch(/; Secure/); // plain HTTP here
    const expires = Date.parse(/Expires=([^;]+)/.exec(cookie)![1]!);
    expect(expires).toBe(Math.floor((api.clock.now().getTime() + SESSION_TTL_MS) / 1000) * 1000);
    const value = browser.jar.get('lunasentri_session')!;
    expect(value.length).toBeGreaterThanOrEqual(43);
    const rows = await sessions();
    expect(rows).toHaveLength(1);
    expect(JSON.stringify(rows)).not.toContain(value);
    expect((await browser.get('/')).text).toContain('<h1 id="machines">Machines</h1>');
  });

  test('behind a TLS proxy (X-Forwarded-Proto: https) the session and CSRF cookies are Secure', async () => {
    const https = { 'x-forwarded-proto': 'https' };
    const form = await browser.get('/', https);
    expect(form.setCookies.find((c) => c.startsWith('_csrf='))).toMatch(/; Secure/);
    const answer = await browser.post('/login', { token: alice.token, _csrf: csrfOf(form.text) }, https);
    expect(answer.setCookies.find((c) => c.startsWith('lunasentri_session='))).toMatch(/; Secure/);
  });

  test('a form without its CSRF token, or with a forged one, is refused with 403 and changes nothing', async () => {
    await browser.get('/');
    expect((await browser.post('/login', { token: alice.token })).status).toBe(403);
    expect((await browser.post('/login', { token: alice.token, _csrf: 'forged-token' })).status).toBe(403);
    // A token from another browser's cookie secret does not fit this one's.
    const other = new CookieClient(api.url);
    const otherToken = csrfOf((await other.get('/')).text);
    expect((await browser.post('/login', { token: alice.token, _csrf: otherToken })).status).toBe(403);
    // No secret cookie at all (a cross-site form post carries none under SameSite=Strict).
    expect((await new CookieClient(api.url).post('/login', { token: alice.token, _csrf: otherToken })).status).toBe(403);
    expect(await sessions()).toEqual([]);

    await signIn();
    const page = await browser.post('/logout', {});
    expect(page.status).toBe(403);
    expect(page.text).toContain('This form has expired');
    expect(await sessions()).toHaveLength(1);
    expect((await browser.get('/')).text).toContain('Sign out');
  });

  test('a wrong, revoked or machine credential does not sign in', async () => {
    const machine = await call(api.url, 'POST', '/agent/register', { auth: alice.token, json: { name: 'web-1' } });
    for (const token of ['lst_nope', machine.body.api_key as string, '']) {
      const answer = await signIn(new CookieClient(api.url), token);
      expect(answer.status).toBe(401);
      expect(answer.text).toMatch(/Unknown or revoked API token|Enter a personal API token/);
      expect(answer.setCookies.some((c) => c.startsWith('lunasentri_session='))).toBe(false);
    }
    expect(await sessions()).toEqual([]);
  });

  test('signing out ends the session on the server: the old cookie no longer works anywhere', async () => {
    await signIn();
    const stolen = browser.jar.get('lunasentri_session')!;
    const page = await browser.get('/');
    const answer = await browser.post('/logout', { _csrf: csrfOf(page.text) });
    expect(answer.status).toBe(303);
    expect(answer.setCookies.find((c) => c.startsWith('lunasentri_session='))).toMatch(/Expires=Thu, 01 Jan 1970/);
    expect(await sessions()).toEqual([]);
    const replay = new CookieClient(api.url);
    replay.jar.set('lunasentri_session', stolen);
    const after = await replay.get('/');
    expect(after.text).toContain('action="/login"');
    expect(after.text).not.toContain('Sign out');
  });

  test('a session expires with its cookie, and ends when its token is revoked', async () => {
    await signIn();
    api.clock.advance(SESSION_TTL_MS - 1_000);
    expect((await browser.get('/')).text).toContain('Sign out');
    api.clock.advance(1_000);
    expect((await browser.get('/')).text).toContain('action="/login"');

    await signIn();
    expect((await browser.get('/')).text).toContain('Sign out');
    await api.db.db.updateTable('api_tokens').set({ revoked_at: api.clock.now().toISOString() }).where('user_id', '=', alice.id).execute();
    expect((await browser.get('/')).text).toContain('action="/login"');
  });

  test('every user string is escaped: a machine named <script> shows as text', async () => {
    const evil = '<script>alert("x")</script>';
    await insertMachine(api.db.db, alice.id, { name: evil, hostname: '<img src=x onerror=alert(1)>', status: 'online', last_seen: api.clock.now().toISOString() });
    await insertWebhook(api.db.db, alice.id, 'https://hooks.example.com/"><script>x</script>');
    await signIn();
    const page = await browser.get('/');
    expect(page.text).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
    expect(page.text).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(page.text).not.toContain('<script');
    expect(page.text).not.toContain('<img');
  });

  test('shows machines with status, last seen (relative and UTC), uptime windows and 90 bars; events with deliveries; channels', async () => {
    const id = await insertMachine(api.db.db, alice.id, { name: 'db-1', status: 'offline', last_seen: '2026-11-28T02:57:45.000Z', status_changed_at: '2026-11-28T02:59:50.000Z' });
    await api.db.db.insertInto('outage_history').values({ machine_id: id, kind: 'outage', started_at: '2026-11-28T02:59:50.000Z', ended_at: null }).execute();
    const hook = await insertWebhook(api.db.db, alice.id, 'https://hooks.example.com/a');
    await api.db.db.updateTable('webhooks').set({ last_error: 'HTTP 503', last_error_at: '2026-11-28T02:59:59.000Z' }).where('id', '=', hook).execute();
    await api.db.db
      .insertInto('events')
      .values({ id: 'e1', type: 'machine.offline', machine_id: id, user_id: alice.id, occurred_at: '2026-11-28T02:59:50.000Z', payload: '{}', created_at: '2026-11-28T02:59:50.000Z' })
      .execute();
    await api.db.db
      .insertInto('deliveries')
      .values({ event_id: 'e1', machine_id: id, channel: 'webhook', target_id: hook, status: 'pending', attempts: 2, next_attempt_at: '2026-11-28T03:01:00.000Z', last_error: 'HTTP 503', created_at: '2026-11-28T02:59:50.000Z', updated_at: '2026-11-28T02:59:59.000Z' })
      .execute();
    await signIn();
    const page = (await browser.get('/')).text;
    expect(page).toContain('<span class="status s-offline">offline</span>');
    expect(page).toContain('Last seen 2m 15s ago (<time datetime="2026-11-28T02:57:45.000Z">2026-11-28 02:57:45 UTC</time>)');
    expect(page.match(/<li class="b-/g)).toHaveLength(90);
    expect(page).toContain('<dt>24 h</dt>');
    expect(page).toContain('machine.offline');
    expect(page).toContain('2 attempts');
    expect(page).toContain('HTTP 503');
    expect(page).toContain('https://hooks.example.com/a');
  });

  test('what the page keeps of a history between requests never goes stale: a change to a past day shows at the next request', async () => {
    const id = await insertMachine(api.db.db, alice.id, { name: 'db-1', status: 'online', last_seen: api.clock.now().toISOString() });
    await api.db.db.updateTable('machines').set({ created_at: '2026-11-01T00:00:00.000Z' }).execute();
    await signIn();
    const yesterday = (html: string) => /title="2026-11-27: ([^"]+)"/.exec(html)![1];
    expect(yesterday((await browser.get('/')).text)).toBe('100% up');
    // A maintenance occurrence written late, then an outage: each a new history.
    await api.db.db.insertInto('outage_history').values({ machine_id: id, kind: 'maintenance', started_at: '2026-11-27T00:00:00.000Z', ended_at: '2026-11-27T01:00:00.000Z' }).execute();
    expect(yesterday((await browser.get('/')).text)).toBe('100% up, 1h 0m in maintenance');
    await api.db.db.insertInto('outage_history').values({ machine_id: id, kind: 'outage', started_at: '2026-11-27T12:00:00.000Z', ended_at: '2026-11-27T13:09:00.000Z' }).execute();
    expect(yesterday((await browser.get('/')).text)).toBe('95.00% up, 1h 0m in maintenance');
  });

  test('lists machines 100 to a page, with links between pages; a bad page number is a clean 400', async () => {
    const rows = Array.from({ length: 101 }, (_, i) => ({ user_id: alice.id, name: `m-${String(i).padStart(3, '0')}`, created_at: '2026-11-01T00:00:00.000Z', updated_at: '2026-11-01T00:00:00.000Z' }));
    await api.db.db.insertInto('machines').values(rows).execute();
    await signIn();
    const first = (await browser.get('/')).text;
    expect(first.match(/<li class="card machine"/g)).toHaveLength(100);
    expect(first).toContain('Page 1 of 2 (101 machines)');
    expect(first).toContain('<a href="/?page=2" rel="next">');
    const second = (await browser.get('/?page=2')).text;
    expect(second.match(/<li class="card machine"/g)).toHaveLength(1);
    expect(second).toContain('<h2>m-100</h2>');
    expect(second).toContain('<a href="/" rel="prev">');
    for (const bad of ['0', 'x', '-1']) expect((await browser.get(`/?page=${bad}`)).status).toBe(400);
  });

  describe('snoozing from the dashboard', () => {
    let machineId: number;
    const machine = () => api.db.db.selectFrom('machines').selectAll().where('id', '=', machineId).executeTakeFirstOrThrow();

    beforeEach(async () => {
      machineId = await insertMachine(api.db.db, alice.id, { name: 'db-1', status: 'online', last_seen: api.clock.now().toISOString() });
      await signIn();
    });

    async function press(action: 'snooze' | 'unsnooze', form: Record<string, string> = {}, id = machineId) {
      const page = await browser.get('/');
      return browser.post(`/dashboard/machines/${id}/${action}`, { _csrf: csrfOf(page.text), ...form });
    }

    test('snoozes a machine for 1 h through the snooze repository, lists it, and unsnoozes it', async () => {
      const now = api.clock.now();
      const answer = await press('snooze', { snooze: '1h', page: '1' });
      expect(answer.status).toBe(303);
      expect(answer.headers.get('location')).toBe(`/#machine-${machineId}`);
      const until = new Date(now.getTime() + 3600_000).toISOString();
      // What the API's own route writes: the end, and the daemon's due time no later than it.
      expect(await machine()).toMatchObject({ snoozed_until: until, quiet_due_at: until });
      const page = (await browser.get('/')).text;
      expect(page).toContain('<span class="tag">snoozed</span> until 2026-11-28 04:00:00 UTC');
      expect(page).toMatch(/<strong>db-1<\/strong> · snoozed until 2026-11-28 04:00:00 UTC/);
      expect(page).toContain(`action="/dashboard/machines/${machineId}/unsnooze"`);

      api.clock.advance(60_000);
      expect((await press('unsnooze')).status).toBe(303);
      // Ended now: the daemon settles it (announcing only what changed) and clears it.
      expect((await machine()).snoozed_until).toBe(api.clock.now().toISOString());
      const after = (await browser.get('/')).text;
      expect(after).toContain('No machine is snoozed.');
      expect(after).toContain('Snooze 1 h');
      expect((await call(api.url, 'GET', `/machines/${machineId}`, { auth: alice.token })).body.snoozed_until).toBeNull();
    });

    test('snoozes until the machine is next online, and goes back to the page the form was on', async () => {
      const answer = await press('snooze', { snooze: 'next-online', page: '3' });
      expect(answer.headers.get('location')).toBe(`/?page=3#machine-${machineId}`);
      expect((await machine()).snoozed_until).toBe('next-online');
      expect((await browser.get('/')).text).toContain('snoozed</span> until it is next online');
    });

    test("another user's machine, a missing one or a bad choice is a clean error page and changes nothing", async () => {
      const bob = await newUser(api, 'bob@example.com');
      const bobs = await insertMachine(api.db.db, bob.id, { name: 'bob-1', status: 'online' });
      for (const [action, id] of [['snooze', bobs], ['unsnooze', bobs], ['snooze', 999_999], ['snooze', 0]] as const) {
        const answer = await press(action, { snooze: '1h' }, id);
        expect(answer.status).toBe(404);
        expect(answer.headers.get('content-type')).toBe('text/html; charset=utf-8');
        expect(answer.text).toContain('machine not found');
      }
      for (const choice of ['2h', '', '30d']) {
        const answer = await press('snooze', { snooze: choice });
        expect(answer.status).toBe(400);
        expect(answer.text).toContain('choose a snooze of 1 hour or until the machine is next online');
      }
      const rows = await api.db.db.selectFrom('machines').select(['snoozed_until', 'quiet_due_at']).execute();
      expect(rows).toEqual([{ snoozed_until: null, quiet_due_at: null }, { snoozed_until: null, quiet_due_at: null }]);
    });

    test('without its CSRF token, or signed out, a snooze form changes nothing', async () => {
      expect((await browser.post(`/dashboard/machines/${machineId}/snooze`, { snooze: '1h' })).status).toBe(403);
      const page = await browser.get('/');
      await browser.post('/logout', { _csrf: csrfOf(page.text) });
      const form = await browser.get('/');
      const answer = await browser.post(`/dashboard/machines/${machineId}/snooze`, { snooze: '1h', _csrf: csrfOf(form.text) });
      expect(answer.status).toBe(303);
      expect(answer.headers.get('location')).toBe('/');
      expect((await machine()).snoozed_until).toBeNull();
    });
  });

  test('lists maintenance windows with active, next start and next end, and suppressed events as held back', async () => {
    const id = await insertMachine(api.db.db, alice.id, { name: 'db-1', status: 'offline' });
    const now = api.clock.now().getTime();
    const at = (ms: number) => new Date(now + ms).toISOString();
    for (const json of [
      { name: 'Database upgrade', machine_ids: [id], starts_at: at(-60_000), ends_at: at(3600_000) },
      { name: 'Nightly <backups>', recurrence: { start: '23:00', duration: '1h', timezone: 'UTC' } },
    ]) {
      expect((await call(api.url, 'POST', '/maintenance', { auth: alice.token, json })).status).toBe(201);
    }
    await api.db.db
      .insertInto('events')
      .values({ id: 'e1', type: 'machine.offline', machine_id: id, user_id: alice.id, occurred_at: at(-30_000), payload: '{}', created_at: at(-30_000), suppressed: 'maintenance' })
      .execute();
    await signIn();
    const page = (await browser.get('/')).text;
    expect(page).toContain('<strong>Database upgrade</strong>');
    expect(page).toContain('<span class="tag s-maintenance">active now</span>');
    expect(page).toContain('one-off · 1 machine');
    expect(page).toContain('Next start: — · next end: 2026-11-28 04:00:00 UTC');
    expect(page).toContain('<strong>Nightly &lt;backups&gt;</strong>');
    expect(page).toContain('recurring · all machines');
    expect(page).toContain('Next start: 2026-11-28 23:00:00 UTC · next end: 2026-11-29 00:00:00 UTC');
    expect(page).toContain('<span class="tag">suppressed: maintenance</span>');
    expect(page).toContain('Not sent: held back by maintenance.');
  });

  test('the JSON API still refuses form bodies', async () => {
    const answer = await call(api.url, 'POST', '/agent/register', {
      auth: alice.token,
      raw: 'name=web-1',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expectError(answer, 415, 'request.unsupported_media_type');
  });
});

describeEachEngine('the cost of a dashboard or status page', (engine) => {
  test('the same number of queries per request whatever the number of machines, their history and their events (no query per machine)', async () => {
    const counted = countQueries(await createTestDb(engine));
    const api = await startTestApi({ db: counted.handle });
    try {
      const alice = await newUser(api, 'alice@example.com');
      const published = await call(api.url, 'PUT', '/status-page', { auth: alice.token, json: { enabled: true, title: 'Acme' } });
      const browser = new CookieClient(api.url);
      const form = await browser.get('/');
      await browser.post('/login', { token: alice.token, _csrf: csrfOf(form.text) });
      const costs = async () => {
        const paths = ['/', `${published.body.path as string}`];
        const result: number[] = [];
        for (const path of paths) {
          counted.reset();
          expect((await browser.get(path)).status).toBe(200);
          result.push(counted.count());
        }
        return result;
      };
      const addMachines = async (count: number) => {
        const now = api.clock.now().getTime();
        for (let i = 0; i < count; i++) {
          const id = await insertMachine(api.db.db, alice.id, { name: `m-${i}`, status: i % 2 ? 'online' : 'offline', last_seen: new Date(now - 60_000).toISOString() });
          await api.db.db.insertInto('outage_history').values({ machine_id: id, kind: 'outage', started_at: new Date(now - (i + 1) * 3600_000).toISOString(), ended_at: null }).execute();
          await api.db.db.insertInto('events').values({ id: `e-${id}`, type: 'machine.offline', machine_id: id, user_id: alice.id, occurred_at: new Date(now - i * 1000).toISOString(), payload: '{}', created_at: new Date(now).toISOString() }).execute();
        }
      };
      await addMachines(1);
      const one = await costs();
      await addMachines(149);
      const first = await api.db.db.selectFrom('machines').select('id').orderBy('id').executeTakeFirstOrThrow();
      expect((await call(api.url, 'POST', `/machines/${first.id}/snooze`, { auth: alice.token, json: { for: '1h' } })).status).toBe(200);
      const many = await costs();
      expect(many).toEqual(one);
      expect(one[0]).toBeLessThanOrEqual(16);
      expect(one[1]).toBeLessThanOrEqual(6);
    } finally {
      await api.dispose();
      await counted.handle.dispose();
    }
  });
});
