'use strict';
/**
 * Ingest benchmark: the real built API (`lunasentri-api serve`, a child process) against a bare
 * node:http server answering 202 (also a child process), on the same machine in the same run.
 *
 *   node bench/ingest/run.js [--machines 1000] [--connections 16] [--duration 10] [--reps 3] [--warmup 3] [--pin 1]
 *
 * With --pin 1 (the default) on a machine with 2+ CPUs and `taskset`, the load generator runs on CPU 0
 * and each server on CPU 1: the servers then compete for the same core with nothing but themselves,
 * instead of the result depending on how the scheduler mixes client, server and kernel work.
 *
 * Needs a build (`node_modules/.bin/tsc -b`). Seeds a temp SQLite file with one user and N machines
 * (each with its own key), drives both servers with autocannon using the Go agent's steady-state
 * body and keys rotated over all machines, alternating which server goes first each repetition.
 * Prints a table and writes bench/results/ingest.json (medians and the ratio).
 *
 * Two API processes are measured against the same bare server: `api` with the default key cache
 * (the benchmark reuses each key many times a second, so nearly every report is a cache hit) and
 * `api_miss` with KEY_CACHE_TTL=1ms, where every report takes the key-lookup miss path — the most
 * pessimistic case a real fleet can produce (each agent reports every 10 s). --miss 0 skips the second.
 */
const { spawn, spawnSync } = require('node:child_process');
const { mkdirSync, mkdtempSync, rmSync, writeFileSync } = require('node:fs');
const os = require('node:os');
const { join, resolve } = require('node:path');
const autocannon = require('autocannon');

const root = resolve(__dirname, '..', '..');

function args() {
  const options = { machines: 1000, connections: 16, duration: 10, reps: 3, warmup: 3, pin: 1, miss: 1, postgres: 0, tool: wrkVersion() ? 'wrk' : 'autocannon' };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '');
    if (!(key in options)) throw new Error(`unknown option ${argv[i]}`);
    if (key === 'tool') {
      if (!['wrk', 'autocannon'].includes(argv[i + 1])) throw new Error(`bad value for --tool: ${argv[i + 1]} (wrk or autocannon)`);
      if (argv[i + 1] === 'wrk' && !wrkVersion()) throw new Error('--tool wrk: wrk is not installed (Debian: apt-get install wrk)');
      options.tool = argv[i + 1];
      continue;
    }
    const value = Number(argv[i + 1]);
    if (!Number.isFinite(value) || value < 0) throw new Error(`bad value for ${argv[i]}: ${argv[i + 1]}`);
    options[key] = value;
  }
  return options;
}

/** The Go agent's steady-state report (system_info only comes with the first one). */
const BODY = JSON.stringify({ cpu_pct: 80.4, mem_used_pct: 2.7, disk_used_pct: 23.5, net_rx_bytes: 696995159, net_tx_bytes: 13100327, uptime_s: 1035 });

/**
 * `--postgres 1`: the same benchmark on a fresh PostgreSQL database on BENCH_POSTGRES_URL's server
 * (bench.sh starts a private one). Seeded through Kysely (1,000 rows: no bulk path needed).
 */
async function seedPostgres(base, count) {
  const { openDatabase, migrateToLatest } = require('@lunasentri/shared');
  const { hashCredential, MACHINE_KEY_PREFIX } = require('@lunasentri/api');
  const { randomBytes } = require('node:crypto');
  const { sql } = require('kysely');
  const name = `lunasentri_bench_ingest_${randomBytes(4).toString('hex')}`;
  const admin = openDatabase(base);
  await sql.raw(`CREATE DATABASE ${name}`).execute(admin.db);
  await admin.close();
  const url = new URL(base);
  url.pathname = `/${name}`;
  const handle = openDatabase(url.toString());
  await migrateToLatest(handle.db);
  const now = new Date().toISOString();
  const { id: userId } = await handle.db.insertInto('users').values({ email: 'bench@example.com', is_admin: 0, created_at: now }).returning('id').executeTakeFirstOrThrow();
  const keys = [];
  for (let i = 0; i < count; i++) {
    const { id } = await handle.db.insertInto('machines').values({ user_id: userId, name: `bench-${i}`, status: 'pending', is_enabled: 1, created_at: now, updated_at: now }).returning('id').executeTakeFirstOrThrow();
    const key = MACHINE_KEY_PREFIX + randomBytes(32).toString('base64url');
    await handle.db.insertInto('machine_api_keys').values({ machine_id: id, key_hash: hashCredential(key), created_at: now, revoked_at: null }).execute();
    keys.push(key);
  }
  await handle.close();
  return { keys, url: url.toString(), drop: async () => {
    const again = openDatabase(base);
    await sql.raw(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).execute(again.db);
    await again.close();
  } };
}

/** What the API wrote, read back through the database port (either engine). */
async function writtenRows(location) {
  const { openDatabase } = require('@lunasentri/shared');
  const check = openDatabase(location, { create: false });
  const count = async (query) => Number((await query.select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
  const seen = await count(check.db.selectFrom('machines').where('last_seen', 'is not', null));
  const notPending = await count(check.db.selectFrom('machines').where('status', '!=', 'pending'));
  const metricsRows = await count(check.db.selectFrom('machine_metrics'));
  await check.close();
  return { seen, notPending, metricsRows };
}

async function seed(dbPath, count) {
  const { openDatabase, migrateToLatest } = require('@lunasentri/shared');
  const { hashCredential, MACHINE_KEY_PREFIX } = require('@lunasentri/api');
  const { randomBytes } = require('node:crypto');
  const handle = openDatabase(dbPath);
  await migrateToLatest(handle.db);
  await handle.close();
  const now = new Date().toISOString();
  const keys = [];
  // Bulk seeding straight through the driver, below the database port: one transaction, prepared
  // statements (benchmark setup only).
  const sqlite = new (require('better-sqlite3'))(dbPath);
  const user = sqlite.prepare('insert into users (email, created_at) values (?, ?)').run('bench@example.com', now);
  const insertMachine = sqlite.prepare("insert into machines (user_id, name, status, created_at, updated_at) values (?, ?, 'pending', ?, ?)");
  const insertKey = sqlite.prepare('insert into machine_api_keys (machine_id, key_hash, created_at) values (?, ?, ?)');
  sqlite.transaction(() => {
    for (let i = 0; i < count; i++) {
      const machine = insertMachine.run(user.lastInsertRowid, `bench-${i}`, now, now);
      const key = MACHINE_KEY_PREFIX + randomBytes(32).toString('base64url');
      insertKey.run(machine.lastInsertRowid, hashCredential(key), now);
      keys.push(key);
    }
  })();
  sqlite.close();
  return keys;
}

/** wrk's version line ("wrk 4.1.0 …"), or '' when it is not installed. */
function wrkVersion() {
  const result = spawnSync('wrk', ['--version'], { encoding: 'utf8' });
  if (result.error) return '';
  return /wrk \S+/.exec(`${result.stdout}${result.stderr}`)?.[0] ?? '';
}

/** CPU pinning: true when asked for and possible. */
function pinning(options) {
  if (!options.pin || os.cpus().length < 2) return false;
  return spawnSync('taskset', ['-a', '-p', '-c', '0', String(process.pid)], { stdio: 'ignore' }).status === 0;
}

let pinned = false;
/** With --tool wrk: the file of machine keys (one a line) the wrk script rotates over. */
let keysFile = '';

function startChild(label, command, argv, env, readyPattern) {
  if (pinned) {
    argv = ['-c', '1', command, ...argv];
    command = 'taskset';
  }
  return new Promise((resolveStart, reject) => {
    const child = spawn(command, argv, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const onData = (chunk) => {
      output += chunk;
      const match = readyPattern.exec(output);
      if (match) resolveStart({ child, port: Number(match[1]) });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${label} exited with ${code} before it was ready:\n${output}`)));
    setTimeout(() => reject(new Error(`${label} was not ready after 30s:\n${output}`)), 30_000).unref();
  });
}

function stopChild(child) {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((r) => {
    child.once('exit', (code) => r(code));
    child.kill('SIGTERM');
  });
}

/**
 * One wrk run (one thread: with pinning it has CPU 0 to itself) against 127.0.0.1:port, in the shape
 * of autocannon's result that summary() reads.
 */
function driveWrk(port, file, connections, duration) {
  return new Promise((resolveRun, reject) => {
    const argv = ['-t1', `-c${connections}`, `-d${duration}s`, '--timeout', '10s', '-s', join(__dirname, 'wrk-ingest.lua'), `http://127.0.0.1:${port}/agent/metrics`, '--', file, BODY];
    const child = spawn('wrk', argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.stderr.on('data', (chunk) => (out += chunk));
    child.once('error', reject);
    child.once('exit', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (code !== 0 || !line) return reject(new Error(`wrk exited with ${code}:\n${out}`));
      const r = JSON.parse(line);
      resolveRun({
        requests: { total: r.requests, average: r.requests / (r.duration_us / 1e6) },
        latency: { p50: r.p50_us / 1000, p99: r.p99_us / 1000 },
        non2xx: r.non_2xx,
        errors: r.connect_errors + r.read_errors + r.write_errors,
        timeouts: r.timeouts,
      });
    });
  });
}

function drive(port, keys, connections, duration) {
  if (keysFile) return driveWrk(port, keysFile, connections, duration);
  let next = 0;
  return autocannon({
    url: `http://127.0.0.1:${port}`,
    connections,
    duration,
    requests: [
      {
        method: 'POST',
        path: '/agent/metrics',
        headers: { 'content-type': 'application/json' },
        body: BODY,
        setupRequest(request) {
          const key = keys[next++ % keys.length];
          return { ...request, headers: { ...request.headers, authorization: `Bearer ${key}` } };
        },
      },
    ],
  });
}

/** CPU time (user + system, all threads) a process has used so far, in ms; null where /proc is missing. */
function cpuMs(pid) {
  try {
    const stat = require('node:fs').readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th overall.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return null;
  }
}

/** Per-CPU jiffies from /proc/stat: [{ busy, total }] by CPU number; [] where /proc is missing. */
function cpuTimes() {
  try {
    return require('node:fs')
      .readFileSync('/proc/stat', 'utf8')
      .split('\n')
      .filter((line) => /^cpu\d+ /.test(line))
      .map((line) => {
        const [user, nice, system, idle, iowait, irq, softirq, steal] = line.split(/\s+/).slice(1, 9).map(Number);
        const busy = user + nice + system + irq + softirq + steal;
        return { busy, total: busy + idle + iowait };
      });
  } catch {
    return [];
  }
}

/** Busy share of CPU 0 (the load generator's) and CPU 1 (the server's) between two cpuTimes() snapshots. */
function busyShares(before, after) {
  const share = (i) => (before[i] && after[i] ? (after[i].busy - before[i].busy) / Math.max(1, after[i].total - before[i].total) : null);
  return { client_cpu0: share(0), server_cpu1: share(1) };
}

/** Median busy shares of a server's runs, and the side that limited them (the one closer to a full core). */
function limitOf(serverRuns) {
  const client = median(serverRuns.map((r) => r.client_cpu_busy ?? NaN));
  const server = median(serverRuns.map((r) => r.server_cpu_busy ?? NaN));
  return { client_cpu_busy: client, server_cpu_busy: server, side: server >= client ? 'server' : 'load generator' };
}

const pct = (share) => (share === null ? '?' : `${(share * 100).toFixed(0)}%`);

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

function summary(result, cpu, busy) {
  return {
    // With pinning: the busy share of each side's core. The side near 1.0 was the limit.
    client_cpu_busy: busy.client_cpu0,
    server_cpu_busy: busy.server_cpu1,
    // Server CPU per request: unlike req/s, hardly moved by other work on the machine.
    server_cpu_us_per_request: cpu === null ? null : (cpu * 1000) / result.requests.total,
    requests_per_s: result.requests.average,
    latency_p50_ms: result.latency.p50,
    latency_p99_ms: result.latency.p99,
    total: result.requests.total,
    non_2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
  };
}

/** Warm-up, then `options.reps` rounds of every server (the first rotating), each run with its server CPU: the runs by server name. */
async function measure(servers, keys, options) {
  const names = Object.keys(servers);
  const targets = Object.fromEntries(names.map((name) => [name, servers[name].port]));
  const runs = Object.fromEntries(names.map((name) => [name, []]));
  for (const name of names) {
    if (options.warmup > 0) {
      process.stderr.write(`Warm-up ${name} (${options.warmup}s)…\n`);
      await drive(targets[name], keys, options.connections, options.warmup);
    }
  }
  for (let rep = 0; rep < options.reps; rep++) {
    // Rotates which server goes first, so drift over the run does not favour one.
    const order = names.map((_, i) => names[(i + rep) % names.length]);
    for (const name of order) {
      const pid = servers[name].child.pid;
      const cpuBefore = cpuMs(pid);
      const timesBefore = cpuTimes();
      const outcome = await drive(targets[name], keys, options.connections, options.duration);
      const busy = busyShares(timesBefore, cpuTimes());
      const cpuAfter = cpuMs(pid);
      const result = summary(outcome, cpuBefore === null || cpuAfter === null ? null : cpuAfter - cpuBefore, busy);
      runs[name].push(result);
      process.stderr.write(`rep ${rep + 1}/${options.reps} ${name.padEnd(8)} ${result.requests_per_s.toFixed(0).padStart(7)} req/s  p50 ${result.latency_p50_ms} ms  p99 ${result.latency_p99_ms} ms  non-2xx ${result.non_2xx}  errors ${result.errors}  server CPU ${result.server_cpu_us_per_request?.toFixed(1)} µs/req${pinned ? `  busy: client CPU0 ${pct(result.client_cpu_busy)}, server CPU1 ${pct(result.server_cpu_busy)}` : ''}\n`);
    }
  }
  return runs;
}

/** The table, the ratios, which side was the limit, and what was written. */
function printResult(result, options, withMiss) {
  const row = (label, r) =>
    `| ${label.padEnd(26)} | ${r.median_requests_per_s.toFixed(0).padStart(9)} | ${String(r.median_latency_p50_ms).padStart(7)} | ${String(r.median_latency_p99_ms).padStart(7)} |`;
  console.log(`\nIngest benchmark — ${options.connections} connections, ${options.reps} × ${options.duration}s, keys rotated over ${options.machines} machines`);
  console.log(`| ${'server'.padEnd(26)} | req/s med | p50 ms  | p99 ms  |`);
  console.log(`|${'-'.repeat(28)}|${'-'.repeat(11)}|${'-'.repeat(9)}|${'-'.repeat(9)}|`);
  console.log(row('lunasentri-api /agent/metrics', result.api));
  if (withMiss) console.log(row('api, every key a miss', result.api_miss));
  console.log(row('bare node:http 202', result.bare));
  console.log(`ratio api/bare: ${result.ratio.toFixed(2)} of the medians, ${result.median_paired_ratio.toFixed(2)} median of paired runs (target ≥ ${result.target_ratio})`);
  if (withMiss) {
    console.log(`ratio api (every key a miss)/bare: ${result.miss_ratio.toFixed(2)} of the medians, ${result.miss_median_paired_ratio.toFixed(2)} median of paired runs; ${result.miss_median_cpu_us_per_request.toFixed(1)} µs CPU/req`);
  }
  console.log(`server CPU per request (median): api ${result.median_cpu_us_per_request.api.toFixed(1)} µs, bare ${result.median_cpu_us_per_request.bare.toFixed(1)} µs`);
  if (result.limit) {
    for (const [name, limit] of Object.entries(result.limit)) {
      console.log(`${name}: CPU busy median client ${pct(limit.client_cpu_busy)}, server ${pct(limit.server_cpu_busy)} → the limit was the ${limit.side}`);
    }
  }
  console.log(`after stop: ${result.checks.machines_with_last_seen}/${options.machines} machines have last_seen, ${result.checks.status_changed} status changes, ${result.checks.metrics_rows} metrics rows; API exit ${result.checks.api_exit_code}`);
  console.log(`written: bench/results/${result.benchmark}.json`);
}

async function main() {
  const options = args();
  const tmp = mkdtempSync(join(os.tmpdir(), 'lunasentri-bench-ingest-'));
  const children = [];
  let dropPostgres = async () => undefined;
  try {
    if (options.postgres && !process.env.BENCH_POSTGRES_URL) {
      console.log('ingest on PostgreSQL: skipped (no PostgreSQL server: BENCH_POSTGRES_URL is not set)');
      return;
    }
    pinned = pinning(options);
    let dbPath = join(tmp, 'bench.db');
    let keys;
    process.stderr.write(`Load generator: ${options.tool}. ${pinned ? 'Pinned: load generator on CPU 0, servers on CPU 1. ' : 'Not pinned. '}Seeding ${options.machines} machines${options.postgres ? ' into PostgreSQL' : ` into ${dbPath}`}…\n`);
    if (options.postgres) {
      const seeded = await seedPostgres(process.env.BENCH_POSTGRES_URL, options.machines);
      ({ keys, url: dbPath, drop: dropPostgres } = seeded);
    } else {
      keys = await seed(dbPath, options.machines);
    }
    if (options.tool === 'wrk') {
      keysFile = join(tmp, 'keys.txt');
      writeFileSync(keysFile, `${keys.join('\n')}\n`);
    }

    const api = await startChild(
      'lunasentri-api',
      join(root, 'node_modules', '.bin', 'lunasentri-api'),
      ['serve', '--db', dbPath, '--port', '0', '--host', '127.0.0.1'],
      // info: the listening line is how the port is learnt; the API logs nothing per request.
      { LOG_LEVEL: 'info', LOG_FORMAT: 'text', TELEGRAM_BOT_TOKEN: '' },
      /listening on http:\/\/127\.0\.0\.1:(\d+)/,
    );
    children.push(api.child);
    const apiMiss = options.miss
      ? await startChild(
          'lunasentri-api (no key cache)',
          join(root, 'node_modules', '.bin', 'lunasentri-api'),
          ['serve', '--db', dbPath, '--port', '0', '--host', '127.0.0.1'],
          { LOG_LEVEL: 'info', LOG_FORMAT: 'text', TELEGRAM_BOT_TOKEN: '', KEY_CACHE_TTL: '1ms' },
          /listening on http:\/\/127\.0\.0\.1:(\d+)/,
        )
      : null;
    if (apiMiss) children.push(apiMiss.child);
    const bare = await startChild('bare server', process.execPath, [join(__dirname, 'bare-server.js')], {}, /^(\d+)\n/);
    children.push(bare.child);

    const servers = { api, bare, ...(apiMiss ? { api_miss: apiMiss } : {}) };
    const runs = await measure(servers, keys, options);

    const apiCode = await stopChild(api.child);
    const apiMissCode = apiMiss ? await stopChild(apiMiss.child) : 0;
    await stopChild(bare.child);

    // What the API wrote must be there after its graceful stop, and status must be untouched.
    const { seen, notPending, metricsRows } = await writtenRows(dbPath);

    const med = (name, field) => median(runs[name].map((r) => r[field]));
    const result = {
      benchmark: options.postgres ? 'ingest-postgres' : 'ingest',
      engine: options.postgres ? 'postgres' : 'sqlite',
      date: new Date().toISOString(),
      machine: { cpus: os.cpus().length, cpu_model: os.cpus()[0]?.model ?? 'unknown', memory_mb: Math.round(os.totalmem() / 1048576), platform: `${os.platform()} ${os.release()}`, node: process.version },
      options: { ...options, pinned, body_bytes: Buffer.byteLength(BODY), tool: options.tool === 'wrk' ? `${wrkVersion()}, 1 thread` : 'autocannon 9.0.0' },
      load_average_at_end: os.loadavg(),
      api: { median_requests_per_s: med('api', 'requests_per_s'), median_latency_p50_ms: med('api', 'latency_p50_ms'), median_latency_p99_ms: med('api', 'latency_p99_ms'), runs: runs.api },
      bare: { median_requests_per_s: med('bare', 'requests_per_s'), median_latency_p50_ms: med('bare', 'latency_p50_ms'), median_latency_p99_ms: med('bare', 'latency_p99_ms'), runs: runs.bare },
      ratio: med('api', 'requests_per_s') / med('bare', 'requests_per_s'),
      // Each repetition runs the two servers back to back: the ratio within a pair is the least
      // sensitive to load that drifts over the run (other work on a shared machine).
      paired_ratios: runs.api.map((r, i) => r.requests_per_s / runs.bare[i].requests_per_s),
      median_cpu_us_per_request: { api: median(runs.api.map((r) => r.server_cpu_us_per_request ?? NaN)), bare: median(runs.bare.map((r) => r.server_cpu_us_per_request ?? NaN)) },
      median_paired_ratio: median(runs.api.map((r, i) => r.requests_per_s / runs.bare[i].requests_per_s)),
      // Which side was the limit of each server's runs (pinned runs only): the core that was busy.
      limit: pinned ? Object.fromEntries(Object.keys(runs).map((name) => [name, limitOf(runs[name])])) : null,
      ...(apiMiss
        ? {
            api_miss: { key_cache_ttl: '1ms', median_requests_per_s: med('api_miss', 'requests_per_s'), median_latency_p50_ms: med('api_miss', 'latency_p50_ms'), median_latency_p99_ms: med('api_miss', 'latency_p99_ms'), runs: runs.api_miss },
            miss_ratio: med('api_miss', 'requests_per_s') / med('bare', 'requests_per_s'),
            miss_median_paired_ratio: median(runs.api_miss.map((r, i) => r.requests_per_s / runs.bare[i].requests_per_s)),
            miss_median_cpu_us_per_request: median(runs.api_miss.map((r) => r.server_cpu_us_per_request ?? NaN)),
          }
        : {}),
      target_ratio: 0.8,
      checks: { api_exit_code: apiCode, api_miss_exit_code: apiMissCode, machines_with_last_seen: seen, machines: options.machines, status_changed: notPending, metrics_rows: metricsRows },
    };
    const outDir = join(root, 'bench', 'results');
    mkdirSync(outDir, { recursive: true });
    writeFileSync(join(outDir, `${result.benchmark}.json`), `${JSON.stringify(result, null, 2)}\n`);

    printResult(result, options, Boolean(apiMiss));
    const ok = apiCode === 0 && apiMissCode === 0 && seen === options.machines && notPending === 0 && [...runs.api, ...(runs.api_miss ?? [])].every((r) => r.non_2xx === 0 && r.errors === 0);
    if (!ok) {
      console.error('benchmark checks failed (see above)');
      process.exitCode = 1;
    }
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(tmp, { recursive: true, force: true });
    await dropPostgres().catch(() => undefined);
  }
}

main().catch((error) => {
  console.error(error.stack || String(error));
  process.exit(1);
});
