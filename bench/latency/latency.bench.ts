/**
 * latency: the API and the daemon as real child processes (interval 30 s, threshold 5 s) and an agent
 * speaking HTTP. Time from the agent's last heartbeat to the offline webhook arriving, and from its
 * first heartbeat after that to the online webhook. Detection must not wait for the 30 s interval.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { sql } from 'kysely';
import { openDatabase } from '@lunasentri/shared';
import { tempDir } from '../support/cleanup';
import { envInt, serviceEnv } from '../support/env';
import { call, freePort, waitForHttp200 } from '../support/http';
import { API_BIN, HEARTBEAT_BIN, REPO_ROOT } from '../support/paths';
import { startReceiver, type Arrival, type BenchReceiver } from '../support/receiver';
import { formatTable, newResult, targetRows, TARGET_HEADERS, writeResult, type TargetCheck } from '../support/results';
import { lastLine, runCommand, startService, type Service } from '../support/service';
import { max, median, min, round, sleep } from '../support/stats';

const RUNS = envInt('BENCH_LATENCY_RUNS', 5);
const INTERVAL = '30s';
const THRESHOLD = '5s';
const THRESHOLD_MS = 5_000;
// Long enough to see an interval-paced daemon (30 s) and still report its figure instead of failing.
const WAIT_MS = 45_000;
// The agent's steady-state report: later requests carry no system_info.
const METRICS_BODY = { cpu_pct: 12.5, mem_used_pct: 41.2, disk_used_pct: 23.5, net_rx_bytes: 696995159, net_tx_bytes: 13100327, uptime_s: 1035 };

interface Run {
  /** last heartbeat sent → offline webhook arrived */
  offlineMs: number;
  /** first heartbeat after the outage sent → online webhook arrived */
  onlineMs: number;
}

function log(text: string): void {
  process.stdout.write(`${text}\n`);
}


async function heartbeat(base: string, key: string): Promise<number> {
  const sentAt = Date.now();
  const { status, body } = await call('POST', `${base}/agent/metrics`, { bearer: key, json: METRICS_BODY });
  if (status !== 202) throw new Error(`POST /agent/metrics answered ${status}: ${JSON.stringify(body)}`);
  return sentAt;
}

async function nextArrival(receiver: BenchReceiver, from: number, event: string, machineId: number): Promise<Arrival> {
  const match = () => receiver.arrivals.slice(from).find((a) => a.event === event && a.machineId === machineId);
  await receiver.waitFor(() => match() !== undefined, WAIT_MS);
  return match()!;
}

async function machineStatus(base: string, token: string, id: number): Promise<string> {
  const { status, body } = await call('GET', `${base}/machines/${id}`, { bearer: token });
  if (status !== 200) throw new Error(`GET /machines/${id} answered ${status}`);
  return (body as { status: string }).status;
}

/** `BENCH_LATENCY_ENGINE=postgres`: the same on a fresh database on BENCH_POSTGRES_URL's server. */
const ON_POSTGRES = process.env.BENCH_LATENCY_ENGINE === 'postgres';
const NAME = ON_POSTGRES ? 'latency-postgres' : 'latency';

/** A fresh, empty PostgreSQL database and how to drop it. */
async function postgresDatabase(base: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `lunasentri_bench_latency_${randomBytes(4).toString('hex')}`;
  const admin = openDatabase(base);
  await sql.raw(`CREATE DATABASE ${name}`).execute(admin.db);
  const url = new URL(base);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      await sql.raw(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).execute(admin.db);
      await admin.close();
    },
  };
}

async function main(): Promise<void> {
  if (ON_POSTGRES && !process.env.BENCH_POSTGRES_URL) {
    log('latency-postgres: skipped (no PostgreSQL server: BENCH_POSTGRES_URL is not set)');
    return;
  }
  const startedAt = new Date();
  log(`latency: API + daemon (--interval ${INTERVAL} --threshold ${THRESHOLD}), ${RUNS} outages of one machine`);
  const tmp = tempDir('lunasentri-bench-latency-');
  const secret = `whsec_${randomBytes(24).toString('base64')}`;
  const receiver = await startReceiver({ secret, verifySample: 100 });
  const services: Service[] = [];
  const runs: Run[] = [];
  const notes: string[] = [];
  let dropDatabase = async (): Promise<void> => undefined;
  try {
    const pg = ON_POSTGRES ? await postgresDatabase(process.env.BENCH_POSTGRES_URL!) : null;
    if (pg) dropDatabase = pg.drop;
    const db = pg ? pg.url : join(tmp.dir, 'latency.db');
    const env = serviceEnv({ WEBHOOK_ALLOW_HTTP: 'true', WEBHOOK_ALLOW_PRIVATE: 'true' });
    await runCommand(API_BIN, ['migrate', '--db', db], { env, cwd: REPO_ROOT });
    const token = lastLine(await runCommand(API_BIN, ['user', 'create', '--email', 'bench@example.com', '--db', db], { env, cwd: REPO_ROOT }));
    const key = lastLine(await runCommand(API_BIN, ['machine', 'create', '--email', 'bench@example.com', '--name', 'latency-probe', '--db', db], { env, cwd: REPO_ROOT }));

    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const api = startService('api', API_BIN, ['serve', '--db', db, '--port', String(port), '--host', '127.0.0.1'], { env, cwd: REPO_ROOT });
    services.push(api);
    await waitForHttp200(`${base}/health`, 30_000);
    // One probe taken down and up again RUNS times in a few minutes is flapping by the rule (CONTRACT
    // §6.2), which would hold its later outages back: this measures plain detection, so it is off
    // (by env, which a build from before flapping ignores, for BENCH_HEARTBEAT_BIN comparisons).
    const daemon = startService('daemon', HEARTBEAT_BIN, ['run', '--db', db, '--interval', INTERVAL, '--threshold', THRESHOLD], { env: { ...env, FLAP_THRESHOLD: '0' }, cwd: REPO_ROOT });
    services.push(daemon);
    await daemon.waitForLine(/Heartbeat monitor started/, 30_000);

    const created = await call('POST', `${base}/notifications/webhooks`, { bearer: token, json: { url: receiver.url, secret } });
    if (created.status !== 201) throw new Error(`POST /notifications/webhooks answered ${created.status}: ${JSON.stringify(created.body)}`);
    const listed = await call('GET', `${base}/machines`, { bearer: token });
    const machines = listed.body as Array<{ id: number; name: string }>;
    const machineId = machines.find((m) => m.name === 'latency-probe')?.id;
    if (machineId === undefined) throw new Error(`GET /machines did not list the probe: ${JSON.stringify(listed.body)}`);

    // A new machine is pending until the daemon sees its first report; keep it fresh until then, so
    // the first measured outage starts from an online machine.
    const warmDeadline = Date.now() + WAIT_MS;
    let warmedMs = 0;
    const warmStart = Date.now();
    for (;;) {
      await heartbeat(base, key);
      if ((await machineStatus(base, token, machineId)) === 'online') {
        warmedMs = Date.now() - warmStart;
        break;
      }
      if (Date.now() > warmDeadline) throw new Error(`machine ${machineId} still not online ${WAIT_MS / 1000} s after its first report`);
      await sleep(500);
    }
    log(`  machine ${machineId} online ${(warmedMs / 1000).toFixed(2)} s after its first report`);

    for (let i = 1; i <= RUNS; i++) {
      // A few regular reports, as an agent on a 1 s cadence would send, then silence.
      let lastSent = 0;
      for (let k = 0; k < 3; k++) {
        if (k > 0) await sleep(1_000);
        lastSent = await heartbeat(base, key);
      }
      const offline = await nextArrival(receiver, receiver.arrivals.length, 'machine.offline', machineId).catch((error: Error) => error);
      if (offline instanceof Error) {
        notes.push(`run ${i}: no offline webhook within ${WAIT_MS / 1000} s of the last heartbeat`);
        break;
      }
      // A short real outage, then the agent comes back.
      await sleep(500);
      const index = receiver.arrivals.length;
      const backSent = await heartbeat(base, key);
      const online = await nextArrival(receiver, index, 'machine.online', machineId).catch((error: Error) => error);
      if (online instanceof Error) {
        notes.push(`run ${i}: no online webhook within ${WAIT_MS / 1000} s of the returning heartbeat`);
        break;
      }
      const run = { offlineMs: offline.at - lastSent, onlineMs: online.at - backSent };
      runs.push(run);
      log(`  #${i}: offline webhook ${(run.offlineMs / 1000).toFixed(2)} s after the last heartbeat, online webhook ${(run.onlineMs / 1000).toFixed(2)} s after the return`);
    }

    for (const service of services.reverse()) {
      const exit = await service.stop();
      if (exit.code !== 0) notes.push(`${service.name} exited with code ${exit.code} (signal ${exit.signal}) on SIGTERM`);
    }
    if (receiver.duplicates > 0) notes.push(`${receiver.duplicates} duplicate webhook-ids arrived`);
    if (receiver.verifyFailures.length > 0) notes.push(`signature check failed: ${receiver.verifyFailures.slice(0, 3).join(' | ')}`);
  } finally {
    for (const service of services) await service.stop();
    await receiver.close();
    tmp.remove();
    await dropDatabase();
  }

  const offline = runs.map((r) => r.offlineMs);
  const online = runs.map((r) => r.onlineMs);
  const figures = {
    runs,
    offlineMedianMs: median(offline),
    offlineMinMs: min(offline),
    offlineMaxMs: max(offline),
    onlineMedianMs: median(online),
    onlineMinMs: min(online),
    onlineMaxMs: max(online),
    /** offline latency minus the threshold itself: what detection and delivery add */
    offlineOverThresholdMedianMs: median(offline) - THRESHOLD_MS,
    webhooksReceived: receiver.arrivals.length,
    signaturesVerified: receiver.verified,
  };
  const offlineS = figures.offlineMedianMs / 1000;
  const onlineS = figures.onlineMedianMs / 1000;
  const targets: TargetCheck[] = [
    { metric: `offline: last heartbeat → webhook (median of ${runs.length})`, measured: round(offlineS), unit: 's', target: `≤ ${THRESHOLD_MS / 1000 + 1.5} s`, met: runs.length === RUNS && offlineS <= THRESHOLD_MS / 1000 + 1.5 },
    { metric: `online: return heartbeat → webhook (median of ${runs.length})`, measured: round(onlineS), unit: 's', target: '≤ 1.5 s', met: runs.length === RUNS && onlineS <= 1.5 },
  ];

  log('');
  log(
    formatTable(
      ['latency', 'median s', 'min s', 'max s', 'runs'],
      [
        ['offline (threshold 5 s)', round(offlineS), round(figures.offlineMinMs / 1000), round(figures.offlineMaxMs / 1000), runs.length],
        ['online', round(onlineS), round(figures.onlineMinMs / 1000), round(figures.onlineMaxMs / 1000), runs.length],
      ],
    ),
  );
  log('');
  log(formatTable(TARGET_HEADERS, targetRows('latency', targets)));
  for (const note of notes) log(`note: ${note}`);
  const file = writeResult(newResult(NAME, startedAt, { runs: RUNS, interval: INTERVAL, threshold: THRESHOLD }, figures, targets, notes));
  log(`wrote ${file}`);
}

main().catch((error: unknown) => {
  process.stderr.write(`latency failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
