import { createLogger, createNotifier, createRedactor, migrateToLatest, openDatabase, systemClock, type DatabaseHandle } from '@lunasentri/shared';
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
  let status: number;
  try {
    status = await runCli(argv, { stdout: process.stdout, stderr: process.stderr, env: process.env }, { serve, admin });
  } catch (error) {
    process.stderr.write(`lunasentri-api: ${error instanceof Error ? error.message : String(error)}\n`);
    status = 1;
  }
  process.exit(status);
}

function openOrReport(path: string): DatabaseHandle | undefined {
  try {
    return openDatabase(path);
  } catch (error) {
    process.stderr.write(`lunasentri-api: cannot open database ${path}: ${error instanceof Error ? error.message : String(error)}\n`);
    return undefined;
  }
}

async function admin(settings: AdminSettings, command: AdminCommand): Promise<number> {
  const handle = openOrReport(settings.db);
  if (!handle) return 1;
  try {
    if (command.kind !== 'migrate') await migrateToLatest(handle.db);
    await runAdminCommand(handle.db, systemClock, command, { stdout: process.stdout, stderr: process.stderr });
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

async function serve(settings: ServeSettings): Promise<number> {
  const redactor = createRedactor();
  const logger = createLogger({ format: settings.logFormat, level: settings.logLevel, redactor });
  const clock = systemClock;
  const handle = openOrReport(settings.db);
  if (!handle) return 1;
  const notifier = createNotifier(settings, { clock, redactor });
  const closeAll = async () => {
    await notifier.close();
    await handle.close();
  };

  let service;
  try {
    await migrateToLatest(handle.db);
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
      keyCacheTtlMs: settings.keyCacheTtl,
      metricsRetentionMs: settings.metricsRetention,
    });
  } catch (error) {
    logger.error(`LunaSentri API could not start: ${error instanceof Error ? error.message : String(error)}`);
    await closeAll();
    await logger.close();
    return 1;
  }

  if (!notifier.telegram) logger.info('Telegram is off: TELEGRAM_BOT_TOKEN is not set (Telegram test sends answer 503)');
  logger.info(`LunaSentri API listening on ${service.url}`, { db: handle.path });

  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  logger.info(`Received ${signal}: finishing requests and writing buffered reports`);
  // A second signal means "now": skip the graceful path.
  const force = () => {
    logger.warn('Second signal: exiting at once');
    process.exit(1);
  };
  process.once('SIGTERM', force);
  process.once('SIGINT', force);
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
