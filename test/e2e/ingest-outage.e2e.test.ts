import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type SqliteDatabase from 'better-sqlite3';
import { openDatabase, type DatabaseHandle } from '@lunasentri/shared';
import { Children, binary, cleanEnv, type Running } from '../support/child-process';
import { rawSqlite, tempDir } from '../support/db';
import { freePort, until } from '../support/net';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver';

/*
 * Ingest outages are not machine outages (CONTRACT §3.1), with a threshold (3 s) shorter than the
 * window after which a silent API counts as down (5 s): the built binaries on one file, agents
 * reporting four times a second to the API, the daemon checking every second. Every wait is for
 * something observable (a log line, a row), with a generous deadline.
 */

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const ROOT = resolve(__dirname, '..', '..');
const THRESHOLD_MS = 3_000;
const MACHINES = 3;
const DEADLINE = 60_000;

jest.setTimeout(180_000);

interface Stack {
  api: Running;
  daemon: Running;
  /** the reader's raw connection, for snapshots of what the processes wrote */
  sqlite: SqliteDatabase.Database;
  statuses(): string[];
  /** which machines' agents report (all at first) */
  reporting: Set<number>;
  /** status codes the API answered the agents with */
  answers: number[];
  startApi(): Promise<Running>;
  /** Resolves once the daemon has recorded a check later than `iso`. */
  daemonCheckedAfter(iso: string): Promise<void>;
}

describe('ingest outages with a short threshold', () => {
  const children = new Children();
  const folders: Array<() => void> = [];
  const handles: DatabaseHandle[] = [];
  const timers: NodeJS.Timeout[] = [];
  let receiver: WebhookReceiver;

  beforeAll(async () => {
    for (const bin of ['api', 'heartbeat-daemon']) {
      if (!existsSync(join(ROOT, 'packages', bin, 'dist', 'main.js'))) throw new Error('build first: node_modules/.bin/tsc -b');
    }
    receiver = await startWebhookReceiver({ secret: SECRET });
  });

  afterEach(async () => {
    for (const timer of timers.splice(0)) clearInterval(timer);
    for (const handle of handles.splice(0)) {
      if (rawSqlite(handle).inTransaction) rawSqlite(handle).exec('ROLLBACK');
      await handle.close();
    }
    await children.killAll();
    for (const cleanup of folders.splice(0)) cleanup();
    receiver.received.length = 0;
  });

  afterAll(async () => {
    await receiver?.close();
  });

  /** API, daemon (interval 1 s, threshold 3 s), a webhook, and agents reporting until all machines are online. */
  async function startStack(): Promise<Stack> {
    const { dir, cleanup } = tempDir('lunasentri-outage-');
    folders.push(cleanup);
    const env = cleanEnv({ DB_PATH: join(dir, 'lunasentri.db'), WEBHOOK_ALLOW_HTTP: 'true', WEBHOOK_ALLOW_PRIVATE: 'true' });
    const admin = async (args: string[]): Promise<any> => {
      const done = await children.run(binary('lunasentri-api'), [...args, '--json'], env);
      expect(done.code).toBe(0);
      return JSON.parse(done.stdout);
    };
    // Only serve, run and migrate may create the database; the admin commands need it to exist.
    expect((await children.run(binary('lunasentri-api'), ['migrate'], env)).code).toBe(0);
    const { token } = (await admin(['user', 'create', '--email', 'ops@example.com'])) as { token: string };
    const keys: string[] = [];
    for (let i = 0; i < MACHINES; i++) keys.push(((await admin(['machine', 'create', '--email', 'ops@example.com', '--name', `web-${i}`])) as { api_key: string }).api_key);

    const base = `http://127.0.0.1:${await freePort()}`;
    const startApi = async () => {
      const api = children.start(binary('lunasentri-api'), ['serve', '--port', new URL(base).port, '--host', '127.0.0.1'], env);
      await until('the API to answer /health', async () => ((await fetch(`${base}/health`).catch(() => undefined))?.ok ? true : undefined), DEADLINE);
      return api;
    };
    const api = await startApi();
    const hook = await fetch(`${base}/notifications/webhooks`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ url: receiver.url, secret: SECRET }),
    });
    expect(hook.status).toBe(201);
    const daemon = children.start(binary('lunasentri-heartbeat'), ['run', '--interval', '1s', '--threshold', '3s'], env);
    await daemon.waitForLine('Heartbeat monitor started (interval: 1s, threshold: 3s)');

    const reporting = new Set(keys.map((_, i) => i));
    const answers: number[] = [];
    const report = () => {
      for (const i of reporting) {
        void fetch(`${base}/agent/heartbeat`, { method: 'POST', headers: { 'x-api-key': keys[i]! } }).then(
          (r) => answers.push(r.status),
          () => undefined, // the API is down: the agent tries again next time
        );
      }
    };
    report();
    timers.push(setInterval(report, 250));

    const reader = openDatabase(env.DB_PATH!);
    handles.push(reader);
    const sqlite = rawSqlite(reader);
    const statuses = () => sqlite.prepare('SELECT status FROM machines ORDER BY id').pluck().all() as string[];
    await until('every machine to be online', () => (statuses().every((s) => s === 'online') ? true : undefined), DEADLINE);
    const daemonCheckedAfter = async (iso: string) => {
      await until(
        `the daemon to check after ${iso}`,
        () => ((sqlite.prepare("SELECT max(heartbeat_at) FROM service_liveness WHERE kind = 'daemon'").pluck().get() as string | null) ?? '') > iso || undefined,
        DEADLINE,
      );
    };
    return { api, daemon, sqlite, statuses, reporting, answers, startApi, daemonCheckedAfter };
  }

  const plus = (iso: string, ms: number) => new Date(Date.parse(iso) + ms).toISOString();
  const allOnline = Array.from({ length: MACHINES }, () => 'online');

  async function stop(stack: Stack, api: Running): Promise<void> {
    stack.reporting.clear();
    stack.daemon.child.kill('SIGTERM');
    api.child.kill('SIGTERM');
    const [daemonExit, apiExit] = await Promise.all([stack.daemon.exited(), api.exited()]);
    expect([daemonExit.code, apiExit.code]).toEqual([0, 0]);
  }

  test('a write stall longer than the threshold: machines that keep reporting stay online, and ingest counts as back only once the reports it held are written', async () => {
    const stack = await startStack();
    const { api, daemon, sqlite } = stack;

    // Another process holds the write lock until the daemon has noticed that ingest is down.
    const holder = openDatabase(sqlite.name);
    handles.push(holder);
    rawSqlite(holder).exec('BEGIN IMMEDIATE');
    const stalledAt = new Date().toISOString();
    await api.waitForLine('Could not write ingest reports');
    await daemon.waitForLine('Ingest is down', DEADLINE);
    expect(Date.now() - Date.parse(stalledAt)).toBeGreaterThan(THRESHOLD_MS);
    rawSqlite(holder).exec('COMMIT');

    // The first time the API says ingest resumed, the reports it held through the stall are written:
    // both read in one snapshot.
    const snapshot = sqlite.transaction(() => ({
      resumedAt: sqlite.prepare("SELECT max(ingest_resumed_at) FROM service_liveness WHERE kind = 'api'").pluck().get() as string | null,
      lastSeen: sqlite.prepare('SELECT last_seen FROM machines ORDER BY id').pluck().all() as string[],
    }));
    const resumed = await until(
      'the API to record that ingest resumed',
      () => {
        const seen = snapshot();
        return seen.resumedAt !== null && seen.resumedAt > stalledAt ? seen : undefined;
      },
      DEADLINE,
    );
    expect(resumed.lastSeen.filter((at) => at < stalledAt)).toEqual([]);

    // A threshold (and a margin) after the resume: nobody went offline.
    await stack.daemonCheckedAfter(plus(resumed.resumedAt!, THRESHOLD_MS + 2_000));
    expect(daemon.lines().filter((l) => l.includes('went offline'))).toEqual([]);
    expect(stack.statuses()).toEqual(allOnline);
    expect(receiver.received).toEqual([]);
    expect(new Set(stack.answers)).toEqual(new Set([202]));
    expect(daemon.lines().some((l) => l.includes('Ingest is back'))).toBe(true);
    await stop(stack, api);
  });

  test('a SIGKILLed API announces nobody offline; after its restart machines get a full threshold, and a machine that stops is found at about the threshold plus one beat', async () => {
    const stack = await startStack();
    const { daemon, sqlite } = stack;

    const killedAt = new Date().toISOString();
    stack.api.child.kill('SIGKILL');
    expect((await stack.api.exited()).signal).toBe('SIGKILL');
    // Noticed only after 5 s without a beat; the threshold (3 s) passes before that.
    await daemon.waitForLine('Ingest is down', DEADLINE);
    await stack.daemonCheckedAfter(plus(killedAt, THRESHOLD_MS + 2_000));
    expect(daemon.lines().filter((l) => l.includes('went offline'))).toEqual([]);
    expect(stack.statuses()).toEqual(allOnline);
    expect(receiver.received).toEqual([]);

    // The API comes back; the agents, still trying, report again.
    const api = await stack.startApi();
    await daemon.waitForLine('Ingest is back', DEADLINE);
    const resumedAt = sqlite.prepare("SELECT max(ingest_resumed_at) FROM service_liveness WHERE kind = 'api'").pluck().get() as string;
    await stack.daemonCheckedAfter(plus(resumedAt, THRESHOLD_MS + 2_000));
    expect(daemon.lines().filter((l) => l.includes('went offline'))).toEqual([]);
    expect(stack.statuses()).toEqual(allOnline);

    // One machine really stops: it is announced, at its threshold plus about one API beat.
    stack.reporting.delete(0);
    await receiver.waitFor((all) => all.some((h) => (h.json as { event?: string }).event === 'machine.offline'), DEADLINE);
    const [first] = sqlite.prepare('SELECT status, last_seen, status_changed_at FROM machines ORDER BY id').all() as Array<{ status: string; last_seen: string; status_changed_at: string }>;
    expect(first!.status).toBe('offline');
    const detectedAfterMs = Date.parse(first!.status_changed_at) - Date.parse(first!.last_seen);
    expect(detectedAfterMs).toBeGreaterThan(THRESHOLD_MS);
    expect(detectedAfterMs).toBeLessThan(THRESHOLD_MS + 3_000);
    expect(stack.statuses()).toEqual(['offline', ...allOnline.slice(1)]);
    await stop(stack, api);
  });

});
