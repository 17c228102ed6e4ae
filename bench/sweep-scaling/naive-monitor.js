'use strict';
/*
 * The baseline for sweep-scaling: what a naive monitor does every tick — read every machine with a
 * full `SELECT *` and decide in JavaScript. Plain JavaScript (not ts-node) so that its CPU and memory
 * are compared with the daemon's on equal terms: no TypeScript compiler loaded in the process.
 * It uses better-sqlite3 directly, the cheapest way to read the rows from Node, so its cost is a lower
 * bound for any naive monitor (an ORM would only add to it).
 *
 * usage: node naive-monitor.js DB_PATH INTERVAL_MS THRESHOLD_MS
 * prints one JSON line per tick: {"tick":n,"ms":<time of the tick>,"rows":n,"stale":n}
 */
const SqliteDatabase = require('better-sqlite3');

const [dbPath, intervalText, thresholdText] = process.argv.slice(2);
const intervalMs = Number(intervalText);
const thresholdMs = Number(thresholdText);
if (!dbPath || !(intervalMs > 0) || !(thresholdMs > 0)) {
  process.stderr.write('usage: naive-monitor.js DB_PATH INTERVAL_MS THRESHOLD_MS\n');
  process.exit(2);
}

const sqlite = new SqliteDatabase(dbPath);
// The pragmas every LunaSentri connection has, so the comparison is on equal terms.
sqlite.pragma('busy_timeout = 10000');
sqlite.pragma('journal_mode = WAL');
const selectAll = sqlite.prepare('SELECT * FROM machines');
let tick = 0;

function check() {
  const started = process.hrtime.bigint();
  const cutoff = new Date(Date.now() - thresholdMs).toISOString();
  const rows = selectAll.all();
  let stale = 0;
  for (const row of rows) if (row.is_enabled === 1 && row.status === 'online' && row.last_seen < cutoff) stale++;
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  process.stdout.write(`${JSON.stringify({ tick: ++tick, ms, rows: rows.length, stale })}\n`);
  // Like the daemon's interval: the next tick a full interval after this one started, never overlapping.
  setTimeout(check, Math.max(0, intervalMs - ms));
}

process.on('SIGTERM', () => {
  sqlite.close();
  process.exit(0);
});
process.stdout.write('naive monitor started\n');
check();
