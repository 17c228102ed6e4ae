import type { FastifyInstance } from 'fastify';
import { nowMs } from '@lunasentri/shared';
import { RefusedKeysReporter } from '../credentials/refused-keys.reporter';
import type { JsonBodyParser } from '../http/answers';
import { machineKeyHook } from '../http/auth';
import type { ApiContext } from '../http/context';
import type { ApiMetrics } from '../metrics/api.metrics';
import { HEARTBEAT_URL, IngestFastPath, METRICS_URL, type AgentReportHandlers, type FastPathCounts } from './ingest.fast-path';
import { compileMetricsBodyValidator, metricsBodySchema, type MetricsBody } from './ingest.schemas';
import type { MetricsSample, SystemInfoColumns } from './ingest.types';

export interface IngestRouteOptions {
  /** the server's JSON body parser, which the fast path shares */
  parseBody: JsonBodyParser;
  metrics?: ApiMetrics;
  counts?: FastPathCounts;
}

/**
 * Agent ingest. Both routes answer 202 with an empty body as soon as the report is buffered (the
 * Go agent counts only 200 and 202 as success); the write-behind writer persists it within one flush
 * interval. Neither ever touches `status`. Most reports never reach these routes: the
 * {@link IngestFastPath} answers them first, with the same steps; the routes answer the rest.
 */
export function registerIngestRoutes(app: FastifyInstance, ctx: ApiContext, options: IngestRouteOptions): void {
  const refused = new RefusedKeysReporter(ctx.clock, ctx.logger);
  // What was counted since the last line is not lost on a graceful stop.
  app.addHook('onClose', async () => refused.flush());
  const onRequest = machineKeyHook(ctx, refused);
  const validate = compileMetricsBodyValidator();
  const handlers = reportHandlers(ctx);

  app.post(METRICS_URL, { onRequest, schema: { body: metricsBodySchema }, validatorCompiler: () => validate, config: { area: 'ingest' } }, (request, reply) => {
    handlers.metrics(request.machineId, request.body, nowMs(ctx.clock));
    void reply.code(202).send();
  });

  app.post(HEARTBEAT_URL, { onRequest, config: { area: 'ingest' } }, (request, reply) => {
    handlers.heartbeat(request.machineId, nowMs(ctx.clock));
    void reply.code(202).send();
  });

  const fast = new IngestFastPath(ctx, refused, { parseBody: options.parseBody, validate, handlers, metrics: options.metrics, counts: options.counts });
  fast.install(app.server);
  app.addHook('preClose', (done) => {
    fast.close();
    done();
  });
}

/** A valid report, buffered for the next flush: the figures and system facts of a metrics body, or liveness alone. */
function reportHandlers(ctx: ApiContext): AgentReportHandlers {
  return {
    metrics(machineId, value, receivedAtMs) {
      const body = value as MetricsBody;
      ctx.ingest.record({
        machineId,
        receivedAtMs,
        metrics: toSample(body),
        systemInfo: body.system_info ? toSystemColumns(body.system_info) : undefined,
      });
    },
    heartbeat(machineId, receivedAtMs) {
      ctx.ingest.record({ machineId, receivedAtMs });
    },
  };
}

function toSample(body: MetricsBody): MetricsSample {
  return {
    cpu_pct: body.cpu_pct ?? null,
    mem_used_pct: body.mem_used_pct ?? null,
    disk_used_pct: body.disk_used_pct ?? null,
    // The agent leaves zero counters out.
    net_rx_bytes: body.net_rx_bytes ?? 0,
    net_tx_bytes: body.net_tx_bytes ?? 0,
    uptime_s: body.uptime_s === undefined ? null : Math.floor(body.uptime_s),
  };
}

function toSystemColumns(info: NonNullable<MetricsBody['system_info']>): SystemInfoColumns | undefined {
  const columns: SystemInfoColumns = {};
  if (info.hostname !== undefined) columns.reported_hostname = info.hostname;
  if (info.platform !== undefined) columns.platform = info.platform;
  if (info.platform_version !== undefined) columns.platform_version = info.platform_version;
  if (info.kernel_version !== undefined) columns.kernel_version = info.kernel_version;
  if (info.cpu_cores !== undefined) columns.cpu_cores = info.cpu_cores;
  if (info.memory_total_mb !== undefined) columns.memory_total_mb = info.memory_total_mb;
  if (info.disk_total_gb !== undefined) columns.disk_total_gb = info.disk_total_gb;
  if (info.last_boot_time !== undefined) columns.last_boot_time = normalizeTime(info.last_boot_time);
  return Object.keys(columns).length > 0 ? columns : undefined;
}

/** Stored times are ISO-8601 UTC; a valid RFC 3339 time JavaScript cannot represent (a leap second) stays as sent. */
function normalizeTime(text: string): string {
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? text : new Date(ms).toISOString();
}
