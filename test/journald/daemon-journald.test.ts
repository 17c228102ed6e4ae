import { join } from 'node:path';
import { migrateToLatest, openDatabase } from '@lunasentri/shared';
import { Children, binary, cleanEnv } from '../support/child-process';
import { tempDir } from '../support/db';
import { startFakeTelegram, type FakeTelegram } from '../support/fake-telegram';
import { insertMachine, insertTelegramRecipient, insertUser } from '../support/fixtures';

const BOT_TOKEN = '246810:journald-test-token-abcdefghijklmnop';

/*
 * Under systemd, stdout/stderr go to the journal and JOURNAL_STREAM is set: every line must start
 * with its syslog priority so `journalctl -p warning` shows only problems.
 */
describe('daemon output under journald', () => {
  const children = new Children();
  const { dir, cleanup } = tempDir('lunasentri-journald-');
  let telegram: FakeTelegram;

  afterAll(async () => {
    await children.killAll();
    await telegram?.close();
    cleanup();
  });

  test('startup, warning and error lines carry <6>, <4> and <3> and no timestamp of their own', async () => {
    // A bot token the (fake) Bot API refuses with 401: a configuration error, which must be loud.
    telegram = await startFakeTelegram({
      token: BOT_TOKEN,
      respond: () => ({ status: 401, body: { ok: false, error_code: 401, description: 'Unauthorized' } }),
    });
    const dbPath = join(dir, 'lunasentri.db');
    const handle = openDatabase(dbPath);
    await migrateToLatest(handle.db);
    const user = await insertUser(handle.db);
    // Online, and silent for far longer than the threshold: it goes offline at the first check (a warning).
    await insertMachine(handle.db, user, { name: 'journald-box', status: 'online', last_seen: new Date(Date.now() - 3_600_000).toISOString() });
    await insertTelegramRecipient(handle.db, user, 1234);
    await handle.close();

    const daemon = children.start(binary('lunasentri-heartbeat'), ['run', '--db', dbPath, '--interval', '1s', '--threshold', '2s'], cleanEnv({
      JOURNAL_STREAM: '8:123456',
      TELEGRAM_BOT_TOKEN: BOT_TOKEN,
      TELEGRAM_API_ROOT: telegram.apiRoot,
    }));
    await daemon.waitForLine('<6>Heartbeat monitor started (interval: 1s, threshold: 2s)', 60_000);
    await daemon.waitForLine(/^<4>Machine 1 \(journald-box\) went offline \(last seen: \S+ ago\)$/, 60_000);
    await daemon.waitForLine(/^<3>.*configuration/, 60_000);

    daemon.child.kill('SIGTERM');
    const finished = await daemon.exited(60_000);
    expect(finished.code).toBe(0);
    const all = `${finished.stdout}${finished.stderr}`.split('\n').filter((l) => l !== '');
    expect(all).toContain('<6>Heartbeat monitor stopped');
    for (const line of all) expect(line).toMatch(/^<[3467]>/);
    // No line carries a timestamp of its own: the journal stamps them.
    for (const line of all) expect(line).not.toMatch(/^<\d>\d{4}-\d\d-\d\dT/);
    expect(all.join('\n')).not.toContain('journald-test-token');
  }, 120_000);
});
