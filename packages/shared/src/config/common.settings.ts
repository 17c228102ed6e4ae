import { booleanSetting, durationSetting, enumSetting, listenAddressSetting, stringSetting } from './settings';

/** Where both processes find the shared database: a SQLite file, or a `postgres://` URL. */
export const dbSettings = {
  db: stringSetting({
    flag: 'db',
    primaryEnv: 'DATABASE_URL',
    env: 'DB_PATH',
    valueName: 'PATH|URL',
    default: './data/lunasentri.db',
    doc: 'the database shared by the API and the daemon: a SQLite file path, or a postgres:// URL for PostgreSQL',
  }),
};

export const logSettings = {
  logFormat: enumSetting({ flag: 'log-format', env: 'LOG_FORMAT', values: ['text', 'json'] as const, default: 'text', doc: 'log line format' }),
  logLevel: enumSetting({ flag: 'log-level', env: 'LOG_LEVEL', values: ['error', 'warn', 'info', 'debug'] as const, default: 'info', doc: 'lowest level logged' }),
};

/** Notifier settings, read by the daemon (deliveries) and the API (URL checks, test sends). */
export const notifySettings = {
  webhookAllowHttp: booleanSetting({ env: 'WEBHOOK_ALLOW_HTTP', default: false, doc: 'allow plain http:// webhook URLs' }),
  webhookAllowPrivate: booleanSetting({ env: 'WEBHOOK_ALLOW_PRIVATE', default: false, doc: 'allow webhook hosts on loopback, private, link-local and unique-local addresses' }),
  webhookTimeout: durationSetting({ env: 'WEBHOOK_TIMEOUT', default: '5s', min: '100ms', max: '5m', doc: 'time limit for one webhook request' }),
  telegramBotToken: stringSetting({ env: 'TELEGRAM_BOT_TOKEN', default: '', allowEmpty: true, secret: true, valueName: 'TOKEN', doc: 'Telegram bot token; Telegram is off when unset' }),
  telegramApiRoot: stringSetting({ env: 'TELEGRAM_API_ROOT', default: 'https://api.telegram.org', valueName: 'URL', doc: 'Telegram Bot API root' }),
};

/** Prometheus metrics (CONTRACT §7.1), on a port of their own; both processes read it. */
export const metricsSettings = {
  metricsListen: listenAddressSetting({
    flag: 'metrics-listen',
    env: 'METRICS_LISTEN',
    doc: 'serve Prometheus metrics at http://HOST:PORT/metrics (off when unset; port 0 picks a free one)',
  }),
};
