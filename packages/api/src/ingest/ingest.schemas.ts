import AjvCompiler from '@fastify/ajv-compiler';
import type { MetricsSample, SystemInfoColumns } from '@lunasentri/shared';
import { AJV_OPTIONS } from '../http/answers';

/**
 * The original Go agent's body (CONTRACT §5). Its counters are `omitempty` (a zero is left out), so
 * nothing is required; `timestamp` is part of the agent's struct but ignored: the server stamps time.
 */
const percent = { type: 'number', minimum: 0, maximum: 100 } as const;
const count = { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER } as const;
import { NO_CONTROLS } from '../machines/machines.schemas';

const text = { type: 'string', maxLength: 255, pattern: NO_CONTROLS } as const;

/**
 * Unknown fields are accepted and ignored here, unlike on user routes: a newer agent that adds a field
 * must never be refused, since the Go agent treats any 4xx as final and its machine would look offline.
 */
export const systemInfoSchema = {
  type: 'object',
  additionalProperties: true,
  properties: {
    hostname: text,
    platform: text,
    platform_version: text,
    kernel_version: text,
    cpu_cores: { type: 'integer', minimum: 0, maximum: 1_000_000 },
    memory_total_mb: count,
    disk_total_gb: count,
    last_boot_time: { type: 'string', format: 'date-time', maxLength: 64 },
  },
} as const;

export const metricsBodySchema = {
  type: 'object',
  additionalProperties: true,
  properties: {
    timestamp: { type: 'string', format: 'date-time', maxLength: 64 },
    cpu_pct: percent,
    mem_used_pct: percent,
    disk_used_pct: percent,
    net_rx_bytes: count,
    net_tx_bytes: count,
    // A float in the agent (seconds since boot).
    uptime_s: { type: 'number', minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
    system_info: systemInfoSchema,
  },
} as const;

/** The agent's body as the schema admits it: the sample's figures and its system facts, each optional. */
export type MetricsBody = Partial<Record<keyof MetricsSample, number>> & {
  timestamp?: string;
  /** the machines columns, except that the agent calls `reported_hostname` just `hostname` */
  system_info?: Omit<SystemInfoColumns, 'reported_hostname'> & { hostname?: string };
};

/** A compiled schema check: true when the body conforms, else false with the reasons in `errors`. */
export type MetricsBodyValidator = ReturnType<ReturnType<ReturnType<typeof AjvCompiler>>>;

/**
 * {@link metricsBodySchema} compiled once, by the compiler and with the options the framework uses for
 * every other route, so the route and the ingest fast path refuse exactly the same bodies.
 */
export function compileMetricsBodyValidator(): MetricsBodyValidator {
  return AjvCompiler()({}, { customOptions: { ...AJV_OPTIONS } })({ schema: metricsBodySchema, method: 'POST', url: '/agent/metrics', httpPart: 'body' });
}
