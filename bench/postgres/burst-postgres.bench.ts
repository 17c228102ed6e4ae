/*
 * The 10,000-machine burst on PostgreSQL, with one daemon and with three daemons sharing the
 * database (as on three hosts): every machine crosses the threshold at once, one webhook receiver on
 * 127.0.0.1. Timed from detection start (the first event's creation) until every machine's
 * `machine.offline` webhook-id has arrived; missing and duplicate ids are counted.
 *
 * Needs a PostgreSQL server: BENCH_POSTGRES_URL (bench.sh starts a private one from the machine's
 * server binaries). Prints a table and writes bench/results/burst-postgres.json.
 */
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { migrateToLatest, openDatabase, type DatabaseHandle } from '@lunasentri/shared';
import { envInt, envIntList, serviceEnv } from '../support/env';
import { HEARTBEAT_BIN } from '../support/paths';
import { startReceiver } from '../support/receiver';
import { formatTable, newResult, targetRows, TARGET_HEADERS, writeResult, type TargetCheck } from '../support/results';
import { startService } from '../support/service';
import { median, ratio, round } from '../support/stats';

const MACHINES = envInt('BENCH_BURST_MACHINES', 10_000);
const REPETITIONS = envInt('BENCH_BURST_REPETITIONS', 2);
const DAEMON_COUNTS = envIntList('BENCH_BURST_DAEMONS', [1, 3]);
const TIMEOUT_MS = envInt('BENCH_BURST_TIMEOUT_S', 180) * 1000;
const THRESHOLD_MS = 60_000;
const SECRET = `whsec_${randomBytes(24).toString('base64')}`;

interface Run {
  daemons: number;
  allArrivedS: number;
  rate: number;
  missing: number;
  duplicates: number;
  events: number;
}

function databaseUrl(base: string, name: string): string {
  const url = new URL(base);
  url.pathname = `/${name}`;
  return url.toString();
}

/** A fresh database with every machine just past the threshold and one webhook (bulk SQL: seeding is no product path). */
async function seed(admin: DatabaseHandle, base: string, receiverUrl: string): Promise<{ url: string; name: string }> {
  const name = `lunasentri_bench_${randomBytes(4).toString('hex')}`;
  await sql.raw(`CREATE DATABASE ${name}`).execute(admin.db);
  const url = databaseUrl(base, name);
  const handle = openDatabase(url);
  try {
    await migrateToLatest(handle.db);
    const now = Date.now();
    const lastSeen = new Date(now - THRESHOLD_MS - 2_000).toISOString();
    const created = new Date(now - 86_400_000).toISOString();
    await sql`INSERT INTO users (email, is_admin, created_at) VALUES ('bench@example.com', 0, ${created})`.execute(handle.db);
    await sql`INSERT INTO machines (user_id, name, hostname, status, last_seen, status_changed_at, is_enabled, created_at, updated_at)
              SELECT 1, 'bench-' || g, 'host-' || g || '.bench.internal', 'online', ${lastSeen}, ${created}, 1, ${created}, ${created}
                FROM generate_series(1, ${MACHINES}) AS g`.execute(handle.db);
    await handle.db.insertInto('webhooks').values({ user_id: 1, url: receiverUrl, secret: SECRET, is_active: 1, created_at: created, updated_at: created }).execute();
    await sql`VACUUM ANALYZE`.execute(handle.db);
  } finally {
    await handle.close();
  }
  return { url, name };
}

async function runOnce(admin: DatabaseHandle, base: string, daemons: number): Promise<Run> {
  const receiver = await startReceiver({ secret: SECRET, verifySample: 20 });
  const { url, name } = await seed(admin, base, receiver.url);
  const env = serviceEnv({ DATABASE_URL: url, WEBHOOK_ALLOW_HTTP: 'true', WEBHOOK_ALLOW_PRIVATE: 'true', LOG_LEVEL: 'warn' });
  const services = Array.from({ length: daemons }, (_, i) => startService(`daemon-${i + 1}`, HEARTBEAT_BIN, ['run', '--interval', '1s', '--threshold', '1m'], { env }));
  try {
    await receiver.waitFor(() => receiver.unique.size >= MACHINES, TIMEOUT_MS);
    const lastArrival = Math.max(...receiver.arrivals.map((a) => a.at));
    const check = openDatabase(url);
    const first = await check.db.selectFrom('events').select((eb) => [eb.fn.min('created_at').as('first'), eb.fn.countAll().as('n')]).executeTakeFirstOrThrow();
    await check.close();
    const allArrivedS = (lastArrival - Date.parse(String(first.first))) / 1000;
    return { daemons, allArrivedS: round(allArrivedS), rate: Math.round(MACHINES / allArrivedS), missing: MACHINES - receiver.unique.size, duplicates: receiver.duplicates, events: Number(first.n) };
  } finally {
    await Promise.all(services.map((s) => s.stop(15_000)));
    await receiver.close();
    await sql.raw(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).execute(admin.db);
  }
}

async function main(): Promise<void> {
  const base = process.env.BENCH_POSTGRES_URL;
  if (!base) {
    console.log('burst-postgres: skipped (no PostgreSQL server: BENCH_POSTGRES_URL is not set)');
    return;
  }
  const startedAt = new Date();
  const admin = openDatabase(base);
  const runs: Run[] = [];
  try {
    for (let rep = 0; rep < REPETITIONS; rep++) {
      for (const daemons of DAEMON_COUNTS) {
        const run = await runOnce(admin, base, daemons);
        runs.push(run);
        console.log(`  #${rep + 1} ${daemons} daemon(s): ${MACHINES} delivered in ${run.allArrivedS} s (${run.rate}/s), ${run.events} events, ${run.missing} missing, ${run.duplicates} duplicates`);
      }
    }
  } finally {
    await admin.close();
  }
  const byCount = DAEMON_COUNTS.map((daemons) => {
    const mine = runs.filter((r) => r.daemons === daemons);
    return { daemons, medianS: median(mine.map((r) => r.allArrivedS)), rate: Math.round(median(mine.map((r) => r.rate))), missing: Math.max(...mine.map((r) => r.missing)), duplicates: Math.max(...mine.map((r) => r.duplicates)), events: Math.max(...mine.map((r) => r.events)) };
  });
  console.log(formatTable(['daemons', 'all delivered s (median)', 'deliveries/s', 'events', 'missing', 'duplicate ids'], byCount.map((b) => [b.daemons, b.medianS, b.rate, b.events, b.missing, b.duplicates])));
  const one = byCount.find((b) => b.daemons === 1);
  const three = byCount.find((b) => b.daemons === 3);
  const targets: TargetCheck[] = [
    { metric: 'machines missing an offline delivery (worst run)', measured: Math.max(...byCount.map((b) => b.missing)), unit: '', target: '0', met: byCount.every((b) => b.missing === 0) },
    { metric: 'events per machine (each transition recorded once)', measured: Math.max(...byCount.map((b) => b.events)) / MACHINES, unit: '', target: '1', met: byCount.every((b) => b.events === MACHINES) },
  ];
  if (one && three) {
    const speedup = round(ratio(one.medianS, three.medianS));
    console.log(`3 daemons vs 1: ${speedup}× faster (median of ${REPETITIONS})`);
    targets.push({ metric: '3 daemons faster than 1 (time ratio 1/3)', measured: speedup, unit: '×', target: '> 1×', met: speedup > 1 });
  }
  console.log(formatTable(TARGET_HEADERS, targetRows('burst-postgres', targets)));
  const result = newResult('burst-postgres', startedAt, { machines: MACHINES, repetitions: REPETITIONS, daemons: DAEMON_COUNTS }, { runs, byCount }, targets, []);
  console.log(`wrote ${writeResult(result)}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
