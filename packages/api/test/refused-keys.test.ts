import type { Logger } from '@lunasentri/shared';
import { describeEachEngine } from '../../../test/support/engines';
import { TestClock } from '../../../test/support/test-clock';
import { RefusedKeysReporter, type KeyRefusal } from '../src/credentials/refused-keys.reporter';
import { AGENT_STEADY_REPORT, call, eventually, newUser, startTestApi, type TestApi } from './support/harness';

/** Only what the reporter calls: warn lines, kept in order. */
function recordingLogger() {
  const lines: Array<{ message: string; meta: Record<string, unknown> }> = [];
  const logger = { warn: (message: string, meta: Record<string, unknown>) => lines.push({ message, meta }) } as unknown as Logger;
  return { logger, lines };
}

describe('refused agent keys are logged at a bounded rate', () => {
  type Step = [atSeconds: number, reason: KeyRefusal | 'flush'];
  test.each<[string, Step[], Array<[total: number, since: number, counts: Partial<Record<KeyRefusal, number>>]>]>([
    ['a lone refusal is logged at once', [[0, 'invalid_key']], [[1, 0, { invalid_key: 1 }]]],
    [
      'a burst costs one line, and its count goes out with the first refusal a minute later',
      [[0, 'invalid_key'], [1, 'invalid_key'], [2, 'missing_key'], [59, 'personal_token'], [60, 'invalid_key']],
      [
        [1, 0, { invalid_key: 1 }],
        [4, 1, { invalid_key: 2, missing_key: 1, personal_token: 1 }],
      ],
    ],
    ['counting restarts after each line', [[0, 'invalid_key'], [60, 'invalid_key'], [130, 'invalid_key']], [[1, 0, {}], [1, 60, {}], [1, 130, {}]]],
    ['a stop writes what was counted since the last line', [[0, 'invalid_key'], [10, 'missing_key'], [20, 'flush']], [[1, 0, {}], [1, 10, { missing_key: 1 }]]],
    ['a stop with nothing counted writes nothing', [[0, 'invalid_key'], [5, 'flush']], [[1, 0, {}]]],
    ['a clock set back does not silence the log', [[100, 'invalid_key'], [40, 'invalid_key']], [[1, 100, {}], [1, 40, {}]]],
  ])('%s', (_name, steps, expected) => {
    const start = Date.parse('2026-11-28T03:00:00.000Z');
    const clock = new TestClock(start);
    const { logger, lines } = recordingLogger();
    const reporter = new RefusedKeysReporter(clock, logger);
    for (const [at, reason] of steps) {
      clock.set(start + at * 1_000);
      if (reason === 'flush') reporter.flush();
      else reporter.note(reason, '192.0.2.7');
    }
    expect(lines.map((l) => [l.message, l.meta.since])).toEqual(
      expected.map(([total, since]) => [`Refused ${total} agent request${total === 1 ? '' : 's'} without a valid machine API key`, new Date(start + since * 1_000).toISOString()]),
    );
    expected.forEach(([, , counts], i) => expect(lines[i].meta).toMatchObject({ ...counts, last_ip: '192.0.2.7' }));
  });
});

describeEachEngine('refused agent keys in the API log', (engine) => {
  let api: TestApi;
  beforeEach(async () => {
    api = await startTestApi({ engine });
  });
  afterEach(() => api.dispose());

  const refusalLines = () => api.logs().split('\n').filter((line) => line.includes('agent request') && line.includes('without a valid machine API key'));

  it('writes one warn line per minute with the count, never the key or token', async () => {
    const user = await newUser(api, 'owner@example.com');
    const keys = Array.from({ length: 20 }, (_, i) => `lsk_guessed-key-number-${i}-abcdefghijklmnopqrstuvwxyz`);
    for (const key of keys) expect((await call(api.url, 'POST', '/agent/metrics', { auth: key, json: AGENT_STEADY_REPORT })).status).toBe(401);
    expect((await call(api.url, 'POST', '/agent/heartbeat')).status).toBe(401);
    expect((await call(api.url, 'POST', '/agent/heartbeat', { auth: user.token })).status).toBe(401);

    api.clock.advance(60_000);
    expect((await call(api.url, 'POST', '/agent/heartbeat', { headers: { 'x-api-key': 'lsk_one-more' } })).status).toBe(401);
    // Lines are written in order: once the second is there, nothing came in between.
    await eventually(() => (refusalLines().length >= 2 ? true : undefined));
    const lines = refusalLines();
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/WARN .*Refused 1 agent request without a valid machine API key .*invalid_key=1/);
    expect(lines[1]).toMatch(/Refused 22 agent requests without a valid machine API key missing_key=1 invalid_key=20 personal_token=1 since=2026-11-28T03:00:00.000Z last_ip=127.0.0.1/);
    const log = api.logs();
    for (const secret of [...keys, user.token, 'lsk_one-more']) expect(log).not.toContain(secret);
  });

  it('writes the count still pending when the API stops', async () => {
    for (let i = 0; i < 3; i++) await call(api.url, 'POST', '/agent/heartbeat', { auth: `lsk_stale-${i}` });
    await api.stop();
    expect(refusalLines().map((line) => /Refused (\d+)/.exec(line)?.[1])).toEqual(['1', '2']);
  });
});
