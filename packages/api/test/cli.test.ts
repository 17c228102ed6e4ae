import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { openDatabase } from '@lunasentri/shared';
import { emptyDatabase, tempDir } from '../../../test/support/db';
import { describeEachEngine, testOn } from '../../../test/support/engines';
import { AGENT_FIRST_REPORT, call } from './support/harness';

/** The real built binary (run `tsc -b` first), as operators and systemd run it. */
const BIN = resolve(__dirname, '..', '..', '..', 'node_modules', '.bin', 'lunasentri-api');

/** Runs the binary to its end with only `extra` (and PATH, HOME) in its environment. */
function runBin(args: string[], extra: Record<string, string>, cwd?: string) {
  const result = spawnSync(BIN, args, { env: { PATH: process.env.PATH, HOME: process.env.HOME, ...extra }, encoding: 'utf8', timeout: 30_000, cwd });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}
const stderrLines = (text: string) => text.split('\n').filter((l) => l !== '');

describeEachEngine('lunasentri-api commands on a database', (engine) => {
  let dir: { dir: string; cleanup: () => void };
  let fresh: { location: string; drop: () => Promise<void> };
  let dbPath: string;
  const children: ChildProcess[] = [];

  beforeEach(async () => {
    dir = tempDir('lunasentri-api-cli-');
    fresh = await emptyDatabase(engine);
    dbPath = fresh.location;
  });

  afterEach(async () => {
    for (const child of children.splice(0)) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await new Promise((r) => child.once('exit', r));
      }
    }
    await fresh.drop();
    dir.cleanup();
  });

  /** The database setting as an operator gives it: `DB_PATH` for a SQLite file, `DATABASE_URL` for PostgreSQL. */
  const env = (extra: Record<string, string> = {}): Record<string, string> => ({
    // PATH picks the same node the test runs on (the bin shim finds `node` through it).
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    ...(engine === 'sqlite' ? { DB_PATH: dbPath } : { DATABASE_URL: dbPath }),
    ...extra,
  });
  const run = (args: string[], extra: Record<string, string> = {}, cwd?: string) => runBin(args, env(extra), cwd);
  /** The admin commands work on a database `migrate` (or `serve`) created. */
  const migrated = () => expect(run(['migrate'])).toMatchObject({ status: 0 });

  it('migrate applies every migration once, then reports the database up to date, naming it', () => {
    const first = run(['migrate']);
    expect(first.status).toBe(0);
    expect(first.stdout).toMatch(new RegExp(`^Applied \\d+ migration\\(s\\) to ${dbPath.replace(/[.?*+^$[\]\\(){}|-]/g, '\\$&')}: 001_users, .*014_machine_offline_notifications`));
    expect(run(['migrate'])).toMatchObject({ status: 0, stdout: `Database ${dbPath} is up to date.\n` });
  });

  testOn('sqlite', engine)('migrate creates a missing SQLite file (and its folder), naming its absolute path', () => {
    const fresh = join(dir.dir, 'new', 'fresh.db');
    const first = run(['migrate', '--db', join('new', 'fresh.db')], {}, dir.dir);
    expect(first.status).toBe(0);
    expect(first.stdout).toMatch(new RegExp(`^Applied \\d+ migration\\(s\\) to ${fresh}: 001_users, .*014_machine_offline_notifications`));
    const again = run(['migrate', '--db', fresh]);
    expect(again).toMatchObject({ status: 0, stdout: `Database ${fresh} is up to date.\n` });
  });

  testOn('sqlite', engine).each([
    [['user', 'create', '--email', 'owner@example.com']],
    [['token', 'create', '--email', 'owner@example.com']],
    [['token', 'list', '--email', 'owner@example.com']],
    [['token', 'revoke', '--email', 'owner@example.com', '--id', '1']],
    [['machine', 'create', '--email', 'owner@example.com', '--name', 'web-1']],
  ])('%j on a missing database creates nothing: one line saying how to create it, exit 1', (args) => {
    const typo = join(dir.dir, 'typo', 'lunasentri.db');
    const result = run([...args, '--db', typo]);
    expect(result.status).toBe(1);
    expect(result.stdout).toBe('');
    expect(stderrLines(result.stderr)).toEqual([`lunasentri-api: no database at ${typo}; run lunasentri-api migrate --db ${typo} first`]);
    expect(existsSync(join(dir.dir, 'typo'))).toBe(false);
    // A relative path is named absolutely, from where the command ran.
    const relative = run([...args, '--db', 'elsewhere.db'], {}, dir.dir);
    expect(stderrLines(relative.stderr)).toEqual([`lunasentri-api: no database at ${join(dir.dir, 'elsewhere.db')}; run lunasentri-api migrate --db ${join(dir.dir, 'elsewhere.db')} first`]);
    expect(existsSync(join(dir.dir, 'elsewhere.db'))).toBe(false);
  });

  testOn('sqlite', engine)('a database that cannot be opened is named in the one line', () => {
    const result = run(['serve', '--db', dir.dir, '--port', '0']);
    expect(result.status).toBe(1);
    expect(stderrLines(result.stderr).filter((l) => !l.includes('Using database'))).toEqual([expect.stringMatching(new RegExp(`^lunasentri-api: cannot open database ${dir.dir}: `))]);
  });

  it('user create prints the token once on stdout, stores only its hash, and refuses a second user with that email', async () => {
    migrated();
    const created = run(['user', 'create', '--email', 'owner@example.com', '--admin']);
    expect(created.status).toBe(0);
    expect(created.stdout).toMatch(/^lst_[A-Za-z0-9_-]{43}\n$/);
    expect(created.stderr).toContain('owner@example.com');
    const token = created.stdout.trim();

    const again = run(['user', 'create', '--email', 'owner@example.com']);
    expect(again.status).toBe(1);
    expect(stderrLines(again.stderr)).toEqual(['lunasentri-api: a user with email owner@example.com already exists']);

    const handle = openDatabase(dbPath);
    try {
      const users = await handle.db.selectFrom('users').select(['email', 'is_admin']).execute();
      expect(users).toEqual([{ email: 'owner@example.com', is_admin: 1 }]);
      const tokens = await handle.db.selectFrom('api_tokens').select('token_hash').execute();
      expect(tokens).toHaveLength(1);
      expect(JSON.stringify(tokens)).not.toContain(token);
    } finally {
      await handle.close();
    }
  });

  it('emails are trimmed and lowercased on create and on every lookup', async () => {
    migrated();
    expect(run(['user', 'create', '--email', 'alice@example.com']).status).toBe(0);
    const again = run(['user', 'create', '--email', ' Alice@Example.COM ']);
    expect(again.status).toBe(1);
    expect(stderrLines(again.stderr)).toEqual(['lunasentri-api: a user with email alice@example.com already exists']);

    const token = run(['token', 'create', '--email', 'ALICE@example.com', '--json']);
    expect(token.status).toBe(0);
    expect(JSON.parse(token.stdout)).toMatchObject({ user: { email: 'alice@example.com' }, token: expect.stringMatching(/^lst_/) });
    expect(run(['machine', 'create', '--email', 'Alice@Example.com', '--name', 'web']).status).toBe(0);

    const mixed = run(['user', 'create', '--email', 'Bob@Example.com', '--json']);
    expect(mixed.status).toBe(0);
    expect(JSON.parse(mixed.stdout).user.email).toBe('bob@example.com');
    expect(run(['token', 'create', '--email', 'bob@example.com']).status).toBe(0);

    // A row written before emails were normalised is still found, and still blocks a duplicate.
    const handle = openDatabase(dbPath);
    try {
      await handle.db.insertInto('users').values({ email: 'Carol@Example.com', is_admin: 0, created_at: new Date().toISOString() }).execute();
    } finally {
      await handle.close();
    }
    expect(run(['token', 'create', '--email', 'carol@example.com']).status).toBe(0);
    expect(run(['user', 'create', '--email', 'carol@example.com']).status).toBe(1);

    const check = openDatabase(dbPath);
    try {
      const emails = (await check.db.selectFrom('users').select('email').orderBy('id').execute()).map((u) => u.email);
      expect(emails).toEqual(['alice@example.com', 'bob@example.com', 'Carol@Example.com']);
    } finally {
      await check.close();
    }
  });

  it('token create and machine create print a new token and an agent key; --json prints an object', () => {
    migrated();
    expect(run(['user', 'create', '--email', 'owner@example.com']).status).toBe(0);
    const token = run(['token', 'create', '--email', 'owner@example.com']);
    expect(token).toMatchObject({ status: 0, stdout: expect.stringMatching(/^lst_[A-Za-z0-9_-]{43}\n$/) });
    const machine = run(['machine', 'create', '--email', 'owner@example.com', '--name', 'production-server', '--hostname', 'prod-01', '--description', 'Main API server', '--json']);
    expect(machine.status).toBe(0);
    const parsed = JSON.parse(machine.stdout);
    expect(parsed).toMatchObject({ machine: { name: 'production-server', hostname: 'prod-01', status: 'pending' }, api_key: expect.stringMatching(/^lsk_/) });
  });

  it('machine create refuses control characters in name, hostname and description: exit 2, one line', () => {
    migrated();
    expect(run(['user', 'create', '--email', 'ops@example.com']).status).toBe(0);
    for (const args of [
      ['--name', 'web\nforged line'],
      ['--name', 'web', '--hostname', 'h\u001b[31m'],
      ['--name', 'web', '--description', 'a\rb'],
    ]) {
      const result = run(['machine', 'create', '--email', 'ops@example.com', ...args]);
      expect(result.status).toBe(2);
      expect(stderrLines(result.stderr)).toEqual([expect.stringMatching(/^lunasentri-api: invalid value for --(name|hostname|description): must not contain control characters$/)]);
    }
    expect(run(['machine', 'create', '--email', 'ops@example.com', '--name', 'web', '--description', 'a\tb']).status).toBe(0);
  });

  it('machine create for an unknown user exits 1 with one line', () => {
    migrated();
    const result = run(['machine', 'create', '--email', 'nobody@example.com', '--name', 'x']);
    expect(result.status).toBe(1);
    expect(stderrLines(result.stderr)).toEqual(['lunasentri-api: no user with email nobody@example.com']);
  });

  it('machine snooze and unsnooze, by name or id, as the API does them; bad values exit 2 and store nothing', async () => {
    migrated();
    expect(run(['user', 'create', '--email', 'ops@example.com']).status).toBe(0);
    expect(run(['machine', 'create', '--email', 'ops@example.com', '--name', 'web-1']).status).toBe(0);
    const snoozedUntil = async () => {
      const handle = openDatabase(dbPath);
      try {
        return (await handle.db.selectFrom('machines').select('snoozed_until').executeTakeFirstOrThrow()).snoozed_until;
      } finally {
        await handle.close();
      }
    };
    for (const [args, message] of [
      [['--name', 'web-1'], /give exactly one of --for and --until/],
      [['--name', 'web-1', '--for', '1h', '--until', 'next-online'], /give exactly one of --for and --until/],
      [['--for', '1h'], /give exactly one of --name and --id/],
      [['--name', 'web-1', '--id', '1', '--for', '1h'], /give exactly one of --name and --id/],
      [['--name', 'web-1', '--for', '2x'], /invalid value for --for: for must be a positive Go duration/],
      [['--name', 'web-1', '--for', '31d'], /invalid value for --for/],
      [['--name', 'web-1', '--until', 'tomorrow'], /invalid value for --until/],
      [['--id', 'one', '--for', '1h'], /invalid value for --id/],
    ] as const) {
      const result = run(['machine', 'snooze', '--email', 'ops@example.com', ...args]);
      expect(result.status).toBe(2);
      expect(stderrLines(result.stderr)).toEqual([expect.stringMatching(message)]);
    }
    expect(await snoozedUntil()).toBeNull();
    const missing = run(['machine', 'snooze', '--email', 'ops@example.com', '--name', 'web-2', '--for', '1h']);
    expect(missing.status).toBe(1);
    expect(stderrLines(missing.stderr)).toEqual(['lunasentri-api: ops@example.com has no machine named "web-2"']);

    const snoozed = run(['machine', 'snooze', '--email', 'ops@example.com', '--name', 'web-1', '--until', 'next-online']);
    expect(snoozed).toMatchObject({ status: 0, stdout: '' });
    expect(snoozed.stderr).toBe('Machine 1 (web-1) is snoozed until next-online.\n');
    expect(await snoozedUntil()).toBe('next-online');
    const json = run(['machine', 'snooze', '--email', 'ops@example.com', '--id', '1', '--for', '1h', '--json']);
    expect(Date.parse(JSON.parse(json.stdout).machine.snoozed_until) - Date.now()).toBeGreaterThan(3_500_000);
    const unsnoozed = run(['machine', 'unsnooze', '--email', 'ops@example.com', '--id', '1']);
    expect(unsnoozed).toMatchObject({ status: 0, stderr: 'Machine 1 (web-1) is not snoozed.\n' });
  });

  it('serve migrates, logs its address, takes reports, and on SIGTERM writes them, records its stop and exits 0', async () => {
    migrated();
    expect(run(['user', 'create', '--email', 'owner@example.com']).status).toBe(0);
    const key = run(['machine', 'create', '--email', 'owner@example.com', '--name', 'web-1']).stdout.trim();

    const child = spawn(BIN, ['serve', '--port', '0', '--host', '127.0.0.1'], {
      // A long flush interval: only the graceful stop can write the report.
      env: env({ INGEST_FLUSH_INTERVAL: '1h', LOG_FORMAT: 'json' }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let logs = '';
    child.stderr!.on('data', (chunk: Buffer) => (logs += chunk.toString('utf8')));
    const url = await new Promise<string>((resolveUrl, reject) => {
      const timer = setTimeout(() => reject(new Error(`no listening line within 20 s:\n${logs}`)), 20_000);
      const check = () => {
        const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(logs);
        if (match) {
          clearTimeout(timer);
          resolveUrl(match[1]);
        }
      };
      child.stderr!.on('data', check);
      child.once('exit', (code) => reject(new Error(`serve exited with ${code}:\n${logs}`)));
    });

    expect((await call(url, 'GET', '/health')).body).toMatchObject({ status: 'ok', db: 'ok' });
    expect((await call(url, 'POST', '/agent/metrics', { auth: key, json: AGENT_FIRST_REPORT })).status).toBe(202);

    const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    expect(await exit).toBe(0);

    for (const line of logs.split('\n').filter((l) => l !== '')) expect(() => JSON.parse(line)).not.toThrow();
    expect(logs).toContain('LunaSentri API stopped');
    expect(logs).not.toContain(key);
    expect(logs.split('\n').filter((l) => l !== '').map((l) => (JSON.parse(l) as { message: string }).message)[0]).toBe(`Using database ${dbPath}`);

    const handle = openDatabase(dbPath);
    try {
      const machine = await handle.db.selectFrom('machines').select(['last_seen', 'status', 'platform']).executeTakeFirstOrThrow();
      expect(machine).toMatchObject({ last_seen: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/), status: 'pending', platform: 'debian' });
      const liveness = await handle.db.selectFrom('service_liveness').selectAll().where('kind', '=', 'api').execute();
      expect(liveness).toHaveLength(1);
      expect(liveness[0].stopped_at).not.toBeNull();
    } finally {
      await handle.close();
    }
  });

  const startServe = async () => {
    const child = spawn(BIN, ['serve', '--port', '0', '--host', '127.0.0.1'], { env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let logs = '';
    child.stderr!.on('data', (chunk: Buffer) => (logs += chunk.toString('utf8')));
    return new Promise<string>((resolveUrl, reject) => {
      const timer = setTimeout(() => reject(new Error(`no listening line within 20 s:\n${logs}`)), 20_000);
      child.stderr!.on('data', () => {
        const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(logs);
        if (match) {
          clearTimeout(timer);
          resolveUrl(match[1]);
        }
      });
      child.once('exit', (code) => reject(new Error(`serve exited with ${code}:\n${logs}`)));
    });
  };

  it('token list shows ids and dates but never a token; token revoke refuses the token on its next request to a running API', async () => {
    migrated();
    const first = run(['user', 'create', '--email', 'owner@example.com']).stdout.trim();
    const second = run(['token', 'create', '--email', 'owner@example.com']).stdout.trim();
    expect(run(['user', 'create', '--email', 'other@example.com']).status).toBe(0);

    const listed = run(['token', 'list', '--email', 'Owner@Example.com', '--json']);
    expect(listed.status).toBe(0);
    const parsed = JSON.parse(listed.stdout);
    expect(parsed.user).toMatchObject({ email: 'owner@example.com' });
    expect(parsed.tokens).toEqual([
      { id: expect.any(Number), name: 'created with the user', created_at: expect.any(String), last_used_at: null, revoked_at: null },
      { id: expect.any(Number), name: 'created with the CLI', created_at: expect.any(String), last_used_at: null, revoked_at: null },
    ]);
    const secondId = parsed.tokens[1].id as number;
    const table = run(['token', 'list', '--email', 'owner@example.com']);
    expect(table.status).toBe(0);
    expect(table.stdout.split('\n')[0]).toBe('id\tname\tcreated_at\tlast_used_at\trevoked_at');
    expect(table.stdout).toContain(`${secondId}\tcreated with the CLI\t`);
    const handle = openDatabase(dbPath);
    let hashes: string[];
    try {
      hashes = (await handle.db.selectFrom('api_tokens').select('token_hash').execute()).map((r) => r.token_hash);
    } finally {
      await handle.close();
    }
    for (const text of [listed.stdout, listed.stderr, table.stdout, table.stderr]) {
      for (const secret of [first, second, ...hashes]) expect(text).not.toContain(secret);
    }

    const url = await startServe();
    expect((await call(url, 'GET', '/machines', { auth: second })).status).toBe(200);
    expect((await call(url, 'GET', '/machines', { auth: first })).status).toBe(200);

    // Another user's token id is not found; so is an unknown id.
    const otherUser = run(['token', 'revoke', '--email', 'other@example.com', '--id', String(secondId)]);
    expect(otherUser.status).toBe(1);
    expect(stderrLines(otherUser.stderr)).toEqual([`lunasentri-api: no API token ${secondId} for other@example.com`]);
    expect(run(['token', 'revoke', '--email', 'owner@example.com', '--id', '999']).status).toBe(1);
    expect(run(['token', 'revoke', '--email', 'nobody@example.com', '--id', '1']).status).toBe(1);
    expect((await call(url, 'GET', '/machines', { auth: second })).status).toBe(200);

    const revoked = run(['token', 'revoke', '--email', 'owner@example.com', '--id', String(secondId), '--json']);
    expect(revoked.status).toBe(0);
    expect(JSON.parse(revoked.stdout)).toMatchObject({ token: { id: secondId, revoked_at: expect.any(String) }, already_revoked: false });
    const refused = await call(url, 'GET', '/machines', { auth: second });
    expect(refused.status).toBe(401);
    expect(refused.body).toMatchObject({ code: 'auth.invalid_token' });
    expect((await call(url, 'GET', '/machines', { auth: first })).status).toBe(200);

    const again = run(['token', 'revoke', '--email', 'owner@example.com', '--id', String(secondId)]);
    expect(again.status).toBe(0);
    expect(again.stderr).toContain('already revoked');
    const after = JSON.parse(run(['token', 'list', '--email', 'owner@example.com', '--json']).stdout);
    expect(after.tokens[1].revoked_at).toBe(JSON.parse(revoked.stdout).token.revoked_at);
    expect(after.tokens[0]).toMatchObject({ revoked_at: null, last_used_at: expect.any(String) });
  });

});

describe('lunasentri-api command line', () => {
  const run = (args: string[], extra: Record<string, string> = {}) => runBin(args, extra);

  it.each([
    [['user', 'create', '--email', 'not-an-email'], /invalid value for --email: "not-an-email"/],
    [['user', 'create'], /required option '--email/],
    [['machine', 'create', '--email', 'owner@example.com'], /required option '--name/],
    [['machine', 'create', '--email', 'owner@example.com', '--name', '  '], /invalid value for --name/],
    [['serve', '--port', 'abc'], /invalid value for --port: "abc"/],
    [['serve', '--port', '70000'], /invalid value for --port: "70000"/],
    [['serve', '--log-level', 'loud'], /invalid value for --log-level: "loud"/],
    [['serve', '--bogus'], /unknown option '--bogus'/],
    [['frobnicate'], /^lunasentri-api: unknown command 'frobnicate'$/],
    [['mirgate'], /^lunasentri-api: unknown command 'mirgate' \(Did you mean migrate\?\)$/],
    [['--db', 'x.db', 'mirgate'], /^lunasentri-api: unknown command 'mirgate' \(Did you mean migrate\?\)$/],
    [['--db', 'x.db', 'migrate'], /^lunasentri-api: the command 'migrate' must come first, before any option$/],
    [['user', 'creat', '--email', 'owner@example.com'], /^lunasentri-api: unknown command 'creat' \(Did you mean create\?\)$/],
  ])('%j exits 2 with one line on stderr', (args, message) => {
    const result = run(args as string[]);
    expect(result.status).toBe(2);
    const lines = stderrLines(result.stderr);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(message);
  });

  it.each([
    ['PORT', 'eighty', /invalid value for PORT: "eighty"/],
    ['LOG_FORMAT', 'xml', /invalid value for LOG_FORMAT: "xml"/],
    ['WEBHOOK_ALLOW_HTTP', 'maybe', /invalid value for WEBHOOK_ALLOW_HTTP: "maybe"/],
    ['INGEST_FLUSH_INTERVAL', '0s', /invalid value for INGEST_FLUSH_INTERVAL: "0s"/],
    ['METRICS_RETENTION', '2x', /invalid value for METRICS_RETENTION: "2x"/],
    ['DB_PATH', '', /invalid value for DB_PATH: ""/],
  ])('a bad %s exits 2 with one line naming it', (name, value, message) => {
    const result = run(['serve'], { [name]: value });
    expect(result.status).toBe(2);
    expect(stderrLines(result.stderr)).toEqual([expect.stringMatching(message)]);
  });

  it('--version prints the package version; the top-level --help ends with the options of serve, the default command', () => {
    const { version } = require('../package.json') as { version: string };
    expect(run(['--version'])).toMatchObject({ status: 0, stdout: `${version}\n`, stderr: '' });
    const help = run(['--help']);
    expect(help.status).toBe(0);
    for (const name of ['migrate', 'The default command, serve:', '--port <N>', '--host <ADDR>', 'INGEST_FLUSH_INTERVAL']) expect(help.stdout).toContain(name);
  });

  it('serve --help lists the flags and the environment-only settings, and exits 0', () => {
    const help = run(['serve', '--help']);
    expect(help.status).toBe(0);
    for (const name of ['--db <PATH|URL>', '--port <N>', '--host <ADDR>', 'WEBHOOK_ALLOW_HTTP', 'TELEGRAM_BOT_TOKEN', 'INGEST_FLUSH_INTERVAL', 'KEY_CACHE_TTL', 'METRICS_RETENTION']) {
      expect(help.stdout).toContain(name);
    }
  });

  it.each([
    [['token', 'list'], /required option '--email/],
    [['token', 'revoke', '--email', 'owner@example.com'], /required option '--id/],
    [['token', 'revoke', '--email', 'owner@example.com', '--id', 'abc'], /invalid value for --id: "abc"/],
    [['token', 'revoke', '--email', 'owner@example.com', '--id', '0'], /invalid value for --id: "0"/],
    [['token', 'revoke', '--email', 'owner@example.com', '--id', '-3'], /invalid value for --id|unknown option/],
    [['token', 'list', '--email', 'nope'], /invalid value for --email/],
  ])('token %j exits 2 with one line on stderr', (args, message) => {
    const result = run(args as string[]);
    expect(result.status).toBe(2);
    expect(stderrLines(result.stderr)).toEqual([expect.stringMatching(message)]);
  });

  it('an unreachable PostgreSQL exits 1 with one line naming host and database, never the password', () => {
    const result = run(['serve', '--port', '0', '--host', '127.0.0.1'], { DATABASE_URL: 'postgres://ops:s3cret-pa55@127.0.0.1:1/fleet' });
    expect(result.status).toBe(1);
    const lines = stderrLines(result.stderr).filter((l) => !l.includes('Using database'));
    expect(lines).toEqual([expect.stringMatching(/fleet.*127\.0\.0\.1:1|127\.0\.0\.1:1.*fleet/)]);
    expect(result.stderr).not.toContain('s3cret');
  });

  it('serve exits 1 with one error line when the port is taken', async () => {
    const blocker = require('node:net').createServer() as import('node:net').Server;
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as import('node:net').AddressInfo).port;
    try {
      const result = spawnSync(BIN, ['serve', '--port', String(port), '--host', '127.0.0.1'], { env: { PATH: process.env.PATH, HOME: process.env.HOME, DB_PATH: ':memory:' }, encoding: 'utf8', timeout: 30_000 });
      expect(result.status).toBe(1);
      expect(result.stderr).toMatch(/could not start: .*EADDRINUSE/);
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });
});
