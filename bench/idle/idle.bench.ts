/**
 * idle: what a fleet reporting at its normal pace costs. The API and the daemon (`--interval 30s
 * --threshold 60s`) as real child processes, a fleet of 1,000 and 10,000 machines each reporting
 * every 30 s (spread evenly, keep-alive, the Go agent's steady-state body) from a load generator of
 * its own (bench/idle/agents.js). Measured from /proc of each pid: CPU (% of a core) and RSS over
 * windows after a warm-up, CPU per report at that rate against a short full-load burst of the same
 * API, and the report → `machine.online` webhook latency of probe machines inside the fleet (with
 * their offline detection at the threshold).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { hashCredential, MACHINE_KEY_PREFIX } from '@lunasentri/api';
import { onExit, tempDir } from '../support/cleanup';
import { envInt, envIntList, serviceEnv } from '../support/env';
import { call, freePort, waitForHttp200 } from '../support/http';
import { API_BIN, HEARTBEAT_BIN, REPO_ROOT } from '../support/paths';
import { cpuWindows, processName, ProcSampler, readProc, type ProcSample } from '../support/proc-stats';
import { startReceiver, type BenchReceiver } from '../support/receiver';
import { formatTable, newResult, targetRows, TARGET_HEADERS, writeResult, type TargetCheck } from '../support/results';
import { lastLine, runCommand, startService, type Service } from '../support/service';
import { max, median, round, sleep } from '../support/stats';

const FLEETS = envIntList('BENCH_IDLE_FLEETS', [1_000, 10_000]);
const PERIOD_MS = envInt('BENCH_IDLE_PERIOD_S', 30) * 1000;
// Two periods and a little: the API learns each machine's pace from its first two reports.
const WARMUP_MS = envInt('BENCH_IDLE_WARMUP_S', 70) * 1000;
const MEASURE_MS = envInt('BENCH_IDLE_MEASURE_S', 60) * 1000;
const WINDOW_MS = envInt('BENCH_IDLE_WINDOW_S', 10) * 1000;
const CONNECTIONS = envInt('BENCH_IDLE_CONNECTIONS', 32);
const BURST_MS = envInt('BENCH_IDLE_BURST_S', 5) * 1000;
const BURST_CONCURRENCY = 16;
const PROBES = envInt('BENCH_IDLE_PROBES', 20);
/** `BENCH_IDLE_LATENCY=0`: measure the load only (for profiling runs) */
const LATENCY = process.env.BENCH_IDLE_LATENCY !== '0';
const INTERVAL = '30s';
const THRESHOLD = '60s';
const THRESHOLD_MS = 60_000;
const SAMPLE_MS = 500;
/** how long bare node:http is measured under the same fleet, as the floor of this machine */
const FLOOR_MS = envInt('BENCH_IDLE_FLOOR_S', 30) * 1000;

function log(text: string): void {
  process.stdout.write(`${text}\n`);
}


interface Seeded {
  fleet: string[];
  probes: string[];
  /** machine ids of the probes, in probe order */
  probeIds: number[];
}

/**
 * The fleet (one owner per 100 machines, no channels) and the probes (owned by user 1, who has the
 * webhook), all `online` and just seen, each with its own key: nothing transitions at start.
 */
function seed(path: string, machines: number): Seeded {
  const sqlite = new SqliteDatabase(path);
  try {
    const now = new Date().toISOString();
    const insertUser = sqlite.prepare('INSERT INTO users (email, is_admin, created_at) VALUES (?, 0, ?)');
    const insertMachine = sqlite.prepare(
      `INSERT INTO machines (user_id, name, hostname, status, last_seen, status_changed_at, is_enabled, created_at, updated_at)
       VALUES (?, ?, ?, 'online', ?, ?, 1, ?, ?)`,
    );
    const insertKey = sqlite.prepare('INSERT INTO machine_api_keys (machine_id, key_hash, created_at) VALUES (?, ?, ?)');
    const out: Seeded = { fleet: [], probes: [], probeIds: [] };
    const machine = (userId: number | bigint, name: string): { key: string; id: number } => {
      const id = Number(insertMachine.run(userId, name, `${name}.bench.internal`, now, now, now, now).lastInsertRowid);
      const key = MACHINE_KEY_PREFIX + randomBytes(32).toString('base64url');
      insertKey.run(id, hashCredential(key), now);
      return { key, id };
    };
    sqlite.transaction(() => {
      let owner: number | bigint = 0;
      for (let i = 0; i < machines; i++) {
        if (i % 100 === 0) owner = insertUser.run(`fleet-${i / 100}@bench.example`, now).lastInsertRowid;
        out.fleet.push(machine(owner, `fleet-${i}`).key);
      }
      for (let p = 0; p < PROBES; p++) {
        const { key, id } = machine(1, `probe-${p}`);
        out.probes.push(key);
        out.probeIds.push(id);
      }
    })();
    return out;
  } finally {
    sqlite.close();
  }
}

/** The load generator and a request/answer channel to it. */
interface Agents {
  child: ChildProcess;
  ask<T>(message: Record<string, unknown>): Promise<T>;
  stop(): Promise<void>;
}

function startAgents(keysFile: string, base: string): Agents {
  // execArgv: [] so the generator does not load ts-node (it is plain JS, and its CPU is reported).
  const child = fork(join(__dirname, 'agents.js'), [keysFile, base, String(PERIOD_MS), String(CONNECTIONS)], { execArgv: [], stdio: 'inherit' });
  const unregister = onExit(() => child.kill('SIGKILL'));
  let nextId = 0;
  const waiting = new Map<number, (value: unknown) => void>();
  child.on('message', (message: { id: number }) => {
    waiting.get(message.id)?.(message);
    waiting.delete(message.id);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    ask<T>(message: Record<string, unknown>) {
      const id = ++nextId;
      return new Promise<T>((resolve) => {
        waiting.set(id, resolve as (value: unknown) => void);
        child.send({ ...message, id });
      });
    },
    async stop() {
      if (child.exitCode === null) child.send({ cmd: 'stop' });
      await Promise.race([exited, sleep(5_000)]);
      child.kill('SIGKILL');
      unregister();
    },
  };
}

interface ProcessFigures {
  /** median over windows, % of one core (schedstat) */
  cpuPct: number;
  /** the same from utime + stime (10 ms ticks) */
  statCpuPct: number;
  /** every window's % of a core */
  windowsPct: number[];
  steadyRssMb: number;
  peakRssMb: number;
}

function figuresOf(samples: readonly ProcSample[], from: number, to: number): ProcessFigures {
  const span = samples.filter((s) => s.at >= from && s.at <= to);
  const windows = cpuWindows(span, from, WINDOW_MS);
  return {
    cpuPct: median(windows.map((w) => w.schedCpuMsPerSecond / 10)),
    statCpuPct: median(windows.map((w) => w.cpuMsPerSecond / 10)),
    windowsPct: windows.map((w) => round(w.schedCpuMsPerSecond / 10, 3)),
    steadyRssMb: median(span.map((s) => s.rssKb)) / 1024,
    peakRssMb: max(samples.map((s) => s.hwmKb)) / 1024,
  };
}

/** Per window, the services together: the windows of two samplers started together line up. */
function together(a: ProcessFigures, b: ProcessFigures): number {
  const n = Math.min(a.windowsPct.length, b.windowsPct.length);
  return median(Array.from({ length: n }, (_, i) => a.windowsPct[i]! + b.windowsPct[i]!));
}

interface Latency {
  /** probe's last report sent → its machine.offline webhook, ms */
  offlineMs: number[];
  /** probe's return report sent → its machine.online webhook, ms */
  onlineMs: number[];
}

function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function arrival(receiver: BenchReceiver, from: number, event: string, machineId: number, timeoutMs: number): Promise<number | undefined> {
  const match = () => receiver.arrivals.slice(from).find((a) => a.event === event && a.machineId === machineId);
  await receiver.waitFor(() => match() !== undefined, timeoutMs).catch(() => undefined);
  return match()?.at;
}

/**
 * The probes fall silent a quarter second apart (each after one last report), go offline at the
 * threshold, then come back one at a time, each after a random pause, so a return never lines up
 * with the daemon's poll: every recovery is measured on its own.
 */
async function measureLatency(agents: Agents, receiver: BenchReceiver, seeded: Seeded, notes: string[]): Promise<Latency> {
  const out: Latency = { offlineMs: [], onlineMs: [] };
  const from = receiver.arrivals.length;
  const lastSent: number[] = [];
  for (let p = 0; p < PROBES; p++) {
    lastSent.push((await agents.ask<{ sentAt: number }>({ cmd: 'silence', probe: p })).sentAt);
    await sleep(250);
  }
  for (let p = 0; p < PROBES; p++) {
    const at = await arrival(receiver, from, 'machine.offline', seeded.probeIds[p]!, THRESHOLD_MS + 30_000);
    if (at === undefined) notes.push(`probe ${p}: no offline webhook within the threshold + 30 s`);
    else out.offlineMs.push(at - lastSent[p]!);
  }
  for (let p = 0; p < PROBES; p++) {
    await sleep(300 + Math.floor(Math.random() * 500));
    const index = receiver.arrivals.length;
    const { sentAt } = await agents.ask<{ sentAt: number }>({ cmd: 'report', probe: p });
    const at = await arrival(receiver, index, 'machine.online', seeded.probeIds[p]!, 45_000);
    if (at === undefined) notes.push(`probe ${p}: no online webhook within 45 s of its return`);
    else out.onlineMs.push(at - sentAt);
  }
  return out;
}

interface FleetRun {
  machines: number;
  /** bare node:http under the same reports, measured just before */
  floor: ProcessFigures & { usPerReport: number; reportsPerSecond: number };
  reportsPerSecond: number;
  api: ProcessFigures;
  daemon: ProcessFigures;
  agents: ProcessFigures;
  togetherCpuPct: number;
  togetherRssMb: number;
  /** API CPU per report at the fleet's rate, µs */
  apiUsPerReport: number;
  /** the daemon's too (it reacts to every flush), µs */
  daemonUsPerReport: number;
  burst: { requests: number; errors: number; reportsPerSecond: number; apiUsPerReport: number; daemonUsPerReport: number };
  latency: Latency;
  reportErrors: number;
  exitCodes: { api: number | null; daemon: number | null };
}

/** The load generator: spawn, warm up, measure the idle windows, then a full-load burst. */
async function measureLoad(api: Service, daemon: Service, agents: Agents, machines: number) {
  const samplers = [api.pid, daemon.pid, agents.child.pid!].map((pid) => new ProcSampler(pid, SAMPLE_MS).start());
  await sleep(WARMUP_MS);
  const before = await agents.ask<{ accepted: number }>({ cmd: 'stats' });
  const from = Date.now();
  for (const s of samplers) s.take();
  await sleep(MEASURE_MS);
  for (const s of samplers) s.take();
  const to = Date.now();
  const after = await agents.ask<{ accepted: number }>({ cmd: 'stats' });
  const [apiF, daemonF, agentsF] = samplers.map((s) => figuresOf(s.samples, from, to)) as [ProcessFigures, ProcessFigures, ProcessFigures];
  for (const s of samplers) s.stop();
  const reportsPerSecond = ((after.accepted - before.accepted) * 1000) / (to - from);
  log(`  ${machines} machines: ${reportsPerSecond.toFixed(1)} reports/s measured over ${(to - from) / 1000} s`);

  // Full load: the same API, as fast as 16 concurrent agents go.
  const apiStart = readProc(api.pid);
  const daemonStart = readProc(daemon.pid);
  const burst = await agents.ask<{ requests: number; errors: number }>({ cmd: 'burst', ms: BURST_MS, connections: BURST_CONCURRENCY });
  const apiEnd = readProc(api.pid);
  const daemonEnd = readProc(daemon.pid);
  const seconds = (apiEnd.at - apiStart.at) / 1000;
  // The steady fleet keeps reporting meanwhile; its reports are counted too.
  const requests = burst.requests + reportsPerSecond * seconds;
  return {
    reportsPerSecond,
    apiF,
    daemonF,
    agentsF,
    burst: {
      ...burst,
      reportsPerSecond: requests / seconds,
      apiUsPerReport: ((apiEnd.schedCpuMs - apiStart.schedCpuMs) * 1000) / requests,
      daemonUsPerReport: ((daemonEnd.schedCpuMs - daemonStart.schedCpuMs) * 1000) / requests,
    },
  };
}

async function runFleet(machines: number, notes: string[]): Promise<FleetRun> {
  const tmp = tempDir('lunasentri-bench-idle-');
  const secret = `whsec_${randomBytes(24).toString('base64')}`;
  const receiver = await startReceiver({ secret, verifySample: 5 });
  const services: Service[] = [];
  let agents: Agents | undefined;
  try {
    const db = join(tmp.dir, 'idle.db');
    const env = serviceEnv({ WEBHOOK_ALLOW_HTTP: 'true', WEBHOOK_ALLOW_PRIVATE: 'true' });
    await runCommand(API_BIN, ['migrate', '--db', db], { env, cwd: REPO_ROOT });
    const token = lastLine(await runCommand(API_BIN, ['user', 'create', '--email', 'probe-owner@bench.example', '--db', db], { env, cwd: REPO_ROOT }));
    const seeded = seed(db, machines);
    const keysFile = join(tmp.dir, 'keys.json');
    writeFileSync(keysFile, JSON.stringify({ fleet: seeded.fleet, probes: seeded.probes }));
    const floor = await measureFloor(keysFile);

    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const api = startService('api', API_BIN, ['serve', '--db', db, '--port', String(port), '--host', '127.0.0.1'], { env, cwd: REPO_ROOT });
    services.push(api);
    await waitForHttp200(`${base}/health`, 30_000);
    const created = await call('POST', `${base}/notifications/webhooks`, { bearer: token, json: { url: receiver.url, secret } });
    if (created.status !== 201) throw new Error(`POST /notifications/webhooks answered ${created.status}: ${JSON.stringify(created.body)}`);
    const daemon = startService('daemon', HEARTBEAT_BIN, ['run', '--db', db, '--interval', INTERVAL, '--threshold', THRESHOLD], { env, cwd: REPO_ROOT });
    services.push(daemon);
    await daemon.waitForLine(/Heartbeat monitor started/, 30_000);
    for (const s of services) if (processName(s.pid) !== 'node') throw new Error(`${s.name}: pid ${s.pid} is not node`);

    agents = startAgents(keysFile, base);
    const load = await measureLoad(api, daemon, agents, machines);
    const latency = LATENCY ? await measureLatency(agents, receiver, seeded, notes) : { offlineMs: [], onlineMs: [] };
    const stats = await agents.ask<{ errors: number; lastError: string }>({ cmd: 'stats' });
    if (stats.errors > 0) notes.push(`${machines} machines: ${stats.errors} reports failed (last: ${stats.lastError})`);
    await agents.stop();
    const daemonExit = await daemon.stop();
    const apiExit = await api.stop();
    if (receiver.duplicates > 0) notes.push(`${machines} machines: ${receiver.duplicates} duplicate webhook-ids`);
    if (receiver.verifyFailures.length > 0) notes.push(`signature check failed: ${receiver.verifyFailures[0]}`);
    return {
      machines,
      floor,
      reportsPerSecond: load.reportsPerSecond,
      api: load.apiF,
      daemon: load.daemonF,
      agents: load.agentsF,
      togetherCpuPct: together(load.apiF, load.daemonF),
      togetherRssMb: load.apiF.steadyRssMb + load.daemonF.steadyRssMb,
      apiUsPerReport: (load.apiF.cpuPct * 10_000) / load.reportsPerSecond,
      daemonUsPerReport: (load.daemonF.cpuPct * 10_000) / load.reportsPerSecond,
      burst: load.burst,
      latency,
      reportErrors: stats.errors,
      exitCodes: { api: apiExit.code, daemon: daemonExit.code },
    };
  } finally {
    await agents?.stop();
    for (const s of services.reverse()) await s.stop();
    await receiver.close();
    tmp.remove();
  }
}

/**
 * The floor on this machine right now: bare node:http (bench/ingest/bare-server.js, answering 202
 * after reading the body) under the same fleet's reports. What the API spends above it is its own.
 */
async function measureFloor(keysFile: string): Promise<ProcessFigures & { usPerReport: number; reportsPerSecond: number }> {
  const bare = startService('bare', process.execPath, [join(REPO_ROOT, 'bench', 'ingest', 'bare-server.js')], { env: serviceEnv() });
  let agents: Agents | undefined;
  try {
    const port = Number((await bare.waitForLine(/^\d+$/, 10_000)).text);
    agents = startAgents(keysFile, `http://127.0.0.1:${port}`);
    const sampler = new ProcSampler(bare.pid, SAMPLE_MS).start();
    await sleep(Math.min(WARMUP_MS, 10_000));
    const before = await agents.ask<{ accepted: number }>({ cmd: 'stats' });
    const from = Date.now();
    sampler.take();
    await sleep(FLOOR_MS);
    sampler.take();
    const to = Date.now();
    const after = await agents.ask<{ accepted: number }>({ cmd: 'stats' });
    const figures = figuresOf(sampler.stop(), from, to);
    const reportsPerSecond = ((after.accepted - before.accepted) * 1000) / (to - from);
    return { ...figures, reportsPerSecond, usPerReport: (figures.cpuPct * 10_000) / reportsPerSecond };
  } finally {
    await agents?.stop();
    await bare.stop();
  }
}

/** A bare node process's RSS on this machine, for scale. */
async function bareNodeRssMb(): Promise<number> {
  const bare = startService('bare-node', process.execPath, ['-e', 'setInterval(() => {}, 1000); console.log("up")'], { env: serviceEnv() });
  try {
    await bare.waitForLine(/up/, 10_000);
    await sleep(1_000);
    return readProc(bare.pid).rssKb / 1024;
  } finally {
    await bare.stop();
  }
}

function printRuns(runs: FleetRun[]): void {
  const rows: Array<Array<string | number>> = [];
  for (const r of runs) {
    for (const [name, f] of [['api', r.api], ['daemon', r.daemon], ['load generator', r.agents]] as const) {
      rows.push([r.machines, name, round(f.cpuPct, 3), round(f.statCpuPct, 2), round(f.steadyRssMb, 1), round(f.peakRssMb, 1)]);
    }
    rows.push([r.machines, 'api + daemon', round(r.togetherCpuPct, 3), '', round(r.togetherRssMb, 1), '']);
    rows.push([r.machines, 'bare node:http (floor)', round(r.floor.cpuPct, 3), round(r.floor.statCpuPct, 2), round(r.floor.steadyRssMb, 1), round(r.floor.peakRssMb, 1)]);
  }
  log(formatTable(['machines', 'process', 'CPU % of a core', '(stat)', 'RSS MB', 'peak RSS MB'], rows));
  log('');
  log(
    formatTable(
      ['machines', 'reports/s', 'API µs/report', 'daemon µs/report', 'bare node:http µs/report', 'full load reports/s', 'API µs/report at full load', 'ratio'],
      runs.map((r) => [
        r.machines,
        round(r.reportsPerSecond, 1),
        round(r.apiUsPerReport, 0),
        round(r.daemonUsPerReport, 0),
        round(r.floor.usPerReport, 0),
        round(r.burst.reportsPerSecond, 0),
        round(r.burst.apiUsPerReport, 1),
        round(r.apiUsPerReport / r.burst.apiUsPerReport, 2),
      ]),
    ),
  );
  log('');
  log(
    formatTable(
      ['machines', 'online median ms', 'online p99 ms', 'online max ms', 'recoveries', 'offline − threshold median s', 'max s'],
      runs.map((r) => {
        const over = r.latency.offlineMs.map((ms) => (ms - THRESHOLD_MS) / 1000);
        return [r.machines, round(median(r.latency.onlineMs), 0), round(percentile(r.latency.onlineMs, 99), 0), round(max(r.latency.onlineMs), 0), r.latency.onlineMs.length, round(median(over), 2), round(max(over), 2)];
      }),
    ),
  );
}

function targetsOf(run: FleetRun): TargetCheck[] {
  const over = run.latency.offlineMs.map((ms) => ms - THRESHOLD_MS);
  const ratio = run.apiUsPerReport / run.burst.apiUsPerReport;
  const tag = `${run.machines.toLocaleString('en-US')} machines`;
  return [
    { metric: `${tag}: API + daemon CPU`, measured: round(run.togetherCpuPct, 2), unit: '% of a core', target: '< 1 %', met: run.togetherCpuPct < 1 },
    { metric: `${tag}: API + daemon RSS`, measured: round(run.togetherRssMb, 1), unit: 'MB', target: '< 120 MB', met: run.togetherRssMb < 120 },
    { metric: `${tag}: API CPU per report vs full load`, measured: round(ratio, 2), unit: '×', target: '≤ 3×', met: ratio <= 3 },
    { metric: `${tag}: report → online webhook (median of ${run.latency.onlineMs.length})`, measured: round(median(run.latency.onlineMs), 0), unit: 'ms', target: '≤ 100 ms', met: run.latency.onlineMs.length >= PROBES && median(run.latency.onlineMs) <= 100 },
    { metric: `${tag}: offline after the threshold (worst of ${over.length})`, measured: round(max(over) / 1000, 2), unit: 's', target: '≤ 1.5 s', met: over.length >= PROBES && max(over) <= 1_500 },
  ];
}

async function main(): Promise<void> {
  const startedAt = new Date();
  log(`idle: API + daemon (--interval ${INTERVAL} --threshold ${THRESHOLD}), fleets of ${FLEETS.join(', ')} reporting every ${PERIOD_MS / 1000} s over ${CONNECTIONS} keep-alive connections`);
  const bareMb = await bareNodeRssMb();
  log(`  a bare node process: ${bareMb.toFixed(1)} MB RSS`);
  const notes: string[] = [];
  const runs: FleetRun[] = [];
  for (const machines of FLEETS) runs.push(await runFleet(machines, notes));
  log('');
  printRuns(runs);
  const targets = runs.flatMap((r) => (r.machines === 1_000 || runs.length === 1 ? targetsOf(r) : targetsOf(r).slice(2)));
  log('');
  log(formatTable(TARGET_HEADERS, targetRows('idle', targets)));
  for (const note of notes) log(`note: ${note}`);
  const config = { fleets: FLEETS, periodMs: PERIOD_MS, warmupMs: WARMUP_MS, measureMs: MEASURE_MS, windowMs: WINDOW_MS, connections: CONNECTIONS, burstMs: BURST_MS, probes: PROBES, interval: INTERVAL, threshold: THRESHOLD };
  const file = writeResult(newResult('idle', startedAt, config, { bareNodeRssMb: round(bareMb, 1), runs }, targets, notes));
  log(`wrote ${file}`);
}

main().catch((error: unknown) => {
  process.stderr.write(`idle failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
