import {
  Cleanups,
  UsageError,
  createLogger,
  createMetricsRegistry,
  createNotifier,
  createRedactor,
  databaseSecrets,
  describeDatabase,
  errorMessage,
  formatDuration,
  installSignalHandlers,
  migrateToLatest,
  openDatabase,
  openFailureMessage,
  parseListenAddress,
  pendingMigrations,
  readIngestLiveness,
  recordBeat,
  recordStopped,
  registerInstance,
  startMetricsServer,
  systemClock,
  type DatabaseHandle,
  type Logger,
  type OpenOptions,
} from '@lunasentri/shared';
import { parseCommandLine } from './cli';
import { flapSettingsOf, type RunSettings, type StatusSettings } from './daemon.settings';
import { holderStaleMs } from './dispatch/claims.models';
import { createDispatcher, type Dispatcher } from './dispatch/dispatcher.usecases';
import { createHousekeeping, type Housekeeping } from './dispatch/housekeeping.usecases';
import type * as DaemonMetricsModule from './metrics/daemon.metrics';
import type { DaemonMetrics } from './metrics/daemon.metrics';
import { runMonitor } from './monitor.loop';
import { printStatus } from './status.command';
import { createSweeper, type Sweeper } from './sweep/sweep.usecases';

/** In-flight sends get this long to finish on shutdown (CONTRACT §2). */
const DRAIN_MS = 10_000;

interface Daemon {
  handle: DatabaseHandle;
  instanceId: string;
  sweeper: Sweeper;
  dispatcher: Dispatcher;
  housekeeping: Housekeeping;
}

/** Opens the database; a failure names it (the driver's own "unable to open database file" does not). */
function openNamed(location: string, options?: OpenOptions): DatabaseHandle {
  try {
    return openDatabase(location, options);
  } catch (error) {
    throw new Error(openFailureMessage(location, error));
  }
}

/**
 * With `--metrics-listen`: the metrics and their server. Its cleanup is registered before the rest,
 * so it runs late: a scrape during the drain is still answered, and it is closed before the database.
 */
async function startMetrics(settings: RunSettings, handle: DatabaseHandle, logger: Logger, cleanups: Cleanups): Promise<DaemonMetrics | undefined> {
  if (!settings.metricsListen) return undefined;
  const registry = createMetricsRegistry();
  // Loaded only here: without `--metrics-listen`, prom-client never enters the process.
  const { DaemonMetrics } = require('./metrics/daemon.metrics') as typeof DaemonMetricsModule;
  const metrics = new DaemonMetrics({ registry, db: handle.db, clock: systemClock, logger });
  const server = await startMetricsServer({ listen: parseListenAddress(settings.metricsListen), registry, logger });
  cleanups.add(() => server.close());
  logger.info(`Metrics at ${server.url}`);
  return metrics;
}

/** Opens, migrates and builds everything `run` needs, registering each cleanup as its resource is acquired. */
async function buildDaemon(settings: RunSettings, logger: Logger, redactor: ReturnType<typeof createRedactor>, cleanups: Cleanups): Promise<Daemon> {
  const clock = systemClock;
  logger.info(`Using database ${describeDatabase(settings.db)}`);
  const handle = openNamed(settings.db);
  cleanups.add(() => handle.close());
  await migrateToLatest(handle.db);
  const metrics = await startMetrics(settings, handle, logger, cleanups);
  // It beats after checks, and checks at least once per interval.
  const instanceId = await registerInstance(handle.db, 'daemon', clock, { beatEveryMs: settings.interval });
  cleanups.add(() => recordStopped(handle.db, instanceId, clock));

  const notifier = createNotifier(settings, { clock, redactor });
  cleanups.add(() => notifier.close());
  if (!notifier.telegram) logger.info('Telegram notifications are off (TELEGRAM_BOT_TOKEN is not set)');
  if (!(await readIngestLiveness(handle.db, clock.now())).everRecorded) {
    logger.info('No API liveness recorded in this database yet: checking normally (ingest outages are recognised once the API has run)');
  }

  const dispatcher = createDispatcher({
    db: handle.db,
    clock,
    logger,
    instanceId,
    sender: notifier,
    redactor,
    // A claim must outlast any single send (Telegram's limit is 10 s).
    leaseMs: Math.max(30_000, settings.webhookTimeout * 2),
    telegramWindowMs: settings.telegramGroupWindow,
    onOutcomes: metrics?.outcomesRecorded,
  });
  // Registered after the notifier, so it runs before the senders close: sends drain first.
  cleanups.add(() => dispatcher.stop(DRAIN_MS));
  const housekeeping = createHousekeeping({
    db: handle.db,
    clock,
    logger,
    instanceId,
    channels: notifier.channels,
    holderStaleMs: holderStaleMs(settings.interval),
    onReleased: () => dispatcher.wake(),
    onExpired: metrics?.outcomesRecorded,
  });
  cleanups.add(() => housekeeping.stop());
  // Each committed batch of a long sweep wakes the dispatcher: delivery starts before the sweep ends.
  const sweep = createSweeper({
    db: handle.db,
    clock,
    logger,
    thresholdMs: settings.threshold,
    intervalMs: settings.interval,
    flap: flapSettingsOf(settings),
    onDeliveries: () => dispatcher.wake(),
    // New deliveries go to the dispatcher claimed as they are written: a burst is never read back to be claimed.
    handoff: dispatcher.handoff,
  });
  const sweeper = metrics ? metrics.observe(sweep) : sweep;
  return { handle, instanceId, sweeper, dispatcher, housekeeping };
}

/** The composition root of `run`: builds everything once, hands it down, tears it down in reverse. */
async function runDaemon(settings: RunSettings, once: boolean, signal: AbortSignal): Promise<number> {
  const redactor = createRedactor([settings.telegramBotToken, ...databaseSecrets(settings.db)]);
  const logger = createLogger({ format: settings.logFormat, level: settings.logLevel, redactor });
  const cleanups = new Cleanups();
  cleanups.add(() => logger.close());
  let started = false;
  cleanups.add(() => {
    if (started) logger.info('Heartbeat monitor stopped');
  });
  try {
    const { handle, instanceId, sweeper, dispatcher, housekeeping } = await buildDaemon(settings, logger, redactor, cleanups);
    const onAbort = () => logger.info(`Received ${String(signal.reason)}: stopping (a second signal exits at once)`);
    signal.addEventListener('abort', onAbort, { once: true });
    cleanups.add(() => signal.removeEventListener('abort', onAbort));

    started = true;
    logger.info(`Heartbeat monitor started (interval: ${formatDuration(settings.interval)}, threshold: ${formatDuration(settings.threshold)})`);
    if (signal.aborted) return 0;
    const beat = () => recordBeat(handle.db, instanceId, systemClock);
    if (once) {
      await sweeper.run(signal);
      await beat();
      await housekeeping.runOnce();
      await dispatcher.runDue(signal);
      return 0;
    }
    housekeeping.start();
    dispatcher.start();
    const changes = handle.changeFeed();
    cleanups.add(() => changes.close());
    await runMonitor({ changes, clock: systemClock, logger, sweeper, dispatcher, beat, intervalMs: settings.interval }, signal);
    return 0;
  } catch (error) {
    logger.error(`Heartbeat monitor failed: ${errorMessage(error)}`);
    return 1;
  } finally {
    await cleanups.run((message) => logger.error(message));
  }
}

/**
 * `status` only reads: a path that does not exist is a mistake (a typo), never a reason to create a
 * folder and an empty database, and an existing file is not migrated (that is the daemon's and the
 * API's business).
 */
async function runStatus(settings: StatusSettings, json: boolean): Promise<number> {
  const fail = (message: string) => {
    process.stderr.write(`lunasentri-heartbeat: ${message}\n`);
    return 1;
  };
  let handle: DatabaseHandle;
  try {
    handle = openNamed(settings.db, { create: false });
  } catch (error) {
    return fail(errorMessage(error));
  }
  try {
    // The listing reads columns of every migration: an older database is named, not half-read.
    const pending = await pendingMigrations(handle.db);
    if (pending.length > 0) return fail(`the database at ${handle.path} lacks ${pending.length} migration(s) of this version; run lunasentri-api migrate --db ${handle.path} first`);
    await printStatus(handle.db, systemClock, { json }, (text) => process.stdout.write(text));
    return 0;
  } catch (error) {
    return fail(`status failed: ${createRedactor(databaseSecrets(settings.db)).redact(errorMessage(error))}`);
  } finally {
    await handle.close();
  }
}

/**
 * Entry point of the `lunasentri-heartbeat` binary. The only place that exits the process: 0 after
 * a clean stop, 1 on failure, 2 on a bad command line or setting; a second SIGTERM/SIGINT exits at
 * once with 128 + the signal number.
 */
export async function main(argv: string[]): Promise<void> {
  const signals = installSignalHandlers({ exit: (code) => process.exit(code) });
  let code: number;
  try {
    const command = parseCommandLine(argv, process.env, {
      out: (text) => process.stdout.write(text),
      err: (text) => process.stderr.write(text),
    });
    if (command.kind === 'run') code = await runDaemon(command.settings, command.once, signals.signal);
    else if (command.kind === 'status') {
      // `status` only reads and prints: nothing to drain, so its first signal exits at once.
      signals.exitOnFirstSignal();
      code = await runStatus(command.settings, command.json);
    } else code = 0;
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`lunasentri-heartbeat: ${error.message}\n`);
      code = error.exitCode;
    } else {
      process.stderr.write(`lunasentri-heartbeat: ${createRedactor().redact(errorMessage(error))}\n`);
      code = 1;
    }
  }
  process.exit(code);
}
