import { Writable } from 'node:stream';
import { createLogger, createRedactor, failureStreak, type Logger } from '@lunasentri/shared';
import { captureStream } from '../../../test/support/capture';

describe('logger', () => {
  test('text lines carry a timestamp and level outside journald', async () => {
    const out = captureStream();
    const logger = createLogger({ stream: out.stream, env: {} });
    logger.info('Heartbeat monitor started (interval: 30s, threshold: 2m0s)');
    await logger.close();
    expect(out.lines()).toHaveLength(1);
    expect(out.lines()[0]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO  Heartbeat monitor started \(interval: 30s, threshold: 2m0s\)$/);
  });

  test('close resolves only once the target stream took every line, however slowly it takes them', async () => {
    // A pipe whose reader is slow: each write completes only when the test says so.
    const written: string[] = [];
    const waiting: Array<() => void> = [];
    const slow = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        written.push(chunk.toString('utf8').trimEnd());
        waiting.push(callback);
      },
    });
    const logger = createLogger({ stream: slow, env: {} });
    for (let i = 0; i < 100; i++) logger.warn(`Machine ${i} (m${i}) went offline`);
    logger.info('Heartbeat monitor stopped');
    let closed = false;
    const closing = logger.close().then(() => (closed = true));
    const turn = () => new Promise((resolve) => setImmediate(resolve));
    await turn();
    while (waiting.length > 0) {
      expect(closed).toBe(false);
      waiting.shift()!();
      await turn();
    }
    await closing;
    expect(written).toHaveLength(101);
    expect(written[100]).toMatch(/INFO  Heartbeat monitor stopped$/);
  });

  test('under journald each line starts with its syslog priority and has no timestamp', async () => {
    const out = captureStream();
    const logger = createLogger({ stream: out.stream, env: { JOURNAL_STREAM: '8:12345' }, level: 'debug' });
    logger.error('boom');
    logger.warn('careful');
    logger.info('Heartbeat monitor started (interval: 30s, threshold: 2m0s)');
    logger.debug('details', { machineId: 1 });
    await logger.close();
    expect(out.lines()).toEqual([
      '<3>boom',
      '<4>careful',
      '<6>Heartbeat monitor started (interval: 30s, threshold: 2m0s)',
      '<7>details machineId=1',
    ]);
  });

  test('the level filters lower levels', async () => {
    const out = captureStream();
    const logger = createLogger({ stream: out.stream, env: {}, level: 'warn' });
    logger.info('hidden');
    logger.warn('shown');
    await logger.close();
    expect(out.text()).not.toContain('hidden');
    expect(out.text()).toContain('shown');
  });

  test('json lines carry the same message', async () => {
    const out = captureStream();
    const logger = createLogger({ stream: out.stream, env: {}, format: 'json' });
    logger.info('Machine 1 (production-server) came back online', { machineId: 1 });
    await logger.close();
    const record = JSON.parse(out.lines()[0]);
    expect(record).toMatchObject({ level: 'info', message: 'Machine 1 (production-server) came back online', machineId: 1 });
    expect(typeof record.timestamp).toBe('string');
  });

  test('secrets never print: bot tokens in URLs, whsec_ secrets, Bearer values, registered secrets', async () => {
    const token = '123456789:AAHf3kQxZ-very_secret_token_value_xyz';
    const redactor = createRedactor([token, 'my plain webhook secret']);
    for (const format of ['text', 'json'] as const) {
      const out = captureStream();
      const logger = createLogger({ stream: out.stream, env: {}, format, redactor });
      logger.error(`request to https://api.telegram.org/bot${token}/sendMessage failed`);
      logger.warn('signing with whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw');
      logger.info('got header', { authorization: 'Bearer lsk_abcdefghijklmnopqrstuvwxyz012345' });
      logger.error(new Error('secret was my plain webhook secret'));
      logger.info('bare token 123456789:AAHf3kQxZ-very_secret_token_value_xyz and x-api-key: k_0123456789abcdef');
      await logger.close();
      const text = out.text();
      expect(text).not.toContain('very_secret_token_value');
      expect(text).not.toContain('MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw');
      expect(text).not.toContain('abcdefghijklmnopqrstuvwxyz012345');
      expect(text).not.toContain('my plain webhook secret');
      expect(text).not.toContain('k_0123456789abcdef');
      expect(text).toContain('[redacted]');
      expect(text).toContain('sendMessage failed');
    }
  });

  test('secrets shorter than 6 characters are not registered (they would mask ordinary words)', () => {
    const redactor = createRedactor(['abc']);
    expect(redactor.redact('abc is fine')).toBe('abc is fine');
  });
});

describe('redactor at scale', () => {
  test('registering ten thousand secrets stays cheap and every one is still masked', () => {
    const redactor = createRedactor();
    const secrets = Array.from({ length: 10_000 }, (_, i) => `plain-secret-number-${i}-xyz`);
    for (const secret of secrets) redactor.add(secret);
    const text = redactor.redact(`a ${secrets[0]} b ${secrets[9_999]} c`);
    expect(text).toBe('a [redacted] b [redacted] c');
  });
});

describe('log line integrity', () => {
  test('a name with a newline, NUL or ANSI escape cannot forge or colour a line', async () => {
    const out = captureStream();
    const logger = createLogger({ stream: out.stream, env: { JOURNAL_STREAM: '8:1' } });
    const name = 'evil)\n<6>Heartbeat monitor stopped\u0000\u001b[31m';
    logger.warn(`Machine 1 (${name}) went offline (last seen: 2m15s ago)`, { hostname: 'a\nb' });
    await logger.close();
    expect(out.lines()).toEqual([
      '<4>Machine 1 (evil)\\n<6>Heartbeat monitor stopped\\u0000\\u001b[31m) went offline (last seen: 2m15s ago) hostname=a\\nb',
    ]);
  });
});

describe('failure streaks', () => {
  test('one error line per streak, debug for the retries, one info line when it works again', async () => {
    const lines: string[] = [];
    const logger = {
      error: (m: string) => lines.push(`error ${m}`),
      warn: (m: string) => lines.push(`warn ${m}`),
      info: (m: string) => lines.push(`info ${m}`),
      debug: (m: string) => lines.push(`debug ${m}`),
    } as unknown as Logger;
    const streak = failureStreak(logger, 'Check');
    streak.succeeded();
    streak.failed(new Error('connection refused'));
    streak.failed(new Error('connection refused'));
    streak.failed('still down');
    expect(streak.failures).toBe(3);
    streak.succeeded();
    streak.failed(new Error('again'));
    expect(lines).toEqual([
      'error Check failed: connection refused (retrying; logged again only when it works)',
      'debug Check failed again (attempt 2): connection refused',
      'debug Check failed again (attempt 3): still down',
      'info Check works again after 3 failed attempt(s)',
      'error Check failed: again (retrying; logged again only when it works)',
    ]);
  });
});
