import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { Counter, Histogram, type Registry } from 'prom-client';
import type { IngestBatch, IngestStore } from '@lunasentri/shared';
import type { MachineKeyCache } from '../credentials/machine-key.cache';
import { PrecountedHistogram, type HistogramSeries } from './precounted.histogram';

/** What became of an agent report (CONTRACT §7.1). */
export type IngestResult = 'accepted' | 'unauthorized' | 'forbidden' | 'invalid';

/** `route` of a request no route matched: one fixed value, never the raw path (which is unbounded). */
export const UNMATCHED_ROUTE = 'unmatched';

/** Sub-millisecond ingest answers need buckets below prom-client's default 5 ms. */
const HTTP_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const FLUSH_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** The answer's status → the report's result; a 5xx is the API's failure, not a result of the report. */
function ingestResultOf(status: number): IngestResult | undefined {
  if (status < 300) return 'accepted';
  if (status === 401) return 'unauthorized';
  if (status === 403) return 'forbidden';
  return status < 500 ? 'invalid' : undefined;
}

/**
 * The API's Prometheus metrics. What every agent report touches is kept cheap: report results and
 * key-cache lookups are plain number fields handed to prom-client only at scrape time (`collect`), and
 * request durations go to a {@link PrecountedHistogram} series looked up once per (route, method,
 * status) and kept: a request pays a Map walk and a bucket search, and allocates nothing.
 */
export class ApiMetrics {
  private readonly ingestReports: Record<IngestResult, number> = { accepted: 0, unauthorized: 0, forbidden: 0, invalid: 0 };
  private readonly http: PrecountedHistogram<'route' | 'method' | 'status'>;
  private readonly children = new Map<string, Map<string, Map<number, HistogramSeries>>>();
  private readonly flushes: Histogram;

  constructor(registry: Registry, keyCache: MachineKeyCache) {
    const reports = this.ingestReports;
    new Counter({
      name: 'lunasentri_ingest_reports_total',
      help: 'Agent reports (POST /agent/metrics and /agent/heartbeat) by result: accepted, unauthorized (no or unknown key), forbidden (disabled machine), invalid (bad body).',
      labelNames: ['result'],
      registers: [registry],
      collect() {
        this.reset();
        for (const result of Object.keys(reports) as IngestResult[]) this.inc({ result }, reports[result]);
      },
    });
    new Counter({
      name: 'lunasentri_key_cache_lookups_total',
      help: 'Machine key lookups on the ingest path by result: hit (answered from memory) or miss (read from the database).',
      labelNames: ['result'],
      registers: [registry],
      collect() {
        this.reset();
        this.inc({ result: 'hit' }, keyCache.lookups.hit);
        this.inc({ result: 'miss' }, keyCache.lookups.miss);
      },
    });
    this.http = new PrecountedHistogram({
      name: 'lunasentri_http_request_duration_seconds',
      help: 'API request durations by route pattern, method and status code.',
      labelNames: ['route', 'method', 'status'],
      buckets: HTTP_BUCKETS,
      registers: [registry],
    });
    this.flushes = new Histogram({
      name: 'lunasentri_ingest_flush_duration_seconds',
      help: 'How long one ingest flush (the transaction writing the buffered reports) took.',
      buckets: FLUSH_BUCKETS,
      registers: [registry],
    });
  }

  /** Fastify `onResponse` hook: the request's duration, and an agent report's result. */
  readonly onResponse = (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void => {
    const options = request.routeOptions;
    this.observeAnswer(options.url ?? UNMATCHED_ROUTE, request.method, reply.statusCode, reply.elapsedTime / 1000, options.config?.area === 'ingest');
    done();
  };

  /** One answer: its duration under (route pattern, method, status) and, for an agent report, its result. */
  observeAnswer(route: string, method: string, status: number, seconds: number, agentReport: boolean): void {
    this.child(route, method, status).observe(seconds);
    if (agentReport) {
      const result = ingestResultOf(status);
      if (result !== undefined) this.ingestReports[result]++;
    }
  }

  /** The store, with each write timed. */
  timedStore(store: IngestStore): IngestStore {
    const flushes = this.flushes;
    return {
      async write(batch: IngestBatch) {
        const end = flushes.startTimer();
        try {
          await store.write(batch);
        } finally {
          end();
        }
      },
    };
  }

  private child(route: string, method: string, status: number): HistogramSeries {
    let byMethod = this.children.get(route);
    if (!byMethod) this.children.set(route, (byMethod = new Map()));
    let byStatus = byMethod.get(method);
    if (!byStatus) byMethod.set(method, (byStatus = new Map()));
    let child = byStatus.get(status);
    if (!child) byStatus.set(status, (child = this.http.series({ route, method, status: String(status) })));
    return child;
  }
}
