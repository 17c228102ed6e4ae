import {
  createLogger,
  createMetricsRegistry,
  createNotifier,
  createRedactor,
  databaseSecrets,
  describeDatabase,
  errorMessage,
  installSignalHandlers,
  migrateToLatest,
  openDatabase,
  openFailureMessage,
  parseListenAddress,
  startMetricsServer,
  systemClock,
  type DatabaseHandle,
  type MetricsServer,
  type ProcessSignals,
} from '@lunasentri/shared';
import { AdminError, runAdminCommand } from './cli/admin.commands';
import { runCli, type AdminCommand, type AdminSettings, type ServeSettings } from './cli/cli.program';
import { startApiService } from './service/api.service';

/** A stop that takes longer than this is abandoned (exit 1) rather than hanging a service manager. */
const STOP_DEADLINE_MS = 15_000;
/** Past the deadline, writing buffered reports and the liveness stop gets at most this long. */
const FINISH_BOUND_MS = 3_000;

/**
 * The composition root: the only place that reads the real clock, builds db, logger and notifier,
 * handles signals and calls `process.exit`.
 */
export async function main(argv: string[]): Promise<void> {
  // Before anything starts: a signal during startup is then a graceful stop once started.
  const signals = installSignalHandlers({ exit: (code) => process.exit(code) });
  let status: number;
  try {
    const handlers = {
      serve: (settings: ServeSettings) => serve(settings, signals),
      admin: (settings: AdminSettings, command: AdminCommand) => {
        // An admin command has nothing to drain: its first signal ends it.
        signals.exitOnFirstSignal();
        return admin(settings, command);
      },
    };
    status = await runCli(argv, { stdout: process.stdout, stderr: process.stderr, env: process.env }, handlers);
  } catch (error) {
    process.stderr.write(`lunasentri-api: ${errorMessage(error)}\n`);
    status = 1;
  }
  process.exit(status);
}

/** Opens the database, or writes the one line saying why not (a missing file: how to create it). */
function openOrReport(path: string, create: boolean): DatabaseHandle | undefined {
  try {
    return openDatabase(path, { create });
  } catch (error) {
    process.stderr.write(`lunasentri-api: ${openFailureMessage(path, error)}\n`);
    return undefined;
  }
}

/** Only `migrate` may create a database: any other admin command on a missing file is a wrong path. */
async function admin(settings: AdminSettings, command: AdminCommand): Promise<number> {
  const handle = openOrReport(settings.db, command.kind === 'migrate');
  if (!handle) return 1;
  try {
    if (command.kind !== 'migrate') await migrateToLatest(handle.db);
    await runAdminCommand(handle.db, systemClock, command, { stdout: process.stdout, stderr: process.stderr, database: describeDatabase(settings.db) });
    return 0;
  } catch (error) {
    if (error instanceof AdminError) {
      process.stderr.write(`lunasentri-api: ${error.message}\n`);
      return 1;
    }
    throw error;
  } finally {
    await handle.close();
  }
}

/** Resolves with the name of the first SIGTERM/SIGINT (at once if one already came during startup). */
function firstSignal(signal: AbortSignal): Promise<string> {
  if (signal.aborted) return Promise.resolve(String(signal.reason));
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(String(signal.reason)), { once: true }));
}

async function serve(settings: ServeSettings, signals: ProcessSignals): Promise<number> {
  const redactor = createRedactor(databaseSecrets(settings.db));
  const logger = createLogger({ format: settings.logFormat, level: settings.logLevel, redactor });
  const clock = systemClock;
  logger.info(`Using database ${describeDatabase(settings.db)}`);
  const handle = openOrReport(settings.db, true);
  if (!handle) {
    await logger.close();
    return 1;
  }
  const notifier = createNotifier(settings, { clock, redactor });
  let metricsServer: MetricsServer | undefined;
  const closeAll = async () => {
    await metricsServer?.close();
    await notifier.close();
    await handle.close();
  };

  let service;
  try {
    await migrateToLatest(handle.db);
    const metricsRegistry = settings.metricsListen ? createMetricsRegistry() : undefined;
    if (metricsRegistry) {
      metricsServer = await startMetricsServer({ listen: parseListenAddress(settings.metricsListen), registry: metricsRegistry, logger });
      logger.info(`Metrics at ${metricsServer.url}`);
    }
    service = await startApiService({
      database: handle,
      clock,
      logger,
      notifier,
      host: settings.host,
      port: settings.port,
      webhookAllowHttp: settings.webhookAllowHttp,
      webhookAllowPrivate: settings.webhookAllowPrivate,
      ingestFlushIntervalMs: settings.ingestFlushInterval,
      ingestMinWriteIntervalMs: settings.ingestMinWriteInterval,
      ingestSteadyFlushIntervalMs: settings.ingestSteadyFlushInterval,
      keyCacheTtlMs: settings.keyCacheTtl,
      metricsRetentionMs: settings.metricsRetention,
      metricsRegistry,
    });
  } catch (error) {
    logger.error(`LunaSentri API could not start: ${errorMessage(error)}`);
    await closeAll();
    await logger.close();
    return 1;
  }

  if (!notifier.telegram) logger.info('Telegram is off: TELEGRAM_BOT_TOKEN is not set (Telegram test sends answer 503)');
  logger.info(`LunaSentri API listening on ${service.url}`, { db: handle.path });

  const signal = await firstSignal(signals.signal);
  // A second signal means "now": the shell exits at once, skipping the graceful path.
  logger.info(`Received ${signal}: finishing requests and writing buffered reports (a second signal exits at once)`);
  const deadline = setTimeout(() => {
    logger.error(`Stop took longer than ${STOP_DEADLINE_MS / 1000}s: writing buffered reports, then exiting`);
    // Even on this path, accepted (202) reports and the liveness stop are recorded, within a bound.
    const bound = new Promise((resolve) => setTimeout(resolve, FINISH_BOUND_MS).unref());
    void Promise.race([service.finish().catch(() => undefined), bound]).finally(() => process.exit(1));
  }, STOP_DEADLINE_MS);
  deadline.unref();

  await service.stop();
  await closeAll();
  logger.info('LunaSentri API stopped');
  await logger.close();
  clearTimeout(deadline);
  return 0;
}
