import { createLogger, openDatabase, migrateToLatest, type DatabaseHandle, type Logger } from '@lunasentri/shared';
import { captureStream } from '../../../test/support/capture';

/** A debug-level text logger whose lines the test can read (timestamps stripped). */
export function testLogger(): { logger: Logger; messages: () => Promise<string[]> } {
  const capture = captureStream();
  const logger = createLogger({ stream: capture.stream, level: 'debug', journald: true, env: {} });
  // journald mode: `<N>message`, no timestamp; handy for exact assertions.
  // winston hands lines to its stream a tick later.
  const messages = async () => {
    await new Promise((resolve) => setImmediate(resolve));
    return capture.lines().map((l) => l.replace(/^<\d>/, ''));
  };
  return { logger, messages };
}

/** A second connection to the same file: another daemon, or the API writing heartbeats. */
export async function secondConnection(path: string): Promise<DatabaseHandle> {
  const handle = openDatabase(path);
  await migrateToLatest(handle.db);
  return handle;
}
