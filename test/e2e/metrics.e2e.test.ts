import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Children, binary, cleanEnv, type Running } from '../support/child-process';
import { tempDir } from '../support/db';
import { expectWellNamed, samplesOf, scrape, valueOf, type Exposition } from '../support/metrics';
import { freePort, until as untilWithin } from '../support/net';

/*
 * The real built binaries (`tsc -b` first) with --metrics-listen / METRICS_LISTEN, scraped over HTTP
 * as Prometheus would while an agent reports, stops, and its machine is renamed.
 */

const ROOT = resolve(__dirname, '..', '..');
const DEADLINE = 30_000;

jest.setTimeout(180_000);

const until = <T>(what: string, probe: () => Promise<T | undefined> | T | undefined) => untilWithin(what, probe, DEADLINE);

describe('Prometheus metrics of the real binaries', () => {
  const children = new Children();
  const { dir, cleanup } = tempDir('lunasentri-metrics-e2e-');
  const env = cleanEnv({ DB_PATH: join(dir, 'lunasentri.db'), MACHINE_HEARTBEAT_CHECK_INTERVAL: '1s', MACHINE_OFFLINE_THRESHOLD: '2s' });
  let agent: NodeJS.Timeout | undefined;

  beforeAll(() => {
    for (const bin of ['api', 'heartbeat-daemon']) {
      if (!existsSync(join(ROOT, 'packages', bin, 'dist', 'main.js'))) throw new Error('build first: node_modules/.bin/tsc -b');
    }
  });
  afterAll(async () => {
    clearInterval(agent);
    await children.killAll();
    cleanup();
  });

  /** The `Metrics at <url>` line a process logs once its endpoint listens. */
  async function metricsUrl(process: Running): Promise<string> {
    const line = await process.waitForLine(/Metrics at http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    return /(http:\S+)$/.exec(line)![1]!;
  }

  test('both binaries serve /metrics on their own port: machines, transitions, ingest results, routes; a rename leaves no old series', async () => {
    expect((await children.run(binary('lunasentri-api'), ['migrate'], env)).code).toBe(0);
    const user = await children.run(binary('lunasentri-api'), ['user', 'create', '--email', 'ops@example.com', '--json'], env);
    const token = (JSON.parse(user.stdout) as { token: string }).token;
    const created = await children.run(binary('lunasentri-api'), ['machine', 'create', '--email', 'ops@example.com', '--name', 'production-server', '--json'], env);
    const machine = JSON.parse(created.stdout) as { machine: { id: number }; api_key: string };
    const id = String(machine.machine.id);

    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const api = children.start(binary('lunasentri-api'), ['serve', '--port', String(port), '--host', '127.0.0.1', '--metrics-listen', '127.0.0.1:0'], env);
    const daemon = children.start(binary('lunasentri-heartbeat'), ['run'], { ...env, METRICS_LISTEN: '127.0.0.1:0' });
    const [apiMetrics, daemonMetrics] = [await metricsUrl(api), await metricsUrl(daemon)];
    expect(new URL(apiMetrics).port).not.toBe(String(port));
    await api.waitForLine('LunaSentri API listening on');

    const beat = () => void fetch(`${base}/agent/heartbeat`, { method: 'POST', headers: { authorization: `Bearer ${machine.api_key}` } }).catch(() => undefined);
    beat();
    agent = setInterval(beat, 250);
    const scrapeUntil = (url: string, what: string, holds: (expo: Exposition) => boolean) =>
      until(what, async () => {
        const expo = await scrape(url).catch(() => undefined);
        return expo && holds(expo) ? expo : undefined;
      });

    let expo = await scrapeUntil(daemonMetrics, 'the machine to be up', (e) => valueOf(e, 'lunasentri_machine_up', { machine_id: id, machine: 'production-server' }) === 1);
    expect(valueOf(expo, 'lunasentri_transitions_total', { type: 'first_report' })).toBe(1);
    expect(valueOf(expo, 'lunasentri_machines', { status: 'online' })).toBe(1);
    expect(valueOf(expo, 'lunasentri_ingest_live')).toBe(1);
    expect(valueOf(expo, 'lunasentri_last_check_timestamp_seconds')).toBeGreaterThan(Date.now() / 1000 - 60);
    expectWellNamed(expo);

    const apiExpo = await scrapeUntil(apiMetrics, 'accepted reports', (e) => (valueOf(e, 'lunasentri_ingest_reports_total', { result: 'accepted' }) ?? 0) >= 2);
    expect(samplesOf(apiExpo, 'lunasentri_http_request_duration_seconds_count', { route: '/agent/heartbeat', method: 'POST', status: '202' })).toHaveLength(1);
    expect((valueOf(apiExpo, 'lunasentri_key_cache_lookups_total', { result: 'hit' }) ?? 0) + (valueOf(apiExpo, 'lunasentri_key_cache_lookups_total', { result: 'miss' }) ?? 0)).toBeGreaterThanOrEqual(2);
    expect(apiExpo.text).not.toContain(machine.api_key);
    expectWellNamed(apiExpo);

    // The agent stops: the machine goes down.
    clearInterval(agent);
    expo = await scrapeUntil(daemonMetrics, 'the machine to be down', (e) => valueOf(e, 'lunasentri_machine_up', { machine_id: id, machine: 'production-server' }) === 0);
    expect(valueOf(expo, 'lunasentri_transitions_total', { type: 'went_offline' })).toBe(1);

    // Renamed through the API: the next scrape knows only the new name.
    const renamed = await fetch(`${base}/machines/${id}`, { method: 'PATCH', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'prod-eu-1' }) });
    expect(renamed.status).toBe(200);
    expo = await scrape(daemonMetrics);
    expect(samplesOf(expo, 'lunasentri_machine_up').map((s) => s.labels)).toEqual([{ machine_id: id, machine: 'prod-eu-1' }]);
    expect(expo.text).not.toContain('production-server');

    for (const process of [api, daemon]) process.child.kill('SIGTERM');
    expect((await api.exited()).code).toBe(0);
    expect((await daemon.exited()).code).toBe(0);
    await expect(fetch(daemonMetrics)).rejects.toThrow();
  });

  test.each([
    ['lunasentri-heartbeat', ['run', '--once']],
    ['lunasentri-api', ['serve']],
  ] as const)('%s: a bad --metrics-listen or METRICS_LISTEN exits 2 with one line naming it; --help lists it', async (name, args) => {
    const flag = await children.run(binary(name), [...args, '--metrics-listen', '9464'], env);
    expect({ code: flag.code, stderr: flag.stderr }).toEqual({ code: 2, stderr: `${name}: invalid value for --metrics-listen: "9464" (must be HOST:PORT, such as 127.0.0.1:9464 or [::1]:9464 (port 0 to 65535))\n` });
    const fromEnv = await children.run(binary(name), [...args], { ...env, METRICS_LISTEN: 'localhost' });
    expect({ code: fromEnv.code, stderr: fromEnv.stderr }).toEqual({ code: 2, stderr: expect.stringMatching(new RegExp(`^${name}: invalid value for METRICS_LISTEN: "localhost" \\(must be HOST:PORT[^\\n]*\\)\\n$`)) });
    const help = await children.run(binary(name), [args[0], '--help'], env);
    expect(help.stdout.replace(/\s+/g, ' ')).toContain('--metrics-listen <HOST:PORT> serve Prometheus metrics at http://HOST:PORT/metrics (off when unset; port 0 picks a free one) (default: unset; env METRICS_LISTEN)');
  });
});
