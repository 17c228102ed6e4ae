import { join } from 'node:path';
import { Children, cleanEnv } from '../support/child-process';

/* `npm test` as users and CI run it (scripts/test.sh), here on a fixture file of one passing and one failing test. */
const TEST_SH = join(__dirname, '..', '..', 'scripts', 'test.sh');
const FIXTURES = ['--testMatch', '**/test/scripts/fixtures/*.check.ts'];
const children = new Children();
afterAll(() => children.killAll());

describe('the test command', () => {
  test('ends with "jest: N passed, N failed", exits non-zero on a failure, and prints no temp file path', async () => {
    const result = await children.run('bash', [TEST_SH, ...FIXTURES], cleanEnv(), 240_000);
    expect(result.code).toBe(1);
    expect(result.stdout.trimEnd().split('\n').pop()).toBe('jest: 1 passed, 1 failed');
    expect(`${result.stdout}${result.stderr}`).not.toMatch(/lunasentri-jest|written to/);
  }, 300_000);

  test('a Jest that crashes before it reports still ends with a failure line', async () => {
    const result = await children.run('bash', [TEST_SH, ...FIXTURES, '--config', '{"testMatch": 1}'], cleanEnv(), 240_000);
    expect(result.code).not.toBe(0);
    expect(result.stdout.trimEnd().split('\n').pop()).toBe('jest: 0 passed, 1 failed');
  }, 300_000);
});
