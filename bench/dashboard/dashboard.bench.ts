/**
 * dashboard: the signed-in dashboard (`GET /`) and the public status page (`GET /status/<slug>`) of
 * one user with 1,000 machines and 90 days of outage history (2 outages a machine a day, a weekly
 * hour of maintenance). The API runs in this process on the seeded SQLite file with the real clock;
 * requests go over HTTP one after another, and each one's statements are counted at the database.
 * Targets: p95 well under 200 ms, and the same number of queries on every page of machines. The
 * first view of each page (nothing of its histories kept yet) is reported beside them.
 */
import { join } from 'node:path';
import { createLogger, createNotifier, createRedactor, openDatabase, systemClock } from '@lunasentri/shared';
import { startApiService } from '@lunasentri/api';
import { CookieClient, csrfOf } from '../../packages/api/test/support/browser-client';
import { countQueries } from '../../test/support/query-counter';
import { tempDir } from '../support/cleanup';
import { envInt } from '../support/env';
import { formatTable, newResult, targetRows, TARGET_HEADERS, writeResult, type TargetCheck } from '../support/results';
import { max, median, round } from '../support/stats';
import { seedHistoryFleet } from './history-fleet';

const MACHINES = envInt('BENCH_DASHBOARD_MACHINES', 1000);
const OUTAGES_PER_DAY = Number(process.env.BENCH_DASHBOARD_OUTAGES_PER_DAY ?? 2);
const REQUESTS = envInt('BENCH_DASHBOARD_REQUESTS', 200);
const WARMUP = 20;
const P95_TARGET_MS = 200;

interface Sample {
  ms: number;
  queries: number;
}

interface Measured {
  samples: Sample[];
  /** the first request of each page: nothing of its histories kept yet in the API process */
  firstViews: number[];
}

export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function measure(client: CookieClient, paths: readonly string[], counter: { count(): number; reset(): void }): Promise<Measured> {
  const samples: Sample[] = [];
  const firstViews: number[] = [];
  for (let i = 0; i < WARMUP + REQUESTS; i++) {
    const path = paths[i % paths.length]!;
    counter.reset();
    const started = performance.now();
    const page = await client.get(path);
    const ms = performance.now() - started;
    if (page.status !== 200) throw new Error(`GET ${path} answered ${page.status}`);
    if (i < paths.length) firstViews.push(ms);
    if (i >= WARMUP) samples.push({ ms, queries: counter.count() });
  }
  return { samples, firstViews };
}

function summary(name: string, { samples, firstViews }: Measured) {
  const ms = samples.map((s) => s.ms);
  const queries = samples.map((s) => s.queries);
  return {
    name,
    requests: samples.length,
    p50_ms: round(median(ms), 1),
    p95_ms: round(percentile(ms, 95), 1),
    max_ms: round(max(ms), 1),
    first_view_median_ms: round(median(firstViews), 1),
    queries_min: Math.min(...queries),
    queries_max: Math.max(...queries),
  };
}

async function main(): Promise<void> {
  const startedAt = new Date();
  const { dir } = tempDir('lunasentri-bench-dashboard-');
  process.stdout.write(`seeding ${MACHINES} machines, 90 days, ${OUTAGES_PER_DAY} outages a machine a day…\n`);
  const fleet = await seedHistoryFleet(join(dir, 'lunasentri.db'), { machines: MACHINES, days: 90, outagesPerDay: OUTAGES_PER_DAY, now: startedAt });
  process.stdout.write(`seeded ${fleet.intervals} intervals in ${Math.round(fleet.seedMs)} ms\n`);
  const database = countQueries(openDatabase(fleet.path));
  const redactor = createRedactor();
  const logger = createLogger({ level: 'error', redactor, env: {} });
  const notifier = createNotifier({ webhookTimeout: 5_000, webhookAllowHttp: false, webhookAllowPrivate: false, telegramBotToken: '', telegramApiRoot: 'https://api.telegram.org' }, { clock: systemClock, redactor });
  const service = await startApiService({
    database: database.handle, clock: systemClock, logger, notifier, host: '127.0.0.1', port: 0, webhookAllowHttp: false, webhookAllowPrivate: false,
    ingestFlushIntervalMs: 50, ingestMinWriteIntervalMs: 0, keyCacheTtlMs: 300_000, metricsRetentionMs: 7 * 86_400_000,
  });
  try {
    const client = new CookieClient(service.url);
    const form = await client.get('/');
    const signedIn = await client.post('/login', { token: fleet.token, _csrf: csrfOf(form.text) });
    if (signedIn.status !== 303) throw new Error(`sign-in answered ${signedIn.status}`);
    const pages = Math.ceil(MACHINES / 100);
    const dashboardPaths = Array.from({ length: pages }, (_, i) => (i === 0 ? '/' : `/?page=${i + 1}`));
    const statusPaths = dashboardPaths.map((p) => `/status/${fleet.slug}${p.slice(1)}`);
    const results = [summary('dashboard', await measure(client, dashboardPaths, database)), summary('status page', await measure(new CookieClient(service.url), statusPaths, database))];
    const headers = ['page', 'requests', 'p50 ms', 'p95 ms', 'max ms', 'first view ms (median)', 'queries'];
    const table = results.map((r) => [r.name, r.requests, r.p50_ms, r.p95_ms, r.max_ms, r.first_view_median_ms, r.queries_min === r.queries_max ? String(r.queries_min) : `${r.queries_min}–${r.queries_max}`]);
    process.stdout.write(`\n${formatTable(headers, table)}\n`);
    const targets: TargetCheck[] = results.flatMap((r) => [
      { metric: `${r.name} p95 (1,000 machines, 90 days)`, measured: r.p95_ms, unit: 'ms', target: `< ${P95_TARGET_MS}`, met: r.p95_ms < P95_TARGET_MS },
      { metric: `${r.name} queries per request, every page`, measured: r.queries_max, unit: '', target: 'the same on every page', met: r.queries_min === r.queries_max },
    ]);
    const result = newResult('dashboard', startedAt, { machines: MACHINES, days: 90, outagesPerDay: OUTAGES_PER_DAY, requests: REQUESTS, warmup: WARMUP, intervals: fleet.intervals }, { results }, targets, [
      'Requests one after another over HTTP to the API in this process; pages 1–10 of machines in turn (100 machines a page).',
      'p50/p95 after 20 warm-up requests: the API keeps what a page derives from unchanged histories, so the first view of a page costs more (its median is shown).',
    ]);
    process.stdout.write(`\n${formatTable(TARGET_HEADERS, targetRows('dashboard', targets))}\nwrote ${writeResult(result)}\n`);
  } finally {
    await service.stop();
    await notifier.close();
    await database.handle.close();
    await logger.close();
  }
}

void main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exitCode = 1;
});
