/**
 * The benchmark runner: runs the named benchmarks (all by default) one after another, each in its
 * own process so one crash or one memory-hungry baseline does not touch the next, then prints one
 * table of every target and writes it to bench/results/summary.md.
 *
 *   node -r ts-node/register/transpile-only bench/run.ts [--quick] [sweep-scaling] [burst] [latency] [ingest] [ingest-postgres] [burst-postgres] [digest] [metrics-scrape] [idle] [dashboard]
 *
 * --quick shrinks every benchmark (small fleets, one repetition) to check that they run; its figures
 * are not the ones to publish.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { machineInfo } from './support/machine-info';
import { REPO_ROOT, RESULTS_DIR } from './support/paths';
import { formatNumber, formatTable, targetRows, TARGET_HEADERS, type BenchResult } from './support/results';

interface Benchmark {
  name: string;
  /** the script, relative to the repo root */
  script: string;
  /** TypeScript runs through ts-node; the ingest benchmark is plain JavaScript */
  typescript: boolean;
  quickEnv?: NodeJS.ProcessEnv;
  /** arguments and environment always passed (before the quick ones) */
  args?: string[];
  env?: NodeJS.ProcessEnv;
  quickArgs?: string[];
}

const BENCHMARKS: Benchmark[] = [
  {
    name: 'sweep-scaling',
    script: 'bench/sweep-scaling/sweep-scaling.bench.ts',
    typescript: true,
    quickEnv: { BENCH_SWEEP_FLEETS: '1000,10000', BENCH_SWEEP_MEASURE_S: '5', BENCH_SWEEP_WARMUP_S: '3' },
  },
  { name: 'burst', script: 'bench/burst/burst.bench.ts', typescript: true, quickEnv: { BENCH_BURST_MACHINES: '1000', BENCH_BURST_REPETITIONS: '1' } },
  { name: 'latency', script: 'bench/latency/latency.bench.ts', typescript: true, quickEnv: { BENCH_LATENCY_RUNS: '1' } },
  // Written by the API's engineers (issue 4); this runner only calls it and reads its JSON.
  { name: 'ingest', script: 'bench/ingest/run.js', typescript: false, quickArgs: ['--duration', '2', '--reps', '1', '--warmup', '1'] },
  { name: 'ingest-postgres', script: 'bench/ingest/run.js', typescript: false, args: ['--postgres', '1'], quickArgs: ['--duration', '2', '--reps', '1', '--warmup', '1'] },
  { name: 'latency-postgres', script: 'bench/latency/latency.bench.ts', typescript: true, env: { BENCH_LATENCY_ENGINE: 'postgres' }, quickEnv: { BENCH_LATENCY_RUNS: '1' } },
  { name: 'digest', script: 'bench/digest/digest.bench.ts', typescript: true, quickEnv: { BENCH_DIGEST_MACHINES: '200', BENCH_DIGEST_NO_WINDOW_OBSERVE_S: '15' } },
  { name: 'burst-postgres', script: 'bench/postgres/burst-postgres.bench.ts', typescript: true, quickEnv: { BENCH_BURST_MACHINES: '1000', BENCH_BURST_REPETITIONS: '1' } },
  { name: 'metrics-scrape', script: 'bench/metrics-scrape/metrics-scrape.bench.ts', typescript: true, quickEnv: { BENCH_SCRAPE_FLEETS: '1000,10000', BENCH_SCRAPE_COUNT: '5' } },
  {
    name: 'idle',
    script: 'bench/idle/idle.bench.ts',
    typescript: true,
    quickEnv: { BENCH_IDLE_FLEETS: '1000', BENCH_IDLE_PERIOD_S: '5', BENCH_IDLE_WARMUP_S: '12', BENCH_IDLE_MEASURE_S: '10', BENCH_IDLE_WINDOW_S: '5', BENCH_IDLE_FLOOR_S: '5', BENCH_IDLE_BURST_S: '2', BENCH_IDLE_PROBES: '3' },
  },
  { name: 'dashboard', script: 'bench/dashboard/dashboard.bench.ts', typescript: true, quickEnv: { BENCH_DASHBOARD_MACHINES: '200', BENCH_DASHBOARD_REQUESTS: '20' } },
];

interface Outcome {
  name: string;
  exitCode: number | null;
  seconds: number;
  skipped?: string;
}

function runOne(bench: Benchmark, quick: boolean): Promise<Outcome> {
  const script = join(REPO_ROOT, bench.script);
  if (!existsSync(script)) return Promise.resolve({ name: bench.name, exitCode: null, seconds: 0, skipped: `${bench.script} does not exist yet` });
  rmSync(join(RESULTS_DIR, `${bench.name}.json`), { force: true });
  const args = [...(bench.typescript ? ['-r', 'ts-node/register/transpile-only'] : []), script, ...(bench.args ?? []), ...(quick ? (bench.quickArgs ?? []) : [])];
  const env = { ...process.env, TS_NODE_PROJECT: join(REPO_ROOT, 'tsconfig.jest.json'), ...bench.env, ...(quick ? bench.quickEnv : {}) };
  const started = Date.now();
  process.stdout.write(`\n=== ${bench.name}${quick ? ' (quick)' : ''} ===\n`);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: REPO_ROOT, env, stdio: 'inherit' });
    // Ctrl-C reaches the child too (same process group); wait for it to clean up, then stop.
    child.once('exit', (code) => resolve({ name: bench.name, exitCode: code, seconds: (Date.now() - started) / 1000 }));
  });
}

/** The ingest benchmark writes its own JSON shape; this maps it onto the summary's rows. */
interface IngestJson {
  ratio?: number;
  median_paired_ratio?: number;
  target_ratio?: number;
  api?: { median_requests_per_s?: number };
  bare?: { median_requests_per_s?: number };
}

/** Judged on its `ratio` (of the medians), the figure that benchmark calls its result; the paired median is shown beside it. */
function ingestRows(name: string, json: IngestJson): Array<Array<string | number>> {
  const ratio = json.ratio ?? Number.NaN;
  const target = json.target_ratio ?? 0.8;
  const paired = json.median_paired_ratio === undefined ? '' : `; paired median ${formatNumber(json.median_paired_ratio)}×`;
  return [
    [
      name,
      `API req/s vs bare node:http (${formatNumber(json.api?.median_requests_per_s ?? Number.NaN)} vs ${formatNumber(json.bare?.median_requests_per_s ?? Number.NaN)}${paired})`,
      `${formatNumber(ratio)} ×`,
      `≥ ${target}×`,
      ratio >= target ? 'met' : 'MISSED',
    ],
  ];
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const quick = argv.includes('--quick');
  const names = argv.filter((a) => a !== '--quick');
  const unknown = names.filter((n) => !BENCHMARKS.some((b) => b.name === n));
  if (unknown.length > 0) {
    process.stderr.write(`unknown benchmark(s): ${unknown.join(', ')}; known: ${BENCHMARKS.map((b) => b.name).join(', ')}\n`);
    process.exit(2);
  }
  const selected = names.length === 0 ? BENCHMARKS : BENCHMARKS.filter((b) => names.includes(b.name));
  const started = Date.now();
  const outcomes: Outcome[] = [];
  for (const bench of selected) outcomes.push(await runOne(bench, quick));

  const rows: Array<Array<string | number>> = [];
  for (const outcome of outcomes) {
    const file = join(RESULTS_DIR, `${outcome.name}.json`);
    if (outcome.skipped) rows.push([outcome.name, 'not run', '—', '—', outcome.skipped]);
    else if (!existsSync(file)) rows.push([outcome.name, 'no result', '—', '—', `exited with code ${outcome.exitCode}`]);
    else if (outcome.name.startsWith('ingest')) rows.push(...ingestRows(outcome.name, JSON.parse(readFileSync(file, 'utf8')) as IngestJson));
    else rows.push(...targetRows(outcome.name, (JSON.parse(readFileSync(file, 'utf8')) as BenchResult).targets));
  }
  const machine = machineInfo();
  const header = `${new Date().toISOString().slice(0, 10)} · ${machine.cores} cores (${machine.cpuModel}) · ${machine.totalMemoryMb} MB · Node ${machine.node}${quick ? ' · QUICK MODE (not for publishing)' : ''}`;
  const timing = outcomes.map((o) => `${o.name} ${o.skipped ? 'skipped' : `${o.seconds.toFixed(0)} s`}`).join(', ');
  const table = formatTable(TARGET_HEADERS, rows);
  const summary = `${header}\n\n${table}\n\nTotal ${((Date.now() - started) / 1000).toFixed(0)} s (${timing}).\n`;
  process.stdout.write(`\n=== summary ===\n${summary}`);
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(join(RESULTS_DIR, 'summary.md'), summary);
  process.stdout.write(`wrote ${join(RESULTS_DIR, 'summary.md')}\n`);
  // A missed target is a finding, not a failure; a benchmark that could not run is.
  process.exitCode = outcomes.some((o) => !o.skipped && o.exitCode !== 0) ? 1 : 0;
}

void main();
