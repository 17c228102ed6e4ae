import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Children, cleanEnv } from '../support/child-process';
import { createTestDb, tempDir } from '../support/db';
import { insertMachine, insertUser, insertWebhook } from '../support/fixtures';
import { startWebhookReceiver } from '../support/webhook-receiver';

/*
 * `npm start` as a user runs it: scripts/start.sh (install check and build included, a few seconds
 * when nothing changed), the API and the daemon as its children, in a process group of their own.
 */
const START = join(__dirname, '..', '..', 'scripts', 'start.sh');
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const children = new Children();
afterAll(() => children.killAll());

describe('npm start', () => {
  const { dir, cleanup } = tempDir('lunasentri-start-');
  afterAll(cleanup);

  test('passes its options on to the process that reads each of them', async () => {
    const db = join(dir, 'options.db');
    const started = children.start('bash', [START, '--threshold', '10s', '--port=0', '--host', '127.0.0.1', '--db', db], cleanEnv(), { detached: true });
    await started.waitForLine('Heartbeat monitor started (interval: 30s, threshold: 10s)', 120_000);
    await started.waitForLine(/LunaSentri API listening on http:\/\/127\.0\.0\.1:\d+/, 60_000);
    expect(started.lines().filter((l) => l.includes(`Using database ${db}`))).toHaveLength(2);
    expect(started.stdout()).toContain(`user create --db ${db} --email you@example.com`);
    started.child.kill('SIGTERM');
    const result = await started.exited(60_000);
    expect(result.code).toBe(0);
    expect(started.lines().filter((l) => /Heartbeat monitor stopped|LunaSentri API stopped/.test(l))).toHaveLength(2);
  }, 180_000);

  test('Ctrl-C stops both once, gracefully: an in-flight send is drained, both log their stop, exit 0', async () => {
    const db = await createTestDb();
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let arrived!: () => void;
    const inFlight = new Promise<void>((resolve) => (arrived = resolve));
    const receiver = await startWebhookReceiver({
      secret: SECRET,
      respond: async () => {
        arrived();
        await released;
        return undefined;
      },
    });
    try {
      const userId = await insertUser(db.db);
      await insertWebhook(db.db, userId, receiver.url, SECRET);
      await insertMachine(db.db, userId, { status: 'online', last_seen: new Date(Date.now() - 3600_000).toISOString() });
      const env = cleanEnv({ WEBHOOK_ALLOW_HTTP: 'true', WEBHOOK_ALLOW_PRIVATE: 'true' });
      const started = children.start('bash', [START, '--db', db.path, '--port', '0', '--host', '127.0.0.1'], env, { detached: true });
      await started.waitForLine(/LunaSentri API listening on/, 120_000);
      await inFlight; // the offline notification is being sent, and its receiver holds it

      // The terminal sends SIGINT to the whole foreground group; npm forwards it to the script too.
      process.kill(-started.child.pid!, 'SIGINT');
      process.kill(started.child.pid!, 'SIGINT');
      await started.waitForLine(/Received SIG(INT|TERM): stopping/, 30_000);
      release();

      const result = await started.exited(60_000);
      const lines = started.lines();
      expect(lines.filter((l) => l.includes('Received SIG'))).toHaveLength(2); // one per process: stopped once
      expect(lines.filter((l) => l.endsWith('Heartbeat monitor stopped'))).toHaveLength(1);
      expect(lines.filter((l) => l.endsWith('LunaSentri API stopped'))).toHaveLength(1);
      expect(result.code).toBe(0);
      // Drained, not cut short: the receiver's answer was recorded.
      expect(await db.db.selectFrom('deliveries').select('status').execute()).toEqual([{ status: 'delivered' }]);
    } finally {
      release();
      await receiver.close();
      await db.dispose();
    }
  }, 180_000);

  test.each<[string, string[], RegExp]>([
    ['an option neither process takes', ['--thresold', '10s'], /^npm start: unknown option '--thresold' \(see npm start -- --help\)$/],
    ['a bad value', ['--threshold', '10'], /^npm start: invalid value for --threshold: "10" \(missing unit in duration "10": add a unit, e\.g\. 10s\)$/],
    ['a missing value', ['--port'], /^npm start: option '--port' needs a value$/],
    ['a stray argument', ['serve'], /^npm start: unexpected argument 'serve'/],
  ])('refuses %s in one line, exit 2, before starting anything', async (_name, args, message) => {
    const db = join(dir, 'refused.db');
    const result = await children.run('bash', [START, ...args, '--db', db], cleanEnv(), 120_000);
    expect(result.code).toBe(2);
    expect(result.stderr.trimEnd().split('\n')).toEqual([expect.stringMatching(message)]);
    expect(existsSync(db)).toBe(false);
  }, 180_000);
});
