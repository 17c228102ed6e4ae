import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { Cleanups, type Clock, type DatabaseHandle, type Logger, type Notifier } from '@lunasentri/shared';
import { MachineKeyCache } from '../credentials/machine-key.cache';
import { IngestWriter } from '../ingest/ingest.writer';
import { startMetricsRetention } from '../ingest/metrics.retention';
import type * as ApiMetricsModule from '../metrics/api.metrics';
import type { ApiMetrics } from '../metrics/api.metrics';
import type { ApiContext } from '../http/context';
import { buildServer } from '../http/server';
import type { FastPathCounts } from '../ingest/ingest.fast-path';
import { startLiveness } from './liveness.loop';

export interface ApiServiceOptions {
  /** An open, migrated database; its owner closes it. */
  database: DatabaseHandle;
  clock: Clock;
  logger: Logger;
  notifier: Notifier;
  host: string;
  port: number;
  webhookAllowHttp: boolean;
  webhookAllowPrivate: boolean;
  ingestFlushIntervalMs: number;
  /** Per machine, rows are written at most this often (see IngestWriter). */
  ingestMinWriteIntervalMs: number;
  /** Routine reports are gathered this long (see IngestWriter); default 0: every report within the flush interval. */
  ingestSteadyFlushIntervalMs?: number;
  keyCacheTtlMs: number;
  metricsRetentionMs: number;
  /** How often old metrics are pruned; default every 10 minutes. */
  metricsPruneEveryMs?: number;
  /** How often liveness is recorded; default about once a second. */
  livenessBeatMs?: number;
  /** A request must arrive (headers and body) within this; default 30 s. */
  requestTimeoutMs?: number;
  /** On stop, requests still open after this have their connections closed; default 8 s. */
  closeGraceMs?: number;
  /** Busy timeout of the background writers' own connection; default {@link BACKGROUND_BUSY_TIMEOUT_MS}. */
  backgroundBusyTimeoutMs?: number;
  /** Where the API's Prometheus metrics are registered (CONTRACT §7.1); none: no metrics are kept. */
  metricsRegistry?: Registry;
}

/**
 * The background writers (ingest flush, liveness beat, metrics retention, token last-use) wait at most
 * this long for another process's write lock. better-sqlite3 waits synchronously on the event loop, so
 * the shared default (10 s) would freeze every request behind a CLI or daemon transaction; these writers
 * retry with backoff instead.
 */
export const BACKGROUND_BUSY_TIMEOUT_MS = 200;

/** On stop, open requests get this long before their connections are closed. */
export const CLOSE_GRACE_MS = 8_000;

export interface ApiService {
  /** `http://host:port` as bound (the real port when 0 was asked for). */
  url: string;
  port: number;
  ctx: ApiContext;
  /** the API's metrics, when a registry was given */
  metrics?: ApiMetrics;
  /** agent reports the ingest fast path answered (the rest went through the framework's routes) */
  readonly fastPath: FastPathCounts;
  /**
   * Graceful stop: stop accepting, let in-flight requests finish, write buffered reports, record the
   * liveness stop. Does not close the database or the notifier (their owner does).
   */
  stop(): Promise<void>;
  /**
   * Writes buffered reports and records the liveness stop (what `stop()` ends with). For a stop that
   * ran out of time: called before exiting so accepted reports and the stop are still recorded.
   */
  finish(): Promise<void>;
}

/**
 * The ingest write-behind and the liveness beat that waits on it. `finish` writes what ingest holds,
 * then records the liveness stop (what a stop ends with).
 */
async function startIngest(
  options: ApiServiceOptions,
  background: DatabaseHandle,
  cleanups: Cleanups,
  metrics: ApiMetrics | undefined,
): Promise<{ ingest: IngestWriter; finish: () => Promise<void> }> {
  const { clock, logger } = options;
  const store = background.ingestStore();
  // Holds nothing until the first report; its cleanup is registered after the liveness one, so a
  // stop writes the buffered reports before it records that this instance stopped.
  const ingest = new IngestWriter(metrics ? metrics.timedStore(store) : store, clock, logger, {
    flushIntervalMs: options.ingestFlushIntervalMs,
    minWriteIntervalMs: options.ingestMinWriteIntervalMs,
    steadyFlushIntervalMs: options.ingestSteadyFlushIntervalMs,
  });
  // Each beat first writes what ingest holds: no beat while accepted reports are still unwritten.
  const liveness = await startLiveness({ db: options.database.db, beatDb: background.db, clock, logger, beatMs: options.livenessBeatMs, beforeBeat: () => ingest.writeHeld() });
  let livenessStopped: Promise<void> | null = null;
  const stopLiveness = () => (livenessStopped ??= liveness.stop());
  cleanups.add(stopLiveness);

  let ingestClosed: Promise<void> | null = null;
  const closeIngest = () => (ingestClosed ??= ingest.close());
  cleanups.add(closeIngest);
  const finish = async () => {
    try {
      await closeIngest();
    } finally {
      await stopLiveness();
    }
  };
  return { ingest, finish };
}

/**
 * Starts the API on an open, migrated database: registers liveness, listens, prunes metrics in the
 * background. Each resource's cleanup is registered as it is acquired and run in reverse on stop.
 */
export async function startApiService(options: ApiServiceOptions): Promise<ApiService> {
  const { clock, logger } = options;
  const { db } = options.database;
  const cleanups = new Cleanups();
  const runCleanups = async () => {
    await cleanups.run((message) => logger.error(message));
  };

  let finish: () => Promise<void> = async () => {};
  try {
    // Their own connection: a short busy timeout there leaves the request path's connection as it is.
    const background = options.database.reopen({ busyTimeoutMs: options.backgroundBusyTimeoutMs ?? BACKGROUND_BUSY_TIMEOUT_MS });
    cleanups.add(() => background.close());

    const keyLookup = options.database.machineKeyLookup();
    const keyCache = new MachineKeyCache(clock, { ttlMs: options.keyCacheTtlMs, revision: keyLookup.revision });
    // Loaded only with a registry: without metrics, prom-client never enters the process.
    const metrics = options.metricsRegistry ? new (require('../metrics/api.metrics') as typeof ApiMetricsModule).ApiMetrics(options.metricsRegistry, keyCache) : undefined;
    const started = await startIngest(options, background, cleanups, metrics);
    const { ingest } = started;
    finish = started.finish;

    const retention = startMetricsRetention({
      db: background.db,
      clock,
      logger,
      retentionMs: options.metricsRetentionMs,
      everyMs: options.metricsPruneEveryMs ?? 10 * 60_000,
    });
    cleanups.add(() => retention.stop());

    const ctx: ApiContext = {
      db,
      backgroundDb: background.db,
      clock,
      logger,
      notifier: options.notifier,
      webhookPolicy: { allowHttp: options.webhookAllowHttp, allowPrivate: options.webhookAllowPrivate },
      keyCache,
      keyLookup,
      ingest,
    };
    const fastPath: FastPathCounts = { answered: 0 };
    const app = buildServer(ctx, { requestTimeoutMs: options.requestTimeoutMs, metrics, fastPath });
    const graceMs = options.closeGraceMs ?? CLOSE_GRACE_MS;
    // Registered before listening: reports accepted until the very last request are written after it.
    cleanups.add(async () => {
      // server.close() drops only the connections idle at that moment; a keep-alive connection whose
      // in-flight request finishes later would hold the close for the keep-alive timeout (72 s).
      const sweeper = setInterval(() => app.server.closeIdleConnections(), 25);
      let graceTimer: NodeJS.Timeout | undefined;
      try {
        const closing = app.close();
        const late = await Promise.race([
          closing.then(() => false),
          new Promise<boolean>((resolve) => (graceTimer = setTimeout(() => resolve(true), graceMs))),
        ]);
        if (late) {
          // A slow or stuck client must not cost the reports already accepted: cut it off.
          logger.warn(`Requests still open after ${graceMs / 1000}s: closing their connections`);
          app.server.closeAllConnections();
          await Promise.race([closing, new Promise((resolve) => (graceTimer = setTimeout(resolve, 1_000)))]);
        }
      } finally {
        clearTimeout(graceTimer);
        clearInterval(sweeper);
      }
    });
    await app.listen({ host: options.host, port: options.port });
    const address = app.server.address() as AddressInfo;
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    const url = `http://${host}:${address.port}`;

    let stopping: Promise<void> | null = null;
    return {
      url,
      port: address.port,
      ctx,
      metrics,
      fastPath,
      stop: () => (stopping ??= runCleanups()),
      finish,
    };
  } catch (error) {
    await runCleanups();
    throw error;
  }
}
