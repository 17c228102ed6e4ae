/**
 * metrics-scrape: what one Prometheus scrape of the daemon costs as the fleet grows. Healthy fleets
 * (nothing transitions), the real daemon with --metrics-listen, scraped over HTTP one scrape at a time;
 * the wall time of each answer and its size are recorded. At 10,000 machines every machine has its
 * own series (the most a scrape ever lists); above that they are left out and only counts are read.
 */
import { join } from 'node:path';
import { tempDir } from '../support/cleanup';
import { envInt, envIntList, serviceEnv } from '../support/env';
import { seedFleet } from '../support/fleet';
import { HEARTBEAT_BIN, REPO_ROOT } from '../support/paths';
import { formatTable, newResult, targetRows, TARGET_HEADERS, writeResult, type TargetCheck } from '../support/results';
import { startService } from '../support/service';
import { median, round } from '../support/stats';

const FLEETS = envIntList('BENCH_SCRAPE_FLEETS', [1_000, 10_000, 1_000_000]);
const SCRAPES = envInt('BENCH_SCRAPE_COUNT', 30);
const WARMUP_SCRAPES = 5;
/** A scrape every 15 s (Prometheus' usual interval) costing this much would take 1% of a core. */
const TARGET_MS = 150;

interface FleetFigures {
  machines: number;
  scrapeMsMedian: number;
  scrapeMsP95: number;
  bytes: number;
  machineUpSeries: number;
}

const log = (line: string) => process.stdout.write(`${line}\n`);

function p95(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.95) - 1)]!;
}

async function measureFleet(machines: number): Promise<FleetFigures> {
  const tmp = tempDir('lunasentri-bench-scrape-');
  try {
    const path = join(tmp.dir, 'fleet.db');
    await seedFleet(path, { machines, status: 'online', lastSeen: new Date().toISOString() });
    const daemon = startService('daemon', HEARTBEAT_BIN, ['run', '--db', path, '--interval', '1s', '--threshold', '10m', '--metrics-listen', '127.0.0.1:0'], { env: serviceEnv(), cwd: REPO_ROOT });
    try {
      const line = await daemon.waitForLine(/Metrics at http:\/\/\S+/, 60_000);
      const url = /(http:\/\/\S+)/.exec(line.text)![1]!;
      await daemon.waitForLine(/Heartbeat monitor started/, 60_000);
      const times: number[] = [];
      let body = '';
      for (let i = 0; i < WARMUP_SCRAPES + SCRAPES; i++) {
        const started = performance.now();
        const response = await fetch(url);
        body = await response.text();
        if (response.status !== 200) throw new Error(`scrape answered ${response.status}`);
        if (i >= WARMUP_SCRAPES) times.push(performance.now() - started);
      }
      const machineUpSeries = body.split('\n').filter((l) => l.startsWith('lunasentri_machine_up{')).length;
      return { machines, scrapeMsMedian: round(median(times), 2), scrapeMsP95: round(p95(times), 2), bytes: Buffer.byteLength(body), machineUpSeries };
    } finally {
      await daemon.stop();
    }
  } finally {
    tmp.remove();
  }
}

async function main(): Promise<void> {
  const startedAt = new Date();
  const fleets: FleetFigures[] = [];
  for (const machines of FLEETS) {
    log(`fleet of ${machines.toLocaleString('en-US')} machines…`);
    fleets.push(await measureFleet(machines));
  }
  log(
    formatTable(
      ['machines', 'scrape ms (median)', 'scrape ms (p95)', 'bytes', 'lunasentri_machine_up series'],
      fleets.map((f) => [f.machines.toLocaleString('en-US'), f.scrapeMsMedian, f.scrapeMsP95, f.bytes, f.machineUpSeries]),
    ),
  );
  const largest = fleets[fleets.length - 1]!;
  const targets: TargetCheck[] = [
    { metric: `scrape median at ${largest.machines.toLocaleString('en-US')} machines`, measured: largest.scrapeMsMedian, unit: 'ms', target: `≤ ${TARGET_MS}`, met: largest.scrapeMsMedian <= TARGET_MS },
  ];
  const result = newResult('metrics-scrape', startedAt, { fleets: FLEETS, scrapes: SCRAPES }, { fleets }, targets, [
    'Counts by status read index entries only (the partial (status, last_seen) index and the smallest machines index); their cost grows with the fleet, the number of queries does not.',
  ]);
  log(formatTable(TARGET_HEADERS, targetRows('metrics-scrape', targets)));
  log(`written: ${writeResult(result)}`);
}

main().catch((error: unknown) => {
  process.stderr.write(`metrics-scrape failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
