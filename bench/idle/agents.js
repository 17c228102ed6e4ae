'use strict';
/*
 * The fleet for the idle benchmark, in a process of its own so that its CPU is never counted as the
 * API's (the benchmark prints it beside the services' figures). Plain JavaScript: no TypeScript
 * compiler sits in a measured process.
 *
 *   node bench/idle/agents.js <keys.json> <api base url> <period ms> <connections>
 *
 * keys.json: { "fleet": [key, …], "probes": [key, …] }. Every key reports once per period, the
 * first reports spread evenly over one period, through one keep-alive undici Pool (the Go agent's
 * steady-state body, as bench/ingest sends it). The parent steers it over IPC:
 *   { cmd: 'silence', probe }  one report now, then none: answers { sentAt } of that report
 *   { cmd: 'report', probe }   one report now, then the regular period again: answers { sentAt }
 *   { cmd: 'burst', ms, connections }  the fleet's keys as fast as they go: answers { requests, errors }
 *   { cmd: 'stats' }           answers { sent, accepted, errors, lastError }
 *   { cmd: 'stop' }            closes the pool and exits
 */
const { readFileSync } = require('node:fs');
const { Pool } = require('undici');

const [keysFile, base, periodText, connectionsText] = process.argv.slice(2);
const { fleet, probes } = JSON.parse(readFileSync(keysFile, 'utf8'));
const period = Number(periodText);
const pool = new Pool(base, { connections: Number(connectionsText), pipelining: 1, keepAliveTimeout: 120_000 });
const BODY = JSON.stringify({ cpu_pct: 80.4, mem_used_pct: 2.7, disk_used_pct: 23.5, net_rx_bytes: 696995159, net_tx_bytes: 13100327, uptime_s: 1035 });

const stats = { sent: 0, accepted: 0, errors: 0, lastError: '' };

async function report(key) {
  const sentAt = Date.now();
  stats.sent++;
  try {
    const response = await pool.request({
      path: '/agent/metrics',
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, 'user-agent': 'Go-http-client/1.1' },
      body: BODY,
    });
    await response.body.dump();
    if (response.statusCode === 202) stats.accepted++;
    else {
      stats.errors++;
      stats.lastError = `status ${response.statusCode}`;
    }
    return { sentAt, status: response.statusCode };
  } catch (error) {
    stats.errors++;
    stats.lastError = error.message;
    return { sentAt, status: 0 };
  }
}

// The schedule: every agent's next report time; one timer for the earliest. Probes come after the fleet.
const keys = [...fleet, ...probes];
const start = Date.now();
const nextAt = keys.map((_, i) => start + Math.floor((i * period) / keys.length));
const silenced = new Set();
let cursor = 0;
let timer = null;

function tick() {
  timer = null;
  const now = Date.now();
  // The order of nextAt is kept round-robin: agent i always reports before agent i+1 of the same round.
  for (let checked = 0; checked < keys.length && nextAt[cursor] <= now; checked++) {
    if (!silenced.has(cursor)) void report(keys[cursor]);
    nextAt[cursor] += period;
    cursor = (cursor + 1) % keys.length;
  }
  timer = setTimeout(tick, Math.max(0, nextAt[cursor] - Date.now()));
}
tick();

async function burst(ms, connections) {
  const until = Date.now() + ms;
  let requests = 0;
  let errors = 0;
  let next = 0;
  const loop = async () => {
    while (Date.now() < until) {
      const { status } = await report(fleet[next++ % fleet.length]);
      if (status === 202) requests++;
      else errors++;
    }
  };
  await Promise.all(Array.from({ length: connections }, loop));
  return { requests, errors };
}

process.on('message', (message) => {
  const answer = (value) => process.send({ id: message.id, ...value });
  const probe = fleet.length + (message.probe ?? 0);
  switch (message.cmd) {
    case 'silence':
      silenced.add(probe);
      void report(keys[probe]).then(answer);
      break;
    case 'report':
      void report(keys[probe]).then((result) => {
        silenced.delete(probe);
        answer(result);
      });
      break;
    case 'burst':
      void burst(message.ms, message.connections).then(answer);
      break;
    case 'stats':
      answer({ ...stats });
      break;
    case 'stop':
      if (timer) clearTimeout(timer);
      void pool.close().finally(() => process.exit(0));
      break;
    default:
      answer({ error: `unknown command ${message.cmd}` });
  }
});
process.on('disconnect', () => process.exit(0));
