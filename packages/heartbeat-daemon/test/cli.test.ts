import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { migrations, openDatabase } from '@lunasentri/shared';
import { createTestDb, rawSqlite, tempDir, type TestDb } from '../../../test/support/db';
import { describeEachEngine, testOn } from '../../../test/support/engines';
import { insertMachine, insertUser, insertWebhook } from '../../../test/support/fixtures';
import { startWebhookReceiver, type WebhookReceiver } from '../../../test/support/webhook-receiver';
import { Children, binary, cleanEnv } from '../../../test/support/child-process';

/* The built binary as an operator runs it (`tsc -b` first). */
const BIN = binary('lunasentri-heartbeat');
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const children = new Children();

beforeAll(() => {
  if (!existsSync(join(__dirname, '..', 'dist', 'main.js'))) throw new Error('build first: node_modules/.bin/tsc -b');
});
afterAll(() => children.killAll());

describe('bad settings', () => {
  const { dir, cleanup } = tempDir();
  afterAll(cleanup);
  const db = join(dir, 'never-created.db');

  test.each<[string, string[], Record<string, string>, RegExp]>([
    ['an unknown unit', ['--interval', '2x'], {}, /--interval: "2x"/],
    ['zero from the env', [], { MACHINE_OFFLINE_THRESHOLD: '0s' }, /MACHINE_OFFLINE_THRESHOLD: "0s"/],
    ['a negative duration', ['--threshold', '-1m'], {}, /--threshold: "-1m"/],
    ['an empty env var', [], { MACHINE_HEARTBEAT_CHECK_INTERVAL: '' }, /MACHINE_HEARTBEAT_CHECK_INTERVAL: ""/],
    ['an empty flag', ['--interval='], {}, /--interval: ""/],
    ['a bad env var even when another is fine', ['--interval', '10s'], { MACHINE_OFFLINE_THRESHOLD: '-1m' }, /MACHINE_OFFLINE_THRESHOLD: "-1m"/],
    ['a bad log format', [], { LOG_FORMAT: 'xml' }, /LOG_FORMAT: "xml"/],
    ['an unknown option', ['--intervall', '10s'], {}, /unknown option '--intervall'/],
    ['a missing value', ['--threshold'], {}, /--threshold <DUR>' argument missing/],
    ['a flap threshold that is no number', ['--flap-threshold', 'five'], {}, /--flap-threshold: "five" \(must be a whole number from 0 to 1000\)/],
    ['a negative flap threshold', ['--flap-threshold', '-1'], {}, /--flap-threshold: "-1"/],
    ['an empty flap threshold from the env', [], { FLAP_THRESHOLD: '' }, /FLAP_THRESHOLD: ""/],
    ['a zero flap window', ['--flap-window', '0s'], {}, /--flap-window: "0s"/],
    ['a flap window with an unknown unit', [], { FLAP_WINDOW: '2x' }, /FLAP_WINDOW: "2x"/],
    ['a negative flap settle', ['--flap-settle', '-1m'], {}, /--flap-settle: "-1m"/],
    ['an empty flap settle from the env', [], { FLAP_SETTLE: '' }, /FLAP_SETTLE: ""/],
  ])('%s exits 2 with one line on stderr', async (_name, args, env, message) => {
    const result = await children.run(BIN, ['run', '--db', db, ...args], cleanEnv(env));
    expect(result.code).toBe(2);
    expect(result.stderr.trimEnd().split('\n')).toEqual([expect.stringMatching(message)]);
    expect(result.stdout).toBe('');
    expect(existsSync(db)).toBe(false);
  });

  test('--help lists the flapping flags with their env vars and defaults', async () => {
    const help = await children.run(BIN, ['run', '--help'], cleanEnv());
    expect(help.code).toBe(0);
    for (const text of ['--flap-threshold <N>', 'FLAP_THRESHOLD', '--flap-window <DUR>', 'FLAP_WINDOW', '30m0s', '--flap-settle <DUR>', 'FLAP_SETTLE', '5m0s']) {
      expect(help.stdout).toContain(text);
    }
  });

  test.each<[string, string[], string]>([
    ['a mistyped command', ['stauts', '--db', db], "unknown command 'stauts' (Did you mean status?)"],
    ['a mistyped command after the default command\'s options', ['--db', db, 'stauts'], "unknown command 'stauts' (Did you mean status?)"],
    ['a word that is no command at all', ['frobnicate'], "unknown command 'frobnicate'"],
    ['a mistyped word after run', ['run', '--db', db, 'stauts'], "unknown command 'stauts' (Did you mean status?)"],
    ['a command after the default command\'s options', ['--db', db, 'status'], "the command 'status' must come first, before any option"],
    ['the default command after its options', ['--db', db, 'run'], "the command 'run' must come first, before any option"],
  ])('%s is refused as an unknown or misplaced command, with a suggestion when one is close: exit 2, one line', async (_name, args, message) => {
    const result = await children.run(BIN, args, cleanEnv({}));
    expect(result.code).toBe(2);
    expect(result.stderr.trimEnd().split('\n')).toEqual([`lunasentri-heartbeat: error: ${message}`]);
    expect(existsSync(db)).toBe(false);
  });

  test('the top-level --help shows the options of run, the default command; --version the package version', async () => {
    const help = await children.run(BIN, ['--help'], cleanEnv({}));
    expect(help.code).toBe(0);
    for (const name of ['status [options]', 'The default command, run:', '--interval <DUR>', '--threshold <DUR>', '--once', 'WEBHOOK_TIMEOUT']) expect(help.stdout).toContain(name);
    const { version } = require('../package.json') as { version: string };
    const printed = await children.run(BIN, ['--version'], cleanEnv({}));
    expect(printed).toMatchObject({ code: 0, stdout: `${version}\n` });
  });

  test('a flag beats the env var: a bad env value is not read when the flag is given', async () => {
    const result = await children.run(BIN, ['--once', '--db', db, '--interval', '1m30s'], cleanEnv({ MACHINE_HEARTBEAT_CHECK_INTERVAL: 'nonsense' }));
    expect(result.code).toBe(0);
    expect(result.stderr).toContain('Heartbeat monitor started (interval: 1m30s, threshold: 2m0s)');
  });
});

describeEachEngine('run and status against a real database', (engine) => {
  let db: TestDb;
  let receiver: WebhookReceiver;
  let userId: number;
  beforeEach(async () => {
    db = await createTestDb(engine);
    receiver = await startWebhookReceiver({ secret: SECRET });
    userId = await insertUser(db.db);
  });
  afterEach(async () => {
    await children.killAll();
    await receiver.close();
    await db.dispose();
  });
  const env = (extra: Record<string, string> = {}) => cleanEnv({ DB_PATH: db.path, WEBHOOK_ALLOW_HTTP: 'true', WEBHOOK_ALLOW_PRIVATE: 'true', ...extra });
  const longAgo = () => new Date(Date.now() - 3600_000).toISOString();

  /**
   * Replaces the receiver with one that never answers and seeds one machine due to go offline to it.
   * `inFlight` resolves once the daemon's send has arrived and hangs (wrapped: an async function would
   * otherwise adopt the promise and wait for the send itself).
   */
  async function hangingSendSetup(): Promise<{ inFlight: Promise<void> }> {
    await receiver.close();
    let arrived!: () => void;
    const inFlight = new Promise<void>((resolve) => (arrived = resolve));
    receiver = await startWebhookReceiver({
      secret: SECRET,
      respond: () => {
        arrived();
        return 'hang';
      },
    });
    await insertWebhook(db.db, userId, receiver.url, SECRET);
    await insertMachine(db.db, userId, { status: 'online', last_seen: longAgo() });
    return { inFlight };
  }

  test('--once: one check, delivers what is due, logs the contract lines, exits 0', async () => {
    await insertWebhook(db.db, userId, receiver.url, SECRET);
    await insertMachine(db.db, userId, { status: 'online', last_seen: longAgo() });
    const result = await children.run(BIN, ['--once'], env());
    expect(result.code).toBe(0);
    const messages = result.stderr.trimEnd().split('\n').map((l) => l.replace(/^\S+ \S+\s+/, ''));
    expect(messages).toEqual([
      `Using database ${db.path}`,
      'Telegram notifications are off (TELEGRAM_BOT_TOKEN is not set)',
      'No API liveness recorded in this database yet: checking normally (ingest outages are recognised once the API has run)',
      'Heartbeat monitor started (interval: 30s, threshold: 2m0s)',
      expect.stringMatching(/^Machine 1 \(production-server\) went offline \(last seen: 1h0m\d+s ago\)$/), // wall clock: the child's start time varies
      'Heartbeat monitor stopped',
    ]);
    expect(receiver.received).toHaveLength(1);
    expect(receiver.received[0]).toMatchObject({ verified: true, json: { event: 'machine.offline', machine: { id: 1, status: 'offline' } } });
    expect(await db.db.selectFrom('deliveries').select('status').execute()).toEqual([{ status: 'delivered' }]);
    const daemonRow = await db.db.selectFrom('service_liveness').selectAll().where('kind', '=', 'daemon').executeTakeFirstOrThrow();
    expect(daemonRow.stopped_at).not.toBeNull();
  });

  test('under journald the lines carry syslog priorities; --log-format json carries the same message', async () => {
    const journald = await children.run(BIN, ['--once', '--threshold', '5m'], env({ JOURNAL_STREAM: '8:1234' }));
    expect(journald.stderr).toContain('<6>Heartbeat monitor started (interval: 30s, threshold: 5m0s)\n');
    const json = await children.run(BIN, ['--once', '--log-format', 'json'], env());
    const records = json.stderr.trimEnd().split('\n').map((l) => JSON.parse(l) as { level: string; message: string });
    expect(records).toContainEqual(expect.objectContaining({ level: 'info', message: 'Heartbeat monitor started (interval: 30s, threshold: 2m0s)' }));
  });

  test('status lists every machine and the deliveries not delivered with their last error; --json prints the machines', async () => {
    await insertWebhook(db.db, userId, receiver.url, SECRET);
    await insertMachine(db.db, userId, { status: 'online', last_seen: longAgo() });
    await insertMachine(db.db, userId, { name: 'new-box', status: 'pending' });
    // The receiver refuses: the delivery stays pending with its error.
    await receiver.close();
    receiver = await startWebhookReceiver({ secret: SECRET, respond: () => ({ status: 503 }) });
    await db.db.updateTable('webhooks').set({ url: receiver.url }).execute();
    expect((await children.run(BIN, ['--once'], env())).code).toBe(0);

    const text = await children.run(BIN, ['status'], env());
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('Machines: 2 (0 online, 1 offline, 1 pending)');
    expect(text.stdout).toMatch(/^1\s+production-server\s+offline\s+yes\s+\d{4}-\d\d-\d\dT\S+Z \(1h0m\d+s ago\)$/m);
    expect(text.stdout).toMatch(/^2\s+new-box\s+pending\s+yes\s+never$/m);
    expect(text.stdout).toContain('Deliveries not delivered: 1 pending, 0 failed, 0 dead');
    expect(text.stdout).toMatch(/machine\.offline .* webhook 1\s+-\s+pending\s+1\s+\S+\s+HTTP 503 Service Unavailable/);
    // The failing channel, and for how long it has failed (since its first failure after its last success).
    expect(text.stdout).toContain('Channels failing: 1');
    expect(text.stdout).toMatch(/^webhook 1\s+\d+s\s+\d{4}-\d\d-\d\dT\S+Z\s+1\s+HTTP 503 Service Unavailable$/m);

    const json = await children.run(BIN, ['status', '--json'], env());
    expect(JSON.parse(json.stdout)).toEqual([
      expect.objectContaining({ id: 1, name: 'production-server', status: 'offline', last_seen: expect.any(String), enabled: true }),
      expect.objectContaining({ id: 2, name: 'new-box', status: 'pending', last_seen: null }),
    ]);
  });

  testOn('sqlite', engine)('status exits on the first signal, in the middle of a long listing', async () => {
    const machines = 300_000;
    const stale = longAgo();
    db.sqlite
      .prepare(
        `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
         INSERT INTO machines (user_id, name, hostname, description, status, last_seen, is_enabled, created_at, updated_at)
         SELECT ?, 'm' || i, NULL, NULL, 'online', ?, 1, ?, ? FROM n`,
      )
      .run(machines, userId, stale, stale, stale);
    const status = children.start(BIN, ['status'], env());
    // The listing is under way once its first rows are out.
    await new Promise<void>((resolve, reject) => {
      const check = () => {
        if (/^1\s+m1\s/m.test(status.stdout())) {
          status.child.stdout!.off('data', check);
          resolve();
        }
      };
      status.child.stdout!.on('data', check);
      status.child.once('close', () => reject(new Error('status finished before the signal could be sent')));
      check();
    });
    status.child.kill('SIGTERM');
    const result = await status.exited(10_000);
    expect(result.code).toBe(143); // 128 + SIGTERM, on the first signal
    expect(result.stdout).not.toMatch(new RegExp(`^${machines}\\s+m${machines}\\s`, 'm'));
  });

  testOn('sqlite', engine)('status never creates a database: a missing path exits 1 with one line naming it; an existing file is not migrated', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const typo = join(dir, 'typo', 'lunasentri.db');
      const missing = await children.run(BIN, ['status', '--db', typo], env());
      expect(missing.code).toBe(1);
      expect(missing.stdout).toBe('');
      expect(missing.stderr.trimEnd().split('\n')).toEqual([`lunasentri-heartbeat: no database at ${typo}; run lunasentri-api migrate --db ${typo} first`]);
      expect(existsSync(join(dir, 'typo'))).toBe(false);

      const empty = join(dir, 'empty.db');
      writeFileSync(empty, '');
      const unmigrated = await children.run(BIN, ['status', '--db', empty], env());
      expect(unmigrated.code).toBe(1);
      expect(unmigrated.stdout).not.toContain('Machines:');
      expect(unmigrated.stderr.trimEnd().split('\n')).toEqual([`lunasentri-heartbeat: the database at ${empty} lacks ${Object.keys(migrations).length} migration(s) of this version; run lunasentri-api migrate --db ${empty} first`]);
      const check = openDatabase(empty);
      try {
        expect(rawSqlite(check).prepare('SELECT count(*) AS n FROM sqlite_master').get()).toEqual({ n: 0 }); // no tables were created
      } finally {
        await check.close();
      }
    } finally {
      cleanup();
    }
  });

  test('a database that cannot be opened is named in the error line, after the line saying which database', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const result = await children.run(BIN, ['--once', '--db', dir], env());
      expect(result.code).toBe(1);
      const messages = result.stderr.trimEnd().split('\n').map((l) => l.replace(/^\S+ \S+\s+/, ''));
      expect(messages).toEqual([`Using database ${dir}`, expect.stringMatching(new RegExp(`^Heartbeat monitor failed: cannot open database ${dir}: `))]);
    } finally {
      cleanup();
    }
  });

  test('SIGTERM lets an in-flight send finish, then stops cleanly with exit 0', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let arrived!: () => void;
    const inFlight = new Promise<void>((resolve) => (arrived = resolve));
    await receiver.close();
    receiver = await startWebhookReceiver({
      secret: SECRET,
      respond: async () => {
        arrived();
        await released;
        return undefined;
      },
    });
    await insertWebhook(db.db, userId, receiver.url, SECRET);
    await insertMachine(db.db, userId, { status: 'online', last_seen: longAgo() });
    const daemon = children.start(BIN, ['run', '--interval', '1s'], env());
    await inFlight;
    daemon.child.kill('SIGTERM');
    setTimeout(release, 300);
    const result = await daemon.exited();
    expect(result.code).toBe(0);
    expect(result.stderr.trimEnd().split('\n').pop()).toMatch(/Heartbeat monitor stopped$/);
    expect(await db.db.selectFrom('deliveries').select(['status', 'claimed_by']).execute()).toEqual([{ status: 'delivered', claimed_by: null }]);
  });

  test('a second signal exits at once, even while a send is still being drained', async () => {
    const { inFlight } = await hangingSendSetup();
    const daemon = children.start(BIN, ['run'], env({ WEBHOOK_TIMEOUT: '20s' }));
    await inFlight;
    daemon.child.kill('SIGTERM');
    await daemon.waitForLine('Received SIGTERM: stopping');
    daemon.child.kill('SIGINT');
    const result = await daemon.exited(5_000);
    expect(result.code).toBe(130); // 128 + SIGINT, without waiting for the 20 s send to time out
  });

  test('a daemon restarted after a SIGKILL takes over the claims of the one it replaced at once, not after its beat goes stale', async () => {
    await receiver.close();
    let arrived!: () => void;
    const inFlight = new Promise<void>((resolve) => (arrived = resolve));
    let requests = 0;
    receiver = await startWebhookReceiver({
      secret: SECRET,
      respond: () => {
        if (++requests > 1) return undefined;
        arrived();
        return 'hang'; // the first daemon dies with this send in flight, its claim (60 s lease) held
      },
    });
    await insertWebhook(db.db, userId, receiver.url, SECRET);
    await insertMachine(db.db, userId, { status: 'online', last_seen: longAgo() });
    const first = children.start(BIN, ['run', '--interval', '1s'], env({ WEBHOOK_TIMEOUT: '30s' }));
    await inFlight;
    first.child.kill('SIGKILL');
    expect((await first.exited()).signal).toBe('SIGKILL');
    expect(await db.db.selectFrom('deliveries').select(['status', 'claimed_by']).execute()).toEqual([{ status: 'pending', claimed_by: expect.any(String) }]);

    const second = children.start(BIN, ['run', '--interval', '1s'], env());
    await second.waitForLine('Heartbeat monitor started');
    const startedAt = Date.now();
    const all = await receiver.waitFor((received) => received.some((h) => h.answeredStatus === 200), 60_000);
    const takeoverMs = Date.now() - startedAt;
    expect(second.lines().filter((l) => /Took over 1 delivery claim\(s\) of daemon instance \S+, which is no longer running/.test(l))).toHaveLength(1);
    expect(all.map((h) => h.headers['webhook-id'])).toEqual([all[0]!.headers['webhook-id'], all[0]!.headers['webhook-id']]);
    // Its pid is gone on this boot, in this pid namespace: certain, so no waiting for a stale beat (10 s before).
    expect(takeoverMs).toBeLessThan(3_000);
    second.child.kill('SIGTERM');
    expect((await second.exited()).code).toBe(0);
  });

  test('SIGTERM during --once goes through the bounded drain: a hanging send is cut short, exit 0, the claim given back', async () => {
    const { inFlight } = await hangingSendSetup();
    const once = children.start(BIN, ['--once'], env({ WEBHOOK_TIMEOUT: '1m' }));
    await inFlight;
    once.child.kill('SIGTERM');
    // Bounded by the 10 s drain, not by the send's 1 m time limit.
    const result = await once.exited(40_000);
    expect(result.code).toBe(0);
    const messages = result.stderr.trimEnd().split('\n').map((l) => l.replace(/^\S+ \S+\s+/, ''));
    const at = (text: string) => messages.findIndex((m) => m.startsWith(text));
    expect(at('Received SIGTERM: stopping')).toBeGreaterThan(-1);
    expect(at('Stopping: 1 send(s) still running after 10s, cutting them short')).toBeGreaterThan(at('Received SIGTERM: stopping'));
    expect(messages[messages.length - 1]).toBe('Heartbeat monitor stopped');
    // Cut short by shutdown: no attempt counted, the claim given back for the next daemon.
    expect(await db.db.selectFrom('deliveries').select(['status', 'attempts', 'claimed_by']).execute()).toEqual([{ status: 'pending', attempts: 0, claimed_by: null }]);
  });

  testOn('sqlite', engine)('SIGTERM during a long check stops after the batch in progress: exit 0, the rest left for the next check', async () => {
    const machines = 50_000;
    const stale = longAgo();
    // Seeded in one statement: 50k inserts through Kysely would take longer than the check itself.
    db.sqlite
      .prepare(
        `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
         INSERT INTO machines (user_id, name, hostname, description, status, last_seen, is_enabled, created_at, updated_at)
         SELECT ?, 'm' || i, NULL, NULL, 'online', ?, 1, ?, ? FROM n`,
      )
      .run(machines, userId, stale, stale, stale);
    const daemon = children.start(BIN, ['run'], env());
    await daemon.waitForLine(/went offline/); // the check is under way
    daemon.child.kill('SIGTERM');
    const result = await daemon.exited(15_000); // systemd's TimeoutStopSec is 20 s
    expect(result.code).toBe(0);
    const lines = result.stderr.trimEnd().split('\n');
    expect(lines.pop()).toMatch(/Heartbeat monitor stopped$/);
    const offline = lines.filter((l) => l.includes('went offline')).length;
    const stored = await db.db.selectFrom('machines').select((eb) => eb.fn.countAll<number>().as('n')).where('status', '=', 'offline').executeTakeFirstOrThrow();
    // Every logged transition is committed, and the check stopped short of the whole burst.
    expect(stored.n).toBe(offline);
    expect(offline).toBeLessThan(machines);
  });

  test('two daemons sharing a burst bigger than one claim batch deliver every event exactly once', async () => {
    await insertWebhook(db.db, userId, receiver.url, SECRET);
    const machines = 600; // more than two claim batches of 256
    const stale = longAgo();
    await db.db.transaction().execute(async (trx) => {
      for (let i = 0; i < machines; i++) await insertMachine(trx, userId, { name: `m${i}`, status: 'online', last_seen: stale });
    });
    // Slow answers keep the first daemon busy, so the second one finds rows to claim as well.
    await receiver.close();
    receiver = await startWebhookReceiver({ secret: SECRET, respond: () => new Promise((resolve) => setTimeout(() => resolve(undefined), 20)) });
    await db.db.updateTable('webhooks').set({ url: receiver.url }).execute();
    const args = ['run', '--interval', '1s', '--threshold', '2s', '--log-level', 'debug'];
    const a = children.start(BIN, args, env());
    const b = children.start(BIN, args, env());
    await receiver.waitFor((r) => r.length >= machines, 60_000);
    await new Promise((resolve) => setTimeout(resolve, 500)); // a duplicate would arrive now
    a.child.kill('SIGTERM');
    b.child.kill('SIGTERM');
    expect((await a.exited()).code).toBe(0);
    expect((await b.exited()).code).toBe(0);

    const sent = receiver.received.map((r) => r.headers['webhook-id']);
    expect(sent).toHaveLength(machines);
    expect(new Set(sent).size).toBe(machines);
    const statuses = await db.db.selectFrom('deliveries').select(['status', 'attempts', 'claimed_by']).execute();
    expect(statuses).toHaveLength(machines);
    expect(statuses.every((d) => d.status === 'delivered' && d.attempts === 1 && d.claimed_by === null)).toBe(true);
    // Each delivery was recorded by exactly one of the two (which one is up to timing).
    const recorded = (lines: string[]) =>
      lines.map((l) => /Recorded \d+ delivery outcome\(s\): (\d+) delivered/.exec(l)).reduce((n, m) => n + (m ? Number(m[1]) : 0), 0);
    expect(recorded(a.lines()) + recorded(b.lines())).toBe(machines);
  });

  test('two daemons on one file produce no duplicate events or deliveries', async () => {
    await insertWebhook(db.db, userId, receiver.url, SECRET);
    const ids: number[] = [];
    for (let i = 0; i < 20; i++) ids.push(await insertMachine(db.db, userId, { name: `m${i}`, status: 'online', last_seen: longAgo() }));
    const args = ['run', '--interval', '1s', '--threshold', '2s'];
    const a = children.start(BIN, args, env());
    const b = children.start(BIN, args, env());
    await Promise.all([a.waitForLine('Heartbeat monitor started'), b.waitForLine('Heartbeat monitor started')]);

    await receiver.waitFor((r) => r.length >= 20, 30_000);
    const now = new Date().toISOString();
    await db.db.updateTable('machines').set({ last_seen: now }).execute(); // every machine reports again
    await receiver.waitFor((r) => r.length >= 40, 30_000);
    // Stopped before counting: with a 2 s threshold the silent machines would soon go offline again.
    a.child.kill('SIGTERM');
    b.child.kill('SIGTERM');
    expect((await a.exited()).code).toBe(0);
    expect((await b.exited()).code).toBe(0);

    const events = await db.db.selectFrom('events').select(['id', 'type', 'machine_id']).execute();
    expect(events.filter((e) => e.type === 'machine.offline').map((e) => e.machine_id).sort((x, y) => x - y)).toEqual(ids);
    expect(events.filter((e) => e.type === 'machine.online').map((e) => e.machine_id).sort((x, y) => x - y)).toEqual(ids);
    expect(await db.db.selectFrom('deliveries').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst()).toEqual({ n: 40 });
    const sent = receiver.received.map((r) => r.headers['webhook-id']);
    expect(new Set(sent).size).toBe(sent.length);
    expect(sent.sort()).toEqual(events.map((e) => e.id).sort());
    // Each transition was decided (and logged) by exactly one of the two.
    const offlineLines = [...a.lines(), ...b.lines()].filter((l) => l.includes('went offline'));
    expect(offlineLines).toHaveLength(20);
  });
});
