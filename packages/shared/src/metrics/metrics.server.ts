import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type * as PromClient from 'prom-client';
import type { Registry } from 'prom-client';
import type { ListenAddress } from '../config/settings';
import type { Logger } from '../log/logger';
import { errorMessage } from '../process/process.errors';

/**
 * prom-client's gauges that end in `_total`, which `promtool check metrics` refuses ("non-counter
 * metrics should not have _total suffix"). Nothing is lost without them: `nodejs_active_handles`,
 * `nodejs_active_requests` and `nodejs_active_resources` carry the same counts, by type.
 */
const MISNAMED_DEFAULT_GAUGES = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

/**
 * A registry with prom-client's default process and Node metrics (CPU, memory, event-loop lag, GC,
 * handles), less its misnamed ones. They are read at scrape time (only the event-loop delay is sampled
 * in the background, by Node itself).
 */
export function createMetricsRegistry(): Registry {
  // Loaded here, not with the package: a process without `--metrics-listen` never loads prom-client.
  const { collectDefaultMetrics, Registry } = require('prom-client') as typeof PromClient;
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  for (const name of MISNAMED_DEFAULT_GAUGES) registry.removeSingleMetric(name);
  return registry;
}

export interface MetricsServer {
  /** `http://host:port/metrics` as bound (the real port when 0 was asked for) */
  url: string;
  /** Stops listening; a scrape in flight gets a second to finish. */
  close(): Promise<void>;
}

export interface MetricsServerOptions {
  listen: ListenAddress;
  registry: Registry;
  logger: Logger;
}

/** A scrape in flight on stop gets this long before its connection is closed. */
const CLOSE_GRACE_MS = 1_000;

/**
 * `GET /metrics` in the Prometheus text format, on a small node:http server of its own: never the
 * API's port, so a scrape can neither be slowed by nor counted with agent traffic, and the metrics can
 * stay on a private address while the API is public.
 * @throws Error naming the address when it cannot be bound (in use, not a local address, unknown host).
 */
export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const { registry, logger } = options;
  const server = createServer((request, response) => void answer(registry, logger, request, response));
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  const { host, port } = options.listen;
  const shown = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => reject(new Error(`cannot serve metrics on ${shown}: ${error.code ?? error.message}`)));
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const bound = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  let closing: Promise<void> | null = null;
  return {
    url: `http://${bound}:${address.port}/metrics`,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        const cut = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
        server.close(() => {
          clearTimeout(cut);
          resolve();
        });
        server.closeIdleConnections();
      })),
  };
}

async function answer(registry: Registry, logger: Logger, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const path = (request.url ?? '').split('?')[0];
  if (path !== '/metrics') return plain(response, 404, 'not found: the metrics are at /metrics\n');
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.setHeader('Allow', 'GET, HEAD');
    return plain(response, 405, 'method not allowed\n');
  }
  let body: string;
  try {
    body = await registry.metrics();
  } catch (error) {
    logger.error(`Could not render the metrics: ${errorMessage(error)}`);
    return plain(response, 500, 'could not render the metrics\n');
  }
  response.writeHead(200, { 'Content-Type': registry.contentType, 'Cache-Control': 'no-store', 'Content-Length': Buffer.byteLength(body) });
  response.end(request.method === 'HEAD' ? undefined : body);
}

function plain(response: ServerResponse, status: number, text: string): void {
  response.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  response.end(text);
}
