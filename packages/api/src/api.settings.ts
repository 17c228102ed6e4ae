import { parseDuration, dbSettings, durationSetting, integerSetting, logSettings, metricsSettings, notifySettings, stringSetting } from '@lunasentri/shared';

/** Where `serve` listens (CONTRACT §5). */
export const listenSettings = {
  port: integerSetting({ flag: 'port', env: 'PORT', min: 0, max: 65535, default: 8080, doc: 'TCP port to listen on (0: any free port)' }),
  host: stringSetting({ flag: 'host', env: 'HOST', valueName: 'ADDR', default: '0.0.0.0', doc: 'address to listen on' }),
};

/** The ingest hot path and metrics history. */
export const ingestSettings = {
  ingestFlushInterval: durationSetting({
    env: 'INGEST_FLUSH_INTERVAL',
    default: '25ms',
    doc: "how long news (a machine's first report, a return after a silence) is gathered before one transaction writes it; routine reports wait INGEST_STEADY_FLUSH_INTERVAL (a crash loses at most that window)",
  }),
  ingestSteadyFlushInterval: durationSetting({
    env: 'INGEST_STEADY_FLUSH_INTERVAL',
    default: '1s',
    doc: 'reports of machines keeping their usual pace are gathered this long into one transaction (at a low rate, one transaction a second instead of one per report); at most INGEST_FLUSH_INTERVAL',
  }),
  ingestMinWriteInterval: {
    ...durationSetting({
      env: 'INGEST_MIN_WRITE_INTERVAL',
      default: '1s',
      doc: "per machine, rows are written at most this often: faster reports coalesce (last_seen takes the latest, history keeps one sample); 0 writes every report's last_seen",
    }),
    // 0 is meaningful here (no per-machine coalescing), unlike most durations.
    parse: (raw: string) => {
      const ms = parseDuration(raw);
      if (ms < 0) throw new Error('must be 0 or a positive duration such as 500ms or 1s');
      return ms;
    },
  },
  keyCacheTtl: durationSetting({
    env: 'KEY_CACHE_TTL',
    default: '5m',
    doc: 'how long a machine key lookup is cached at most (key and enable/disable changes made by any process are seen within about a second)',
  }),
  metricsRetention: durationSetting({ env: 'METRICS_RETENTION', default: '168h', doc: 'how long metrics history rows are kept' }),
};

/** Everything `lunasentri-api serve` reads. */
export const serveSettings = { ...dbSettings, ...listenSettings, ...metricsSettings, ...logSettings, ...notifySettings, ...ingestSettings };

/** The admin commands (`user create`, `migrate`, …) only need the database. */
export const adminSettings = { ...dbSettings };
