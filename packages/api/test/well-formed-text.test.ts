import { PassThrough } from 'node:stream';
import { migrateToLatest, openDatabase } from '@lunasentri/shared';
import { TestClock } from '../../../test/support/test-clock';
import { emptyDatabase } from '../../../test/support/db';
import { describeEachEngine } from '../../../test/support/engines';
import { runAdminCommand } from '../src/cli/admin.commands';
import { runCli } from '../src/cli/cli.program';
import { AGENT_STEADY_REPORT, call, expectError, newMachine, newUser, startTestApi, type TestApi } from './support/harness';

/** JSON.stringify writes a lone surrogate as the escape `\ud800`, exactly what a client would send. */
const LONE = 'x\ud800y';
const PUBLIC_URL = 'https://93.184.215.14/hooks/lunasentri';

describeEachEngine('text with a lone UTF-16 surrogate', (engine) => {
  let api: TestApi;
  let user: { id: number; token: string };

  beforeEach(async () => {
    api = await startTestApi({ engine });
    user = await newUser(api, 'owner@example.com');
  });
  afterEach(() => api.dispose());

  const send = (method: string, path: string, json: unknown) => call(api.url, method, path, { auth: user.token, json });
  const count = async (table: 'machines' | 'webhooks' | 'telegram_recipients' | 'notification_preferences' | 'machine_metrics') =>
    Number((await api.db.db.selectFrom(table).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);

  it('is refused by POST /agent/register with a 400 naming the field, and creates nothing', async () => {
    for (const [body, field] of [
      [{ name: LONE }, 'body.name'],
      [{ name: 'web', hostname: 'h\udc00' }, 'body.hostname'],
      [{ name: 'web', description: 'ends in \ud83d' }, 'body.description'],
    ] as const) {
      const result = await send('POST', '/agent/register', body);
      expectError(result, 400, 'machine.invalid_payload');
      expect(result.body.error).toBe(`${field} must not contain an unpaired UTF-16 surrogate`);
    }
    const key = await send('POST', '/agent/register', { name: 'web', [LONE]: 1 });
    expectError(key, 400, 'machine.invalid_payload');
    expect(key.body.error).toBe('body has a field name with an unpaired UTF-16 surrogate');
    expect(await count('machines')).toBe(0);
  });

  it('answers a 64 KiB body of nested arrays around one with a clean 400, not a 500', async () => {
    const depth = 30_000;
    const raw = `{"name":${'['.repeat(depth)}"\\ud800"${']'.repeat(depth)}}`;
    const result = await call(api.url, 'POST', '/agent/register', { auth: user.token, raw, headers: { 'content-type': 'application/json' } });
    expectError(result, 400, 'machine.invalid_payload');
    expect(result.body.error).toBe(`body.name${'.0'.repeat(15)}.… must not contain an unpaired UTF-16 surrogate`);
    expect(await count('machines')).toBe(0);
  });

  it('accepts surrogate pairs, escaped or not, and stores them intact', async () => {
    const raw = '{"name":"rocket \\ud83d\\ude80","description":"plain 🚀"}';
    const result = await call(api.url, 'POST', '/agent/register', { auth: user.token, raw, headers: { 'content-type': 'application/json' } });
    expect(result.status).toBe(201);
    const row = await api.db.db.selectFrom('machines').select(['name', 'description']).executeTakeFirstOrThrow();
    expect(row).toEqual({ name: 'rocket 🚀', description: 'plain 🚀' });
    // An escaped backslash followed by "ud800" is plain ASCII, not a surrogate.
    const literal = await call(api.url, 'POST', '/agent/register', { auth: user.token, raw: '{"name":"a\\\\ud800"}', headers: { 'content-type': 'application/json' } });
    expect(literal.status).toBe(201);
    expect(literal.body.name).toBe('a\\ud800');
  });

  it('is refused by PATCH /machines/:id, which changes nothing', async () => {
    const machine = await newMachine(api, user.id, 'web-1');
    for (const json of [{ name: LONE }, { hostname: LONE }, { description: LONE }]) {
      const result = await send('PATCH', `/machines/${machine.id}`, json);
      expectError(result, 400, 'machine.invalid_payload');
      expect(result.body.error).toMatch(/^body\.(name|hostname|description) must not contain an unpaired UTF-16 surrogate$/);
    }
    const row = await api.db.db.selectFrom('machines').select(['name', 'hostname', 'description']).executeTakeFirstOrThrow();
    expect(row).toEqual({ name: 'web-1', hostname: null, description: null });
  });

  it('is refused in webhook URLs and secrets, on create and on PUT', async () => {
    for (const json of [{ url: `${PUBLIC_URL}?q=${LONE}` }, { url: PUBLIC_URL, secret: `long-enough-secret-${LONE}` }]) {
      expectError(await send('POST', '/notifications/webhooks', json), 400, 'webhook.invalid_payload');
    }
    expect(await count('webhooks')).toBe(0);
    const created = await send('POST', '/notifications/webhooks', { url: PUBLIC_URL, secret: 'long-enough-secret-0123' });
    expect(created.status).toBe(201);
    for (const json of [{ url: `${PUBLIC_URL}/${LONE}` }, { secret: `long-enough-secret-${LONE}` }]) {
      const result = await send('PUT', `/notifications/webhooks/${created.body.id}`, json);
      expectError(result, 400, 'webhook.invalid_payload');
      expect(result.body.error).toMatch(/^body\.(url|secret) must not contain an unpaired UTF-16 surrogate$/);
    }
    const rows = await api.db.db.selectFrom('webhooks').select(['url', 'secret']).execute();
    expect(rows).toEqual([{ url: PUBLIC_URL, secret: 'long-enough-secret-0123' }]);
  });

  it('is refused by the Telegram and preference routes, which take no free text at all', async () => {
    // Checked before the schema, so the answer says what is wrong with the text, not "unknown field".
    const created = await send('POST', '/notifications/telegram', { chat_id: 42, [LONE]: true });
    expectError(created, 400, 'telegram.invalid_payload');
    expect(created.body.error).toBe('body has a field name with an unpaired UTF-16 surrogate');
    const recipient = await send('POST', '/notifications/telegram', { chat_id: 42 });
    const updated = await send('PUT', `/notifications/telegram/${recipient.body.id}`, { chat_id: 43, note: [LONE] });
    expectError(updated, 400, 'telegram.invalid_payload');
    expect(updated.body.error).toBe('body.note.0 must not contain an unpaired UTF-16 surrogate');
    const preferences = await send('PUT', '/notifications/preferences', { machine_offline: false, [LONE]: true });
    expectError(preferences, 400, 'preferences.invalid_payload');
    expect(preferences.body.error).toBe('body has a field name with an unpaired UTF-16 surrogate');
    expect((await api.db.db.selectFrom('telegram_recipients').select('chat_id').execute()).map((r) => r.chat_id)).toEqual([42]);
    expect(await count('notification_preferences')).toBe(0);
  });

  it('is refused in the system_info an agent reports: no facts and no sample stored, last_seen still recorded', async () => {
    const machine = await newMachine(api, user.id);
    const result = await call(api.url, 'POST', '/agent/metrics', { auth: machine.key, json: { ...AGENT_STEADY_REPORT, system_info: { hostname: LONE, platform: 'debian' } } });
    expectError(result, 400, 'ingest.invalid_payload');
    expect(result.body.error).toBe('body.system_info.hostname must not contain an unpaired UTF-16 surrogate');
    await api.service.ctx.ingest.flush(true);
    const row = await api.db.db.selectFrom('machines').select(['reported_hostname', 'platform', 'last_seen']).executeTakeFirstOrThrow();
    expect(row).toEqual({ reported_hostname: null, platform: null, last_seen: api.clock.now().toISOString() });
    expect(await count('machine_metrics')).toBe(0);
  });
});

describeEachEngine('admin commands given text with a lone UTF-16 surrogate', (engine) => {
  let fresh: { location: string; drop: () => Promise<void> };
  let dbPath: string;
  beforeEach(async () => {
    fresh = await emptyDatabase(engine);
    dbPath = fresh.location;
  });
  afterEach(() => fresh.drop());

  /**
   * In process: a real command line cannot carry a lone surrogate (Node turns invalid argv bytes into
   * U+FFFD), but runCli takes any strings. The admin handler is the binary's: migrate, then run.
   */
  async function run(args: string[]) {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    const out: string[] = [];
    const err: string[] = [];
    stdout.on('data', (c: Buffer) => out.push(c.toString()));
    stderr.on('data', (c: Buffer) => err.push(c.toString()));
    const status = await runCli(['node', 'lunasentri-api', ...args, '--db', dbPath], { stdout, stderr, env: {} }, {
      serve: () => Promise.reject(new Error('not under test')),
      admin: async (settings, command) => {
        const handle = openDatabase(settings.db);
        try {
          await migrateToLatest(handle.db);
          await runAdminCommand(handle.db, new TestClock(), command, { stdout, stderr, database: handle.path });
          return 0;
        } finally {
          await handle.close();
        }
      },
    });
    return { status, stdout: out.join(''), stderr: err.join('') };
  }

  async function rows() {
    const handle = openDatabase(dbPath);
    try {
      await migrateToLatest(handle.db);
      const [users, tokens, machines] = await Promise.all([
        handle.db.selectFrom('users').select('email').execute(),
        handle.db.selectFrom('api_tokens').select('id').execute(),
        handle.db.selectFrom('machines').select('name').execute(),
      ]);
      return { users: users.map((u) => u.email), tokens: tokens.length, machines: machines.map((m) => m.name) };
    } finally {
      await handle.close();
    }
  }

  it('exits 2 with one stderr line naming the option, and stores nothing', async () => {
    expect(await run(['user', 'create', '--email', 'owner@example.com'])).toMatchObject({ status: 0 });
    const cases: Array<[string[], string]> = [
      [['user', 'create', '--email', `${LONE}@example.com`], 'email'],
      [['token', 'create', '--email', `${LONE}@example.com`], 'email'],
      [['token', 'list', '--email', `${LONE}@example.com`], 'email'],
      [['token', 'revoke', '--email', `${LONE}@example.com`, '--id', '1'], 'email'],
      [['machine', 'create', '--email', 'owner@example.com', '--name', LONE], 'name'],
      [['machine', 'create', '--email', 'owner@example.com', '--name', 'web', '--hostname', LONE], 'hostname'],
      [['machine', 'create', '--email', 'owner@example.com', '--name', 'web', '--description', LONE], 'description'],
    ];
    for (const [args, flag] of cases) {
      const result = await run(args);
      expect(result.status).toBe(2);
      expect(result.stdout).toBe('');
      expect(result.stderr).toBe(`lunasentri-api: invalid value for --${flag}: ${JSON.stringify(flag === 'email' ? `${LONE}@example.com` : LONE)} (contains an unpaired UTF-16 surrogate)\n`);
    }
    expect(await rows()).toEqual({ users: ['owner@example.com'], tokens: 1, machines: [] });
  });
});
