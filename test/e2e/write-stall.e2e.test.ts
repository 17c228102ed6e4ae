import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { openDatabase, type DatabaseHandle } from '@lunasentri/shared';
import { Children, binary, cleanEnv, type Running } from '../support/child-process';
import { rawSqlite, tempDir } from '../support/db';
import { freePort, until } from '../support/net';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver';

/*
 * The built binaries on one file while another process holds the SQLite write lock for longer than
 * the threshold. Agents keep reporting all along: the API answers 202 and holds their reports, so
 * when the lock is released no machine may be announced offline. Every wait is for something
 * observable (a log line, a row), with a generous deadline.
 */

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const ROOT = resolve(__dirname, '..', '..');
const THRESHOLD_MS = 3_000;
const MACHINES = 3;

jest.setTimeout(180_000);

describe('a database write stall longer than the threshold', () => {
  const children = new Children();
  const { dir, cleanup } = tempDir('lunasentri-stall-');
  const dbPath = join(dir, 'lunasentri.db');
  let receiver: WebhookReceiver;
  let reader: DatabaseHandle | undefined;
  let holder: DatabaseHandle | undefined;
  let agents: NodeJS.Timeout | undefined;

  beforeAll(async () => {
    for (const bin of ['api', 'heartbeat-daemon']) {
      if (!existsSync(join(ROOT, 'packages', bin, 'dist', 'main.js'))) throw new Error('build first: node_modules/.bin/tsc -b');
    }
    receiver = await startWebhookReceiver({ secret: SECRET });
  });

  afterAll(async () => {
    if (agents) clearInterval(agents);
    if (holder && rawSqlite(holder).inTransaction) rawSqlite(holder).exec('ROLLBACK');
    await children.killAll();
    await holder?.close();
    await reader?.close();
    await receiver?.close();
    cleanup();
  });

  const env = () =>
    cleanEnv({
      DB_PATH: dbPath,
      WEBHOOK_ALLOW_HTTP: 'true',
      WEBHOOK_ALLOW_PRIVATE: 'true',
    });

  async function admin(args: string[]): Promise<any> {
    const done = await children.run(binary('lunasentri-api'), [...args, '--json'], env());
    expect(done.code).toBe(0);
    return JSON.parse(done.stdout);
  }

  test('machines that keep reporting stay online: ingest counts as back only once the reports it held are written', async () => {
    const { token } = (await admin(['user', 'create', '--email', 'ops@example.com'])) as { token: string };
    const keys: string[] = [];
    for (let i = 0; i < MACHINES; i++) keys.push(((await admin(['machine', 'create', '--email', 'ops@example.com', '--name', `web-${i}`])) as { api_key: string }).api_key);

    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const api: Running = children.start(binary('lunasentri-api'), ['serve', '--port', String(port), '--host', '127.0.0.1'], env());
    await until('the API to answer /health', async () => ((await fetch(`${base}/health`).catch(() => undefined))?.ok ? true : undefined), 30_000);
    const hook = await fetch(`${base}/notifications/webhooks`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ url: receiver.url, secret: SECRET }),
    });
    expect(hook.status).toBe(201);
    const daemon: Running = children.start(binary('lunasentri-heartbeat'), ['run', '--interval', '1s', '--threshold', '3s'], env());
    await daemon.waitForLine('Heartbeat monitor started (interval: 1s, threshold: 3s)');

    // Agents report four times a second all along, stall or not.
    const answers: number[] = [];
    const report = () => {
      for (const key of keys) {
        void fetch(`${base}/agent/heartbeat`, { method: 'POST', headers: { 'x-api-key': key } }).then(
          (r) => answers.push(r.status),
          () => undefined,
        );
      }
    };
    report();
    agents = setInterval(report, 250);
    reader = openDatabase(dbPath);
    const sqlite = rawSqlite(reader);
    const statuses = () => sqlite.prepare('SELECT status FROM machines ORDER BY id').pluck().all() as string[];
    await until('every machine to be online', () => (statuses().every((s) => s === 'online') ? true : undefined), 30_000);

    // Another process holds the write lock until the daemon has noticed that ingest is down.
    holder = openDatabase(dbPath);
    rawSqlite(holder).exec('BEGIN IMMEDIATE');
    const stalledAt = new Date().toISOString();
    await api.waitForLine('Could not write ingest reports');
    await daemon.waitForLine('Ingest is down', 60_000);
    expect(Date.now() - Date.parse(stalledAt)).toBeGreaterThan(THRESHOLD_MS);
    const releasedAtMs = Date.now();
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
      30_000,
    );
    expect(resumed.lastSeen.filter((at) => at < stalledAt)).toEqual([]);
    console.log('DIAG stall', releasedAtMs - Date.parse(stalledAt), 'resume after release', Date.parse(resumed.resumedAt!) - releasedAtMs);

    // A threshold (and a margin) after the resume, checked by the daemon: nobody went offline.
    const settledAfter = new Date(Date.parse(resumed.resumedAt!) + THRESHOLD_MS + 2_000).toISOString();
    await until(
      'the daemon to check a threshold past the resume',
      () => {
        const last = sqlite.prepare("SELECT max(heartbeat_at) FROM service_liveness WHERE kind = 'daemon'").pluck().get() as string | null;
        return last !== null && last > settledAfter ? true : undefined;
      },
      60_000,
    );
    expect(daemon.lines().filter((l) => l.includes('went offline'))).toEqual([]);
    expect(statuses()).toEqual(Array.from({ length: MACHINES }, () => 'online'));
    expect(receiver.received).toEqual([]);
    expect(new Set(answers)).toEqual(new Set([202]));
    expect(daemon.lines().some((l) => l.includes('Ingest is back'))).toBe(true);

    clearInterval(agents);
    agents = undefined;
    daemon.child.kill('SIGTERM');
    api.child.kill('SIGTERM');
    const [daemonExit, apiExit] = await Promise.all([daemon.exited(), api.exited()]);
    expect([daemonExit.code, apiExit.code]).toEqual([0, 0]);
  });
});
