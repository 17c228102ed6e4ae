import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Children, cleanEnv } from '../support/child-process';
import { tempDir } from '../support/db';

/*
 * `npm start` as a user runs it: scripts/start.sh (install check and build included, a few seconds
 * when nothing changed), the API and the daemon as its children, in a process group of their own.
 */
const START = join(__dirname, '..', '..', 'scripts', 'start.sh');
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
    await started.exited(60_000);
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
