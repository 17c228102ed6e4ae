import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { openDatabase, type DatabaseHandle } from '@lunasentri/shared';
import { Children, binary, cleanEnv, type Running } from '../support/child-process';
import { tempDir } from '../support/db';
import { startFakeTelegram, type FakeTelegram } from '../support/fake-telegram';
import { insertMachine, insertTelegramRecipient, insertUser } from '../support/fixtures';
import { until } from '../support/net';

/*
 * The real daemon binary (`tsc -b` first) against a fake Bot API that enforces Telegram's limits:
 * SIGKILL between the send of a digest and its mark, then a restart. The resend must be the same
 * message, and what became due meanwhile must not join it.
 */

const BOT_TOKEN = '987654:e2e-test-token-for-the-fake-bot-api';
const CHAT_ID = 4242;
const DEADLINE = 40_000;
const ROOT = resolve(__dirname, '..', '..');

jest.setTimeout(180_000);

describe('Telegram digests end to end', () => {
  const children = new Children();
  const { dir, cleanup } = tempDir('lunasentri-digest-e2e-');
  const dbPath = join(dir, 'lunasentri.db');
  let telegram: FakeTelegram;
  let db: DatabaseHandle;
  let hang = true;

  beforeAll(async () => {
    if (!existsSync(join(ROOT, 'packages', 'heartbeat-daemon', 'dist', 'main.js'))) throw new Error('build first: node_modules/.bin/tsc -b');
    telegram = await startFakeTelegram({ token: BOT_TOKEN, limits: true, respond: () => (hang ? 'hang' : undefined) });
  });
  afterAll(async () => {
    await children.killAll();
    await db?.close();
    await telegram?.close();
    cleanup();
  });

  const env = () =>
    cleanEnv({
      DB_PATH: dbPath,
      TELEGRAM_BOT_TOKEN: BOT_TOKEN,
      TELEGRAM_API_ROOT: telegram.apiRoot,
      TELEGRAM_GROUP_WINDOW: '2s',
      MACHINE_HEARTBEAT_CHECK_INTERVAL: '1s',
      MACHINE_OFFLINE_THRESHOLD: '2s',
    });
  const startDaemon = (): Running => children.start(binary('lunasentri-heartbeat'), ['run'], env());
  /** Machines last seen a minute ago: offline at the daemon's next check. */
  async function silentMachines(userId: number, names: string[]): Promise<void> {
    const lastSeen = new Date(Date.now() - 60_000).toISOString();
    for (const name of names) await insertMachine(db.db, userId, { name, hostname: `${name}.example.com`, status: 'online', last_seen: lastSeen });
  }

  test('a SIGKILL between the send of a digest and its mark resends the same message, and nothing else joins it', async () => {
    expect((await children.run(binary('lunasentri-api'), ['migrate'], env())).code).toBe(0);
    db = openDatabase(dbPath);
    const userId = await insertUser(db.db);
    await insertTelegramRecipient(db.db, userId, CHAT_ID);
    const first = ['alpha', 'bravo', 'charlie', 'delta', 'echo'];
    await silentMachines(userId, first);

    const daemon = startDaemon();
    await telegram.waitFor((m) => m.length === 1, DEADLINE);
    daemon.child.kill('SIGKILL');
    await daemon.exited(DEADLINE);

    // Due while the daemon is down: must wait for the resend and go in a message of its own.
    const later = ['foxtrot', 'golf'];
    await silentMachines(userId, later);
    hang = false;
    const restarted = startDaemon();
    await telegram.waitFor((m) => m.length >= 3, DEADLINE);
    await until(
      'every Telegram delivery to be delivered',
      async () => {
        const pending = await db.db.selectFrom('deliveries').select('id').where('status', '!=', 'delivered').execute();
        const all = await db.db.selectFrom('deliveries').select('id').execute();
        return pending.length === 0 && all.length === 7 ? true : undefined;
      },
      DEADLINE,
    );
    restarted.child.kill('SIGTERM');
    expect((await restarted.exited(DEADLINE)).code).toBe(0);

    const [sent, resent, next, ...rest] = telegram.messages;
    expect(rest).toEqual([]);
    expect(resent!.text).toBe(sent!.text);
    expect(sent!.text).toContain('<b>5 machines offline</b>');
    for (const name of first) expect(sent!.text).toContain(name);
    for (const name of later) expect(sent!.text).not.toContain(name);
    expect(next!.text).toContain('<b>2 machines offline</b>');
    for (const name of later) expect(next!.text).toContain(name);
    expect(telegram.tooManyRequests).toBe(0);
    // The first five rows share one message; the two later ones another.
    const rows = await db.db.selectFrom('deliveries').select(['machine_id', 'digest_id', 'attempts']).orderBy('id').execute();
    expect(new Set(rows.slice(0, 5).map((r) => r.digest_id)).size).toBe(1);
    expect(new Set(rows.slice(5).map((r) => r.digest_id)).size).toBe(1);
    expect(rows[5]!.digest_id).not.toBe(rows[0]!.digest_id);
  });
});
