'use strict';
/*
 * The baseline for burst: a plain keep-alive HTTP client posting COUNT requests to the receiver,
 * CONCURRENCY at a time, each with the body and headers of a real delivery (same size), only the
 * webhook-id changed. undici is the HTTP client the notifier uses, so the gap between this and the
 * daemon is what the outbox, claims, signing and bookkeeping cost — not a different HTTP stack.
 * Plain JavaScript so it runs without a TypeScript compiler loaded next to it.
 *
 * usage: node baseline-client.js URL COUNT CONCURRENCY REQUEST_JSON_FILE
 *   REQUEST_JSON_FILE: {"headers":{...},"body":"..."}
 * prints one JSON line: {"sent":n,"failed":n,"ms":<first send to last answer>,"cpuMs":<CPU used meanwhile>}
 */
const { readFileSync } = require('node:fs');
const { Pool } = require('undici');

async function main() {
  const [url, countText, concurrencyText, requestFile] = process.argv.slice(2);
  const count = Number(countText);
  const concurrency = Number(concurrencyText);
  if (!url || !(count > 0) || !(concurrency > 0) || !requestFile) {
    process.stderr.write('usage: baseline-client.js URL COUNT CONCURRENCY REQUEST_JSON_FILE\n');
    process.exit(2);
  }
  const template = JSON.parse(readFileSync(requestFile, 'utf8'));
  const target = new URL(url);
  // One connection per concurrent request, kept alive, no pipelining: what the notifier's pool does.
  const pool = new Pool(target.origin, { connections: concurrency, pipelining: 1 });
  let next = 0;
  let sent = 0;
  let failed = 0;

  async function worker() {
    while (next < count) {
      const i = next++;
      const headers = { ...template.headers, 'webhook-id': `baseline-${i}` };
      try {
        const response = await pool.request({ path: target.pathname, method: 'POST', headers, body: template.body });
        await response.body.dump();
        if (response.statusCode >= 200 && response.statusCode < 300) sent++;
        else failed++;
      } catch {
        failed++;
      }
    }
  }

  const started = process.hrtime.bigint();
  const cpuBefore = process.cpuUsage();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const cpu = process.cpuUsage(cpuBefore);
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  await pool.close();
  process.stdout.write(`${JSON.stringify({ sent, failed, ms, cpuMs: (cpu.user + cpu.system) / 1000 })}\n`);
}

main().catch((error) => {
  process.stderr.write(`baseline client failed: ${error && error.stack ? error.stack : String(error)}\n`);
  process.exit(1);
});
