import {
  ConfigError,
  booleanSetting,
  durationSetting,
  enumSetting,
  integerSetting,
  resolveSettings,
  settingsTable,
  stringSetting,
} from '@lunasentri/shared';

const spec = {
  interval: durationSetting({ flag: 'interval', env: 'MACHINE_HEARTBEAT_CHECK_INTERVAL', default: '30s', doc: 'how often to check' }),
  logFormat: enumSetting({ flag: 'log-format', env: 'LOG_FORMAT', values: ['text', 'json'] as const, default: 'text', doc: 'format' }),
  allowHttp: booleanSetting({ env: 'WEBHOOK_ALLOW_HTTP', default: false, doc: 'allow http' }),
  port: integerSetting({ flag: 'port', env: 'PORT', min: 1, max: 65535, default: 8080, doc: 'port' }),
  token: stringSetting({ env: 'TELEGRAM_BOT_TOKEN', default: '', allowEmpty: true, secret: true, doc: 'bot token' }),
};

describe('settings', () => {
  test('defaults apply when neither flag nor env is given', () => {
    expect(resolveSettings(spec, { env: {} })).toEqual({ interval: 30_000, logFormat: 'text', allowHttp: false, port: 8080, token: '' });
  });

  test('env beats default and flag beats env', () => {
    const env = { MACHINE_HEARTBEAT_CHECK_INTERVAL: '1m', PORT: '9000', WEBHOOK_ALLOW_HTTP: 'true' };
    expect(resolveSettings(spec, { env })).toMatchObject({ interval: 60_000, port: 9000, allowHttp: true });
    expect(resolveSettings(spec, { env, flags: { interval: '15s' } })).toMatchObject({ interval: 15_000 });
  });

  test.each([
    [{ flags: { interval: '2x' } }, 'invalid value for --interval: "2x"'],
    [{ flags: { interval: '0s' } }, 'invalid value for --interval: "0s" (must be a positive duration'],
    [{ flags: { interval: '-1m' } }, 'invalid value for --interval: "-1m"'],
    [{ env: { MACHINE_HEARTBEAT_CHECK_INTERVAL: '' } }, 'invalid value for MACHINE_HEARTBEAT_CHECK_INTERVAL: ""'],
    [{ env: { LOG_FORMAT: 'xml' } }, 'invalid value for LOG_FORMAT: "xml" (must be one of text, json)'],
    [{ env: { PORT: '80a' } }, 'invalid value for PORT: "80a"'],
    [{ env: { PORT: '70000' } }, 'invalid value for PORT: "70000"'],
    [{ env: { WEBHOOK_ALLOW_HTTP: 'maybe' } }, 'invalid value for WEBHOOK_ALLOW_HTTP: "maybe" (must be true or false)'],
  ])('bad input %j fails with one line naming the source and value', (sources, message) => {
    let caught: unknown;
    try {
      resolveSettings(spec, sources);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as Error).message).toContain(message);
    expect((caught as Error).message).not.toContain('\n');
  });

  test('a secret setting never echoes its value in errors or the table', () => {
    const strict = { token: stringSetting({ env: 'TELEGRAM_BOT_TOKEN', default: '', secret: true, doc: 'bot token' }) };
    expect(() => resolveSettings(strict, { env: { TELEGRAM_BOT_TOKEN: '   ' } })).toThrow('(hidden)');
    expect(settingsTable(spec)).toContain('| `--interval DUR` | `MACHINE_HEARTBEAT_CHECK_INTERVAL` | `30s` | how often to check |');
  });
});

describe('duration bounds', () => {
  const bounded = {
    interval: durationSetting({ flag: 'interval', default: '30s', min: '100ms', doc: 'check interval' }),
    timeout: durationSetting({ env: 'WEBHOOK_TIMEOUT', default: '5s', max: '5m', doc: 'timeout' }),
    any: durationSetting({ env: 'ANY', default: '1s', doc: 'unbounded above but for timers' }),
  };

  test.each([
    [{ flags: { interval: '1ns' } }, 'invalid value for --interval: "1ns" (must be at least 100ms)'],
    [{ env: { WEBHOOK_TIMEOUT: '600h' } }, 'invalid value for WEBHOOK_TIMEOUT: "600h" (must be at most 5m0s)'],
    [{ env: { ANY: '600h' } }, 'invalid value for ANY: "600h" (must be at most 596h31m23.647s)'],
  ])('%j is refused with the bound named', (sources, message) => {
    expect(() => resolveSettings(bounded, sources)).toThrow(message);
  });

  test('values inside the bounds pass', () => {
    expect(resolveSettings(bounded, { flags: { interval: '100ms' }, env: { WEBHOOK_TIMEOUT: '5m' } })).toMatchObject({ interval: 100, timeout: 300_000 });
  });
});
