import type SqliteDatabase from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import {
  createChannelSender,
  createLogger,
  openDatabase,
  migrateToLatest,
  type Clock,
  type Database,
  type DatabaseHandle,
  type Logger,
  type TelegramSender,
  type WebhookSender,
} from '@lunasentri/shared';
import { captureStream } from '../../../test/support/capture';
import { createDispatcher, type Dispatcher, type DispatcherDeps } from '../src/dispatch/dispatcher.usecases';

const LEVELS: Record<string, string> = { '3': 'error', '4': 'warn', '6': 'info', '7': 'debug' };

/** A debug-level text logger whose lines the test can read (timestamps stripped), with their levels if needed. */
export function testLogger(): { logger: Logger; messages: () => Promise<string[]>; leveled: () => Promise<string[]> } {
  const capture = captureStream();
  const logger = createLogger({ stream: capture.stream, level: 'debug', journald: true, env: {} });
  // journald mode: `<N>message`, no timestamp; handy for exact assertions.
  // winston hands lines to its stream a tick later.
  const messages = async () => {
    await new Promise((resolve) => setImmediate(resolve));
    return capture.lines().map((l) => l.replace(/^<\d>/, ''));
  };
  /** `warn: message` */
  const leveled = async () => {
    await new Promise((resolve) => setImmediate(resolve));
    return capture.lines().map((l) => l.replace(/^<(\d)>/, (_m, p: string) => `${LEVELS[p] ?? p}: `));
  };
  return { logger, messages, leveled };
}

/** What every dispatcher of a test shares: its database, clock and log, and the real senders against the test's local servers. */
export interface DispatcherBase {
  db: Kysely<Database>;
  clock: Clock;
  logger: Logger;
  webhook: WebhookSender;
  telegram: TelegramSender | null;
}

/** A dispatcher as the dispatch tests make it: instance `daemon-a`, retry delays without jitter. */
export function testDispatcher(base: DispatcherBase, overrides: Partial<DispatcherDeps> = {}): Dispatcher {
  return createDispatcher({
    db: base.db,
    clock: base.clock,
    logger: base.logger,
    instanceId: 'daemon-a',
    sender: createChannelSender({ webhook: base.webhook, telegram: base.telegram }),
    random: () => 0.5,
    ...overrides,
  });
}

/** A second connection to the same file: another daemon, or the API writing heartbeats. */
export async function secondConnection(path: string): Promise<DatabaseHandle> {
  const handle = openDatabase(path);
  await migrateToLatest(handle.db);
  return handle;
}

/**
 * A Kysely over an open connection that records every statement it runs, and the query plan of one:
 * for checking which index a write really uses. (Kysely's stock SQLite dialect: no statement cache
 * or BEGIN IMMEDIATE, which do not change plans. Never destroy it: that would close the connection.)
 */
export function recordingKysely(sqlite: SqliteDatabase.Database): { db: Kysely<Database>; statements: Array<{ sql: string; parameters: readonly unknown[] }> } {
  const statements: Array<{ sql: string; parameters: readonly unknown[] }> = [];
  const db = new Kysely<Database>({
    dialect: new SqliteDialect({ database: sqlite }),
    log: (event) => {
      statements.push({ sql: event.query.sql, parameters: event.query.parameters });
    },
  });
  return { db, statements };
}

export function queryPlan(sqlite: SqliteDatabase.Database, statement: { sql: string; parameters: readonly unknown[] }): string {
  const plan = sqlite.prepare(`EXPLAIN QUERY PLAN ${statement.sql}`).all(...(statement.parameters as unknown[])) as Array<{ detail: string }>;
  return plan.map((p) => p.detail).join(' | ');
}
