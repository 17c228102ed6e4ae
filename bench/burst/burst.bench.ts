/**
 * burst: 10,000 machines cross the threshold at once. How long until every `machine.offline`
 * delivery has reached a local webhook receiver (none missing, none duplicated), and how long the
 * sweep took to write the transitions and their outbox rows. Baseline in the same run: a plain
 * keep-alive client posting as many requests of the same size to the same receiver, at the
 * concurrency the daemon was seen to use.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { openDatabase } from '@lunasentri/shared';
import { tempDir } from '../support/cleanup';
import { envInt, serviceEnv } from '../support/env';
import { seedFleet } from '../support/fleet';
import { HEARTBEAT_BIN, REPO_ROOT } from '../support/paths';
import { ProcSampler } from '../support/proc-stats';
import { startReceiver, type Arrival, type BenchReceiver } from '../support/receiver';
import { formatTable, newResult, targetRows, TARGET_HEADERS, writeResult, type TargetCheck } from '../support/results';
import { runCommand, startService } from '../support/service';
import { median, ratio, round, sleep } from '../support/stats';

const MACHINES = envInt('BENCH_BURST_MACHINES', 10_000);
const REPETITIONS = envInt('BENCH_BURST_REPETITIONS', 3);
const TIMEOUT_MS = envInt('BENCH_BURST_TIMEOUT_S', 180) * 1000;
const THRESHOLD = '1m';
const THRESHOLD_MS = 60_000;
// After the last expected delivery, how long we keep listening for duplicates before stopping.
const LINGER_MS = 1_000;

interface DaemonRun {
  received: number;
  distinctIds: number;
  duplicates: number;
  offlineEvents: number;
  distinctMachines: number;
  missing: number;
  signaturesVerified: number;
  signatureFailures: string[];
  /** TCP connections the daemon opened to the receiver (keep-alive: its pool size, not its request count) */
  connections: number;
  /** daemon CPU (all threads) from detection start to the sweep's last commit, per transition */
  sweepCpuMsPerTransition: number | undefined;
  /** daemon CPU from the sweep's last commit to the last arrival, per delivery (dispatch overlapping the sweep is counted in the sweep) */
  dispatchCpuMsPerDelivery: number | undefined;
  /** spawn → detection start (the sweep's "now", stamped on its events) */
  startupMs: number;
  /** Moments relative to detection start, ms. sweepMs: every event and delivery row committed (seen by another connection, polled every 10 ms) */
  sweepMs: number | undefined;
  firstArrivalMs: number | undefined;
  allArrivedMs: number | undefined;
  eventsCreatedSpanMs: number | undefined;
  /**
   * Longest wait between a log line's own timestamp and its arrival on our pipe. The daemon's event
   * loop writes output only between tasks, so this shows how long its longest task ran.
   */
  logDelayMaxMs: number;
  /** first → last arrival at the receiver */
  dispatchMs: number | undefined;
  /** deliveries per second, first → last arrival */
  dispatchRate: number;
  /** deliveries per second, from the start of detection (first event created, or the started line) to the last arrival */
  endToEndRate: number;
  deliveryStatuses: Record<string, number>;
  exitCode: number | null;
  bodyBytes: number;
}

interface BaselineRun {
  concurrency: number;
  received: number;
  distinctIds: number;
  failed: number;
  connections: number;
  firstToLastMs: number;
  rate: number;
  clientMs: number;
  /** the client's own CPU per request (process.cpuUsage), to set against the daemon's per delivery */
  cpuMsPerRequest: number;
}

function log(text: string): void {
  process.stdout.write(`${text}\n`);
}

/** The arrival that completed `count` distinct ids. */
function nthDistinct(arrivals: readonly Arrival[], count: number): Arrival | undefined {
  const seen = new Set<string>();
  for (const a of arrivals) {
    seen.add(a.webhookId);
    if (seen.size === count) return a;
  }
  return undefined;
}

async function runDaemon(dir: string): Promise<{ run: DaemonRun; request: { headers: Record<string, string>; body: string } | undefined }> {
  const path = join(dir, 'burst.db');
  const secret = `whsec_${randomBytes(24).toString('base64')}`;
  const receiver = await startReceiver({ secret, verifySample: 50 });
  try {
    const now = Date.now();
    // Just past the threshold: every machine is due at the daemon's first check.
    const lastSeen = new Date(now - THRESHOLD_MS - 2_000).toISOString();
    await seedFleet(path, { machines: MACHINES, machinesPerUser: MACHINES, status: 'online', lastSeen, statusChangedAt: new Date(now - 86_400_000).toISOString() });
    const handle = openDatabase(path);
    const iso = new Date().toISOString();
    await handle.db.insertInto('webhooks').values({ user_id: 1, url: receiver.url, secret, is_active: 1, created_at: iso, updated_at: iso }).execute();
    // In this fresh file delivery ids run 1..N, one per event, each committed with its event: the
    // largest id tells how many transitions are committed, in one index seek (cheap to poll often).
    const raw = new SqliteDatabase(handle.path, { readonly: true });
    const lastDelivery = raw.prepare<[], { n: number | null }>('SELECT max(id) AS n FROM deliveries');
    const committed = () => (lastDelivery.get()?.n ?? 0) >= MACHINES;

    const daemon = startService(
      'daemon',
      HEARTBEAT_BIN,
      ['run', '--db', path, '--interval', '1s', '--threshold', THRESHOLD],
      { env: serviceEnv({ WEBHOOK_ALLOW_HTTP: 'true', WEBHOOK_ALLOW_PRIVATE: 'true' }), cwd: REPO_ROOT },
    );
    // CPU of the daemon, read often enough to split it between the sweep and the dispatch phase.
    const cpu = new ProcSampler(daemon.pid, 50).start();
    let commitSeenAt: number | undefined;
    let allArrivedAt: number | undefined;
    let exitCode: number | null = null;
    try {
      const started = await daemon.waitForLine(/Heartbeat monitor started/, 60_000);
      // Another connection sees the transitions only once they are committed: poll until all are there.
      const poll = setInterval(() => {
        if (commitSeenAt !== undefined) return;
        if (committed()) commitSeenAt = Date.now();
      }, 10);
      try {
        await receiver.waitFor(() => receiver.unique.size >= MACHINES, TIMEOUT_MS);
        allArrivedAt = nthDistinct(receiver.arrivals, MACHINES)?.at;
        await sleep(LINGER_MS);
      } catch (error) {
        log(`  ${(error as Error).message}`);
      } finally {
        clearInterval(poll);
      }
      if (commitSeenAt === undefined && committed()) commitSeenAt = Date.now();
      const samples = cpu.stop();
      const exit = await daemon.stop();
      exitCode = exit.code;

      const span = await handle.db
        .selectFrom('events')
        .select((eb) => [eb.fn.min('created_at').as('first'), eb.fn.max('created_at').as('last'), eb.fn.countAll<number>().as('n')])
        .where('type', '=', 'machine.offline')
        .executeTakeFirstOrThrow();
      const statuses = await handle.db.selectFrom('deliveries').select(['status', (eb) => eb.fn.countAll<number>().as('n')]).groupBy('status').execute();
      raw.close();
      await handle.close();

      // The sweep stamps every event it writes with its own "now", taken as it starts: that is when
      // detection began. (The "started" log line can reach us late: a long sweep holds the event loop.)
      const firstCreated = span.first ? Date.parse(span.first) : undefined;
      const t0 = Math.min(started.at, firstCreated ?? started.at);
      const offline = receiver.arrivals.filter((a) => a.event === 'machine.offline');
      const first = receiver.arrivals[0]?.at;
      const rel = (t: number | undefined) => (t === undefined ? undefined : t - t0);
      const distinctMachines = new Set(offline.map((a) => a.machineId)).size;
      let logDelayMaxMs = 0;
      for (const line of daemon.lines) {
        const stamp = Date.parse(line.text.slice(0, 24));
        if (Number.isFinite(stamp)) logDelayMaxMs = Math.max(logDelayMaxMs, line.at - stamp);
      }
      const cpuAt = (t: number | undefined) => (t === undefined ? undefined : samples.filter((x) => x.at <= t).pop()?.schedCpuMs);
      const cpuStart = cpuAt(t0) ?? samples[0]?.schedCpuMs ?? 0;
      const cpuCommit = cpuAt(commitSeenAt);
      const cpuEnd = cpuAt(allArrivedAt);
      const run: DaemonRun = {
        received: receiver.arrivals.length,
        distinctIds: receiver.unique.size,
        duplicates: receiver.duplicates,
        offlineEvents: Number(span.n),
        distinctMachines,
        missing: MACHINES - distinctMachines,
        signaturesVerified: receiver.verified,
        signatureFailures: receiver.verifyFailures.slice(0, 3),
        connections: receiver.connections,
        firstArrivalMs: rel(first),
        allArrivedMs: rel(allArrivedAt),
        startupMs: t0 - daemon.spawnedAt,
        sweepCpuMsPerTransition: cpuCommit === undefined ? undefined : (cpuCommit - cpuStart) / MACHINES,
        dispatchCpuMsPerDelivery: cpuEnd === undefined || cpuCommit === undefined ? undefined : (cpuEnd - cpuCommit) / MACHINES,
        logDelayMaxMs,
        sweepMs: rel(commitSeenAt),
        eventsCreatedSpanMs: span.first && span.last ? Date.parse(span.last) - Date.parse(span.first) : undefined,
        dispatchMs: allArrivedAt !== undefined && first !== undefined ? allArrivedAt - first : undefined,
        dispatchRate: allArrivedAt !== undefined && first !== undefined ? (MACHINES * 1000) / Math.max(1, allArrivedAt - first) : 0,
        endToEndRate: allArrivedAt !== undefined ? (MACHINES * 1000) / Math.max(1, allArrivedAt - t0) : 0,
        deliveryStatuses: Object.fromEntries(statuses.map((s) => [s.status, Number(s.n)])),
        exitCode,
        bodyBytes: Buffer.byteLength(receiver.firstRequest?.body ?? ''),
      };
      return { run, request: replayable(receiver) };
    } finally {
      await daemon.stop();
    }
  } finally {
    await receiver.close();
  }
}

/** The first delivery's headers and body, for the baseline to send requests of the same size. */
function replayable(receiver: BenchReceiver): { headers: Record<string, string>; body: string } | undefined {
  const first = receiver.firstRequest;
  if (!first) return undefined;
  const headers: Record<string, string> = {};
  for (const name of ['content-type', 'user-agent', 'webhook-timestamp', 'webhook-signature', 'x-webhook-signature']) {
    const value = first.headers[name];
    if (typeof value === 'string') headers[name] = value;
  }
  return { headers, body: first.body };
}

async function runBaseline(dir: string, concurrency: number, request: { headers: Record<string, string>; body: string }): Promise<BaselineRun> {
  const receiver = await startReceiver();
  try {
    const requestFile = join(dir, 'request.json');
    writeFileSync(requestFile, JSON.stringify(request));
    const out = await runCommand(process.execPath, [join(__dirname, 'baseline-client.js'), receiver.url, String(MACHINES), String(concurrency), requestFile], {
      env: serviceEnv(),
      cwd: REPO_ROOT,
    });
    const client = JSON.parse(out.trim().split('\n').pop()!) as { sent: number; failed: number; ms: number; cpuMs: number };
    const first = receiver.arrivals[0]?.at ?? 0;
    const last = nthDistinct(receiver.arrivals, MACHINES)?.at ?? receiver.arrivals[receiver.arrivals.length - 1]?.at ?? first;
    return {
      concurrency,
      received: receiver.arrivals.length,
      distinctIds: receiver.unique.size,
      failed: client.failed,
      connections: receiver.connections,
      firstToLastMs: last - first,
      rate: (receiver.unique.size * 1000) / Math.max(1, last - first),
      clientMs: client.ms,
      cpuMsPerRequest: client.cpuMs / MACHINES,
    };
  } finally {
    await receiver.close();
  }
}

async function main(): Promise<void> {
  const startedAt = new Date();
  log(`burst: ${MACHINES.toLocaleString('en-US')} machines cross --threshold ${THRESHOLD} at once, one webhook on 127.0.0.1; ${REPETITIONS} repetitions`);
  const daemonRuns: DaemonRun[] = [];
  const baselineRuns: BaselineRun[] = [];
  const notes: string[] = [];
  for (let r = 1; r <= REPETITIONS; r++) {
    const tmp = tempDir('lunasentri-bench-burst-');
    try {
      const { run, request } = await runDaemon(tmp.dir);
      daemonRuns.push(run);
      log(
        `  #${r} daemon: ${run.distinctMachines}/${MACHINES} machines delivered, ${run.duplicates} duplicates, all arrived ${fmtS(run.allArrivedMs)} after detection began, sweep ${fmtS(run.sweepMs)}, log lines up to ${fmtS(run.logDelayMaxMs)} late, CPU ${fmtMs(run.sweepCpuMsPerTransition)}/transition + ${fmtMs(run.dispatchCpuMsPerDelivery)}/delivery, ${Math.round(run.dispatchRate)}/s dispatch, ${run.connections} connections`,
      );
      if (!request) {
        notes.push(`repetition ${r}: no delivery arrived, so no baseline could copy one`);
        continue;
      }
      // As many connections as the daemon opened: at least its concurrency (its sends in flight are
      // capped by the dispatcher, its connections by the sender's pool), so the baseline is never the
      // less parallel of the two. Capped in case a sender without keep-alive opens one per request.
      const baseline = await runBaseline(tmp.dir, Math.min(64, Math.max(1, run.connections)), request);
      baselineRuns.push(baseline);
      log(`  #${r} baseline: ${baseline.distinctIds}/${MACHINES} in ${fmtS(baseline.firstToLastMs)}, ${Math.round(baseline.rate)}/s at concurrency ${baseline.concurrency}, client CPU ${fmtMs(baseline.cpuMsPerRequest)}/request`);
    } finally {
      tmp.remove();
    }
  }

  const m = (pick: (r: DaemonRun) => number | undefined) => median(daemonRuns.map(pick).filter((v): v is number => v !== undefined));
  const figures = {
    machines: MACHINES,
    daemon: {
      allArrivedSeconds: m((r) => r.allArrivedMs) / 1000,
      sweepMs: m((r) => r.sweepMs),
      startupMs: m((r) => r.startupMs),
      logDelayMaxMs: m((r) => r.logDelayMaxMs),
      sweepCpuMsPerTransition: m((r) => r.sweepCpuMsPerTransition),
      dispatchCpuMsPerDelivery: m((r) => r.dispatchCpuMsPerDelivery),
      eventsCreatedSpanMs: m((r) => r.eventsCreatedSpanMs),
      firstArrivalMs: m((r) => r.firstArrivalMs),
      dispatchSeconds: m((r) => r.dispatchMs) / 1000,
      dispatchRate: m((r) => r.dispatchRate),
      endToEndRate: m((r) => r.endToEndRate),
      connections: m((r) => r.connections),
      missingWorst: Math.max(...daemonRuns.map((r) => r.missing)),
      duplicatesWorst: Math.max(...daemonRuns.map((r) => r.duplicates)),
      bodyBytes: m((r) => r.bodyBytes),
    },
    baseline: {
      seconds: median(baselineRuns.map((b) => b.firstToLastMs)) / 1000,
      rate: median(baselineRuns.map((b) => b.rate)),
      connections: median(baselineRuns.map((b) => b.connections)),
      failedWorst: Math.max(0, ...baselineRuns.map((b) => b.failed)),
      cpuMsPerRequest: median(baselineRuns.map((b) => b.cpuMsPerRequest)),
    },
    runs: { daemon: daemonRuns, baseline: baselineRuns },
  };
  // Pairwise ratios (each repetition's daemon against its own baseline), then the median: the two
  // halves of a pair ran seconds apart, so background noise on this shared machine hits both alike.
  const pairs = daemonRuns.slice(0, baselineRuns.length).map((d, i) => ({ e2e: ratio(d.endToEndRate, baselineRuns[i]!.rate), dispatch: ratio(d.dispatchRate, baselineRuns[i]!.rate) }));
  const endToEndRatio = median(pairs.map((p) => p.e2e));
  const dispatchRatio = median(pairs.map((p) => p.dispatch));

  for (const [i, r] of daemonRuns.entries()) {
    if (r.missing > 0 || r.duplicates > 0) notes.push(`repetition ${i + 1}: ${r.missing} machines without an offline delivery, ${r.duplicates} duplicate webhook-ids`);
    if (r.signatureFailures.length > 0) notes.push(`repetition ${i + 1}: signature check failed: ${r.signatureFailures.join(' | ')}`);
    if (r.exitCode !== 0) notes.push(`repetition ${i + 1}: daemon exited with code ${r.exitCode} on SIGTERM`);
  }
  const targets: TargetCheck[] = [
    { metric: 'delivery rate vs baseline (end to end, from detection)', measured: round(endToEndRatio), unit: '×', target: '≥ 0.5×', met: endToEndRatio >= 0.5 },
    { metric: 'machines missing an offline delivery (worst run)', measured: figures.daemon.missingWorst, unit: '', target: '0', met: figures.daemon.missingWorst === 0 },
    { metric: 'duplicate webhook-ids (worst run)', measured: figures.daemon.duplicatesWorst, unit: '', target: '0', met: figures.daemon.duplicatesWorst === 0 },
  ];

  log('');
  log(
    formatTable(
      ['', 'all delivered s', 'sweep ms', 'first arrival ms', 'dispatch s', 'deliveries/s (end to end)', 'connections', 'missing', 'duplicates'],
      [
        [
          'daemon',
          round(figures.daemon.allArrivedSeconds),
          Math.round(figures.daemon.sweepMs),
          Math.round(figures.daemon.firstArrivalMs),
          round(figures.daemon.dispatchSeconds),
          Math.round(figures.daemon.endToEndRate),
          figures.daemon.connections,
          figures.daemon.missingWorst,
          figures.daemon.duplicatesWorst,
        ],
        ['baseline client', round(figures.baseline.seconds), '—', '—', round(figures.baseline.seconds), Math.round(figures.baseline.rate), figures.baseline.connections, '—', '—'],
      ],
    ),
  );
  log(`ratio daemon/baseline: end to end ${round(endToEndRatio)}×, dispatch only ${round(dispatchRatio)}× (median of ${pairs.length} pairs)`);
  log(
    `CPU: daemon ${fmtMs(figures.daemon.sweepCpuMsPerTransition)} per transition (sweep) + ${fmtMs(figures.daemon.dispatchCpuMsPerDelivery)} per delivery; baseline client ${fmtMs(figures.baseline.cpuMsPerRequest)} per request; daemon log lines held up to ${fmtS(figures.daemon.logDelayMaxMs)}`,
  );
  log('');
  log(formatTable(TARGET_HEADERS, targetRows('burst', targets)));
  for (const note of notes) log(`note: ${note}`);
  const file = writeResult(
    newResult('burst', startedAt, { machines: MACHINES, repetitions: REPETITIONS, threshold: THRESHOLD, interval: '1s' }, { ...figures, endToEndRatio, dispatchRatio }, targets, notes),
  );
  log(`wrote ${file}`);
}

function fmtMs(ms: number | undefined): string {
  return ms === undefined ? 'n/a' : `${ms.toFixed(2)} ms`;
}

function fmtS(ms: number | undefined): string {
  return ms === undefined ? 'n/a' : `${(ms / 1000).toFixed(2)} s`;
}

main().catch((error: unknown) => {
  process.stderr.write(`burst failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
