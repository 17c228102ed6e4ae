import type { Registry } from 'prom-client';
import { createLogger, createMetricsRegistry, createNotifier, createRedactor, startMetricsServer, type DatabaseEngine, type Notifier } from '@lunasentri/shared';
import { TestClock } from '../../../../test/support/test-clock';
import { captureStream } from '../../../../test/support/capture';
import { createTestDb, type TestDb } from '../../../../test/support/db';
import { startApiService, type ApiService } from '../../src/service/api.service';
import { connect } from 'node:net';
import { createMachine } from '../../src/machines/machines.repository';
import { createUser } from '../../src/users/users.repository';

export interface TestApiOptions {
  allowHttp?: boolean;
  allowPrivate?: boolean;
  telegramBotToken?: string;
  telegramApiRoot?: string;
  /** default 0: every report's last_seen is written at the next flush */
  minWriteIntervalMs?: number;
  flushIntervalMs?: number;
  keyCacheTtlMs?: number;
  requestTimeoutMs?: number;
  closeGraceMs?: number;
  /** reuse a database (restart tests); a fresh one otherwise */
  db?: TestDb;
  /** the engine of a fresh database; default SQLite */
  engine?: DatabaseEngine;
  /** where the API's metrics are registered; default none (no metrics kept) */
  metricsRegistry?: Registry;
}

export interface TestApi {
  db: TestDb;
  clock: TestClock;
  service: ApiService;
  url: string;
  notifier: Notifier;
  logs: () => string;
  /** Stops the API and the notifier (not the database). */
  stop(): Promise<void>;
  /** Stops everything and removes the database. */
  dispose(): Promise<void>;
}

/** The real API on 127.0.0.1, an ephemeral port and a real SQLite file, with a test clock. */
export async function startTestApi(options: TestApiOptions = {}): Promise<TestApi> {
  const db = options.db ?? (await createTestDb(options.engine));
  const clock = new TestClock();
  const capture = captureStream();
  const redactor = createRedactor();
  const logger = createLogger({ stream: capture.stream, level: 'debug', redactor, env: {} });
  const notifier = createNotifier(
    {
      webhookTimeout: 5_000,
      webhookAllowHttp: options.allowHttp ?? false,
      webhookAllowPrivate: options.allowPrivate ?? false,
      telegramBotToken: options.telegramBotToken ?? '',
      telegramApiRoot: options.telegramApiRoot ?? 'https://api.telegram.org',
    },
    { clock, redactor },
  );
  const service = await startApiService({
    database: db,
    clock,
    logger,
    notifier,
    host: '127.0.0.1',
    port: 0,
    webhookAllowHttp: options.allowHttp ?? false,
    webhookAllowPrivate: options.allowPrivate ?? false,
    ingestFlushIntervalMs: options.flushIntervalMs ?? 10,
    ingestMinWriteIntervalMs: options.minWriteIntervalMs ?? 0,
    keyCacheTtlMs: options.keyCacheTtlMs ?? 300_000,
    metricsRetentionMs: 7 * 24 * 3600_000,
    requestTimeoutMs: options.requestTimeoutMs,
    closeGraceMs: options.closeGraceMs,
    metricsRegistry: options.metricsRegistry,
  });
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await service.stop();
    await notifier.close();
    await logger.close();
  };
  return {
    db,
    clock,
    service,
    url: service.url,
    notifier,
    logs: capture.text,
    stop,
    async dispose() {
      await stop();
      if (!options.db) await db.dispose();
    },
  };
}

/** A test API with {@link TestApi.dispose} also closing its metrics endpoint. */
export type MeteredTestApi = TestApi & { metricsUrl: string };

/** {@link startTestApi} with its registry served, as in production, by the real metrics endpoint on a port of its own. */
export async function startMeteredTestApi(options: Omit<TestApiOptions, 'metricsRegistry'> = {}): Promise<MeteredTestApi> {
  const registry = createMetricsRegistry();
  const api = await startTestApi({ ...options, metricsRegistry: registry });
  const logger = createLogger({ stream: captureStream().stream, level: 'error', env: {} });
  const server = await startMetricsServer({ listen: { host: '127.0.0.1', port: 0 }, registry, logger });
  return {
    ...api,
    metricsUrl: server.url,
    async dispose() {
      await server.close();
      await logger.close();
      await api.dispose();
    },
  };
}

export interface CallOptions {
  /** sent as `Authorization: Bearer <auth>` */
  auth?: string;
  /** a JSON body (serialized) */
  json?: unknown;
  /** a raw body, sent as is */
  raw?: string | Buffer;
  headers?: Record<string, string>;
}

export interface CallResult {
  status: number;
  headers: Headers;
  text: string;
  /** the parsed body, or undefined when empty */
  body: any;
}

/** Every response the tests saw, to assert that no secret ever comes back after creation. */
export const seenResponses: string[] = [];

export async function call(base: string, method: string, path: string, options: CallOptions = {}): Promise<CallResult> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.auth !== undefined) headers.authorization = `Bearer ${options.auth}`;
  let body: string | Buffer | undefined;
  if (options.json !== undefined) {
    headers['content-type'] ??= 'application/json';
    body = JSON.stringify(options.json);
  } else if (options.raw !== undefined) {
    body = options.raw;
  }
  const response = await fetch(`${base}${path}`, { method, headers, body });
  const text = await response.text();
  seenResponses.push(text);
  let parsed: unknown;
  if (text !== '') {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
  }
  return { status: response.status, headers: response.headers, text, body: parsed };
}

/** A machine of `userId` straight through the repository; returns its id and agent key. */
export async function newMachine(api: TestApi, userId: number, name = 'web-1'): Promise<{ id: number; key: string }> {
  const { machine, apiKey } = await createMachine(api.db.db, api.clock, userId, { name });
  return { id: machine.id, key: apiKey };
}

/** A raw TCP client: what it received, and when the server closed it. */
export function rawClient(url: string) {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  let received = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => (received += chunk));
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  const connected = new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  return { socket, connected, closed, received: () => received };
}

/** A user straight through the repository the CLI uses; returns the id and a personal token. */
export async function newUser(api: TestApi, email: string): Promise<{ id: number; token: string }> {
  const { user, token } = await createUser(api.db.db, api.clock, email, false);
  return { id: user.id, token };
}

export type TestUser = Awaited<ReturnType<typeof newUser>>;
export type TestMachine = Awaited<ReturnType<typeof newMachine>>;

/**
 * A fresh API with one user per email (in order) and, with `machine`, one machine of the first user:
 * the usual start of a test. `beforeEach(async () => void ({ api, users: [alice] } = await startWithAccounts(…)))`.
 */
export async function startWithAccounts<E extends readonly string[]>(
  options: TestApiOptions,
  emails: E,
): Promise<{ api: TestApi; users: { [K in keyof E]: TestUser } }>;
export async function startWithAccounts<E extends readonly string[]>(
  options: TestApiOptions,
  emails: E,
  extra: { machine: true },
): Promise<{ api: TestApi; users: { [K in keyof E]: TestUser }; machine: TestMachine }>;
export async function startWithAccounts(options: TestApiOptions, emails: readonly string[], extra: { machine?: boolean } = {}) {
  const api = await startTestApi(options);
  const users: TestUser[] = [];
  for (const email of emails) users.push(await newUser(api, email));
  const machine = extra.machine ? await newMachine(api, users[0]!.id) : undefined;
  return { api, users, machine };
}

/** Asserts a clean JSON error: the status, `{error: string, code: <code>}`. */
export function expectError(result: CallResult, status: number, code?: string | RegExp): void {
  expect({ status: result.status, type: result.headers.get('content-type') }).toEqual({ status, type: expect.stringContaining('application/json') });
  expect(typeof result.body?.error).toBe('string');
  expect(typeof result.body?.code).toBe('string');
  expect(result.body.code).toMatch(/^[a-z_]+\.[a-z_]+$/);
  if (code !== undefined) expect(result.body.code).toMatch(code);
}

/** Re-checks `check` until it holds or the deadline passes (for the write-behind flush). */
export async function eventually<T>(check: () => Promise<T | undefined> | T | undefined, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** The Go agent's first report, exactly as the issue gives it. */
export const AGENT_FIRST_REPORT = {
  cpu_pct: 80.4,
  mem_used_pct: 2.7,
  disk_used_pct: 23.5,
  net_rx_bytes: 696995159,
  net_tx_bytes: 13100327,
  uptime_s: 1035,
  system_info: {
    hostname: 'vm',
    platform: 'debian',
    platform_version: '12.11',
    kernel_version: '6.18.44',
    cpu_cores: 2,
    memory_total_mb: 24105,
    disk_total_gb: 251,
    last_boot_time: '2026-11-28T02:58:46Z',
  },
};

/** Later reports: no system_info. */
export const AGENT_STEADY_REPORT = { cpu_pct: 12.5, mem_used_pct: 40.2, disk_used_pct: 23.5, net_rx_bytes: 696995159, net_tx_bytes: 13100327, uptime_s: 1045 };
