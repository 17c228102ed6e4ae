import { existsSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import {
  createLogger,
  createNotifier,
  createRedactor,
  formatDuration,
  migrateToLatest,
  openDatabase,
  readIngestLiveness,
  recordBeat,
  recordStopped,
  registerInstance,
  renderTelegramMessage,
  systemClock,
  type Logger,
} from '@lunasentri/shared';
import { holderStaleMs } from './claims.models';
import { parseCommandLine, UsageError } from './cli';
import type { RunSettings, StatusSettings } from './daemon.settings';
import { createDispatcher } from './dispatcher.usecases';
import { runMonitor } from './monitor.loop';
import { printStatus } from './status.command';
import { createSweeper } from './sweep.usecases';

/** In-flight sends get this long to finish on shutdown (CONTRACT §2). */
const DRAIN_MS = 10_000;

type Cleanup = () => Promise<unknown> | unknown;

/** Runs cleanups in reverse order of acquisition; one failing does not stop the others. */
async function runCleanups(cleanups: Cleanup[], logger: Logger | null): Promise<void> {
  for (const cleanup of cleanups.reverse()) {
    try {
      await cleanup();
    } catch (error) {
      const text = `Shutdown step failed: ${error instanceof Error ? error.message : String(error)}`;
      if (logger) logger.error(text);
      else process.stderr.write(`${text}\n`);
    }
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The composition root of `run`: builds everything once, hands it down, tears it down in reverse. */
async function runDaemon(settings: RunSettings, once: boolean, signal: AbortSignal): Promise<number> {
  const clock = systemClock;
  const redactor = createRedactor([settings.telegramBotToken]);
  const logger = createLogger({ format: settings.logFormat, level: settings.logLevel, redactor });
  const cleanups: Cleanup[] = [() => logger.close()];
  let started = false;
  cleanups.push(() => {
    if (started) logger.info('Heartbeat monitor stopped');
  });
  try {
    const handle = openDatabase(settings.db);
    cleanups.push(() => handle.close());
    await migrateToLatest(handle.db);
    const instanceId = await registerInstance(handle.db, 'daemon', clock);
    cleanups.push(() => recordStopped(handle.db, instanceId, clock));

    const notifier = createNotifier(settings, { clock, redactor });
    cleanups.push(() => notifier.close());
    if (!notifier.telegram) logger.info('Telegram notifications are off (TELEGRAM_BOT_TOKEN is not set)');
    const liveness = await readIngestLiveness(handle.db, clock.now());
    if (!liveness.everRecorded) {
      logger.info('No API liveness recorded in this database yet: checking normally (ingest outages are recognised once the API has run)');
    }

    const dispatcher = createDispatcher({
      db: handle.db,
      clock,
      logger,
      instanceId,
      webhook: notifier.webhook,
      telegram: notifier.telegram,
      renderTelegram: renderTelegramMessage,
      redactor,
      // A claim must outlast any single send (Telegram's limit is 10 s).
      leaseMs: Math.max(30_000, settings.webhookTimeout * 2),
      holderStaleMs: holderStaleMs(settings.interval),
    });
    // Registered after the notifier, so it runs before the senders close: sends drain first.
    cleanups.push(() => dispatcher.stop(DRAIN_MS));
    // Each committed batch of a long sweep wakes the dispatcher: delivery starts before the sweep ends.
    const sweeper = createSweeper({ db: handle.db, clock, logger, thresholdMs: settings.threshold, onDeliveries: () => dispatcher.wake() });

    const onAbort = () => logger.info(`Received ${String(signal.reason)}: stopping (a second signal exits at once)`);
    signal.addEventListener('abort', onAbort, { once: true });
    cleanups.push(() => signal.removeEventListener('abort', onAbort));

    started = true;
    logger.info(`Heartbeat monitor started (interval: ${formatDuration(settings.interval)}, threshold: ${formatDuration(settings.threshold)})`);
    if (signal.aborted) return 0;
    if (once) {
      await sweeper.run(signal);
      await recordBeat(handle.db, instanceId, clock);
      await dispatcher.runDue(signal);
    } else {
      dispatcher.start();
      await runMonitor(
        { handle, clock, logger, sweeper, dispatcher, instanceId, intervalMs: settings.interval, thresholdMs: settings.threshold },
        signal,
      );
    }
    return 0;
  } catch (error) {
    logger.error(`Heartbeat monitor failed: ${errorText(error)}`);
    return 1;
  } finally {
    await runCleanups(cleanups, logger);
  }
}

/**
 * `status` only reads: a path that does not exist is a mistake (a typo), never a reason to create a
 * folder and an empty database, and an existing file is not migrated (that is the daemon's and the
 * API's business).
 */
async function runStatus(settings: StatusSettings, json: boolean): Promise<number> {
  if (!existsSync(settings.db)) {
    process.stderr.write(`lunasentri-heartbeat: status: no database at ${settings.db}\n`);
    return 1;
  }
  let handle: ReturnType<typeof openDatabase>;
  try {
    handle = openDatabase(settings.db);
  } catch (error) {
    process.stderr.write(`lunasentri-heartbeat: status failed: ${createRedactor().redact(errorText(error))}\n`);
    return 1;
  }
  try {
    await printStatus(handle.db, systemClock, { json }, (text) => process.stdout.write(text));
    return 0;
  } catch (error) {
    process.stderr.write(`lunasentri-heartbeat: status failed: ${createRedactor().redact(errorText(error))}\n`);
    return 1;
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
  const controller = new AbortController();
  // `status` only reads and prints: nothing to drain, so its first signal exits at once.
  let exitOnFirstSignal = false;
  const onSignal = (name: NodeJS.Signals) => {
    if (exitOnFirstSignal || controller.signal.aborted) process.exit(128 + (osConstants.signals[name] ?? 0));
    controller.abort(name);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  let code: number;
  try {
    const command = parseCommandLine(argv, process.env, {
      out: (text) => process.stdout.write(text),
      err: (text) => process.stderr.write(text),
    });
    if (command.kind === 'run') code = await runDaemon(command.settings, command.once, controller.signal);
    else if (command.kind === 'status') {
      exitOnFirstSignal = true;
      code = await runStatus(command.settings, command.json);
    } else code = 0;
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`lunasentri-heartbeat: ${error.message}\n`);
      code = error.exitCode;
    } else {
      process.stderr.write(`lunasentri-heartbeat: ${createRedactor().redact(errorText(error))}\n`);
      code = 1;
    }
  }
  process.exit(code);
}
