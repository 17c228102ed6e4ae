import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { migrateToLatest, openDatabase, readDaemonLastCheck, systemClock, type DatabaseHandle } from '@lunasentri/shared';
import { createMachine } from '../../packages/api/src/machines/machines.repository';
import { createUser } from '../../packages/api/src/users/users.repository';
import { Children, binary, cleanEnv } from '../support/child-process';
import { POSTGRES_URL } from '../support/engines';
import { insertWebhook } from '../support/fixtures';
import { freePort, until } from '../support/net';
import { postgresBinaries, startPostgres, type PostgresServer } from '../support/postgres-server';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver';

/*
 * PostgreSQL restarts under the running API and daemon (a server upgrade, a failover): both stay up,
 * say so once, lose no report and raise no false alarm, and work as before once it is back. Runs on
 * a server of its own, since the shared test server must never go away.
 */

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const ROOT = resolve(__dirname, '..', '..');
const bin = postgresBinaries();

jest.setTimeout(180_000);

(POSTGRES_URL && bin ? describe : describe.skip)('a PostgreSQL restart under the running processes', () => {
  const children = new Children();
  let server: PostgresServer;
  let db: DatabaseHandle;
  let receiver: WebhookReceiver;
  let agent: NodeJS.Timeout | undefined;

  beforeAll(async () => {
    if (!existsSync(join(ROOT, 'packages', 'api', 'dist', 'main.js'))) throw new Error('build first: node_modules/.bin/tsc -b');
    server = await startPostgres(bin!);
    db = openDatabase(server.url);
    await migrateToLatest(db.db);
    receiver = await startWebhookReceiver({ secret: SECRET });
  });
  afterAll(async () => {
    if (agent) clearInterval(agent);
    await children.killAll();
    await db?.close();
    await receiver?.close();
    server?.stop();
  });

  test('API and daemon survive it without a crash loop or a false alert, and detect as before afterwards', async () => {
    const { user } = await createUser(db.db, systemClock, 'ops@example.com', false);
    await insertWebhook(db.db, user.id, receiver.url, SECRET);
    const { apiKey } = await createMachine(db.db, systemClock, user.id, { name: 'web' });
    const env = cleanEnv({ DATABASE_URL: server.url, WEBHOOK_ALLOW_HTTP: 'true', WEBHOOK_ALLOW_PRIVATE: 'true' });
    const port = await freePort();
    const api = children.start(binary('lunasentri-api'), ['serve', '--port', String(port), '--host', '127.0.0.1'], env);
    await api.waitForLine('listening on', 60_000);
    const daemon = children.start(binary('lunasentri-heartbeat'), ['run', '--interval', '1s', '--threshold', '6s'], env);
    await daemon.waitForLine('Heartbeat monitor started', 60_000);
    const accepted: number[] = [];
    const beat = () =>
      void fetch(`http://127.0.0.1:${port}/agent/heartbeat`, { method: 'POST', headers: { 'x-api-key': apiKey } })
        .then((r) => accepted.push(r.status))
        .catch(() => undefined);
    beat();
    agent = setInterval(beat, 500);
    const status = async () => (await db.db.selectFrom('machines').select('status').executeTakeFirst().catch(() => undefined))?.status;
    await until('the machine online', async () => ((await status()) === 'online' ? true : undefined), 60_000);

    server.restart();
    const restartedAt = Date.now();
    // The daemon's own checks after the restart (its liveness beat follows its checks), more than a
    // threshold's worth: a false offline would have been decided by then.
    await until(
      'the daemon checking again, 7 s past the restart',
      async () => {
        const last = await readDaemonLastCheck(db.db).catch(() => null);
        return last !== null && Date.parse(last) > restartedAt + 7_000 ? true : undefined;
      },
      60_000,
    );
    expect(await status()).toBe('online');
    expect(receiver.received).toHaveLength(0);
    expect(accepted.every((s) => s === 202)).toBe(true); // ingest answered through the outage
    expect(api.child.exitCode).toBeNull();
    expect(daemon.child.exitCode).toBeNull();
    expect(daemon.lines().filter((l) => / Check failed: /.test(l)).length).toBeLessThanOrEqual(1);

    // Detection works as before.
    clearInterval(agent);
    agent = undefined;
    await receiver.waitFor((all) => all.some((h) => (h.json as { event: string }).event === 'machine.offline'), 60_000);
    daemon.child.kill('SIGTERM');
    api.child.kill('SIGTERM');
    expect((await daemon.exited(60_000)).code).toBe(0);
    expect((await api.exited(60_000)).code).toBe(0);
  });
});
