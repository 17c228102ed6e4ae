import { Agent, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter } from 'prom-client';
import {
  ConfigError,
  createLogger,
  createMetricsRegistry,
  metricsSettings,
  parseListenAddress,
  resolveSettings,
  startMetricsServer,
  type MetricsServer,
} from '../src';
import { captureStream } from '../../../test/support/capture';
import { expectWellNamed, parseExposition, scrape, valueOf } from '../../../test/support/metrics';

describe('--metrics-listen / METRICS_LISTEN', () => {
  test.each([
    ['127.0.0.1:9464', { host: '127.0.0.1', port: 9464 }],
    ['0.0.0.0:9464', { host: '0.0.0.0', port: 9464 }],
    ['localhost:0', { host: 'localhost', port: 0 }],
    ['metrics.internal.example:9100', { host: 'metrics.internal.example', port: 9100 }],
    ['[::1]:9464', { host: '::1', port: 9464 }],
    ['[::]:65535', { host: '::', port: 65535 }],
    [' 127.0.0.1:9464 ', { host: '127.0.0.1', port: 9464 }],
  ])('%j listens on %j', (raw, expected) => {
    expect(parseListenAddress(raw)).toEqual(expected);
  });

  test.each(['', ' ', '9464', ':9464', '127.0.0.1', '127.0.0.1:', '127.0.0.1:65536', '127.0.0.1:-1', '127.0.0.1:port', '[::1]', '::1:9464', '[]:9464', '[example.com]:9464', 'http://127.0.0.1:9464', '127.0.0.1:9464/metrics', 'a b:9464', '-host:9464'])(
    'refuses %j',
    (raw) => {
      expect(() => parseListenAddress(raw)).toThrow(/must be HOST:PORT/);
    },
  );

  test('is off by default; a bad value names the flag or the env var and the value', () => {
    expect(resolveSettings(metricsSettings, { env: {} }).metricsListen).toBe('');
    expect(resolveSettings(metricsSettings, { env: { METRICS_LISTEN: '127.0.0.1:9464' } }).metricsListen).toBe('127.0.0.1:9464');
    expect(() => resolveSettings(metricsSettings, { env: { METRICS_LISTEN: '9464' } })).toThrow(new ConfigError('invalid value for METRICS_LISTEN: "9464" (must be HOST:PORT, such as 127.0.0.1:9464 or [::1]:9464 (port 0 to 65535))'));
    expect(() => resolveSettings(metricsSettings, { env: { METRICS_LISTEN: '' } })).toThrow(/invalid value for METRICS_LISTEN: ""/);
    expect(() => resolveSettings(metricsSettings, { flags: { metricsListen: 'x:y' }, env: {} })).toThrow(/invalid value for --metrics-listen: "x:y"/);
  });
});

describe('the metrics endpoint', () => {
  const capture = captureStream();
  const logger = createLogger({ stream: capture.stream, level: 'debug', env: {} });
  let server: MetricsServer;

  beforeAll(async () => {
    const registry = createMetricsRegistry();
    new Counter({ name: 'lunasentri_test_events_total', help: 'A counter of the test.', registers: [registry] }).inc(3);
    server = await startMetricsServer({ listen: { host: '127.0.0.1', port: 0 }, registry, logger });
  });
  afterAll(async () => {
    await server.close();
    await logger.close();
  });

  test('serves the registry with the default process and Node metrics in the text format, well named', async () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const expo = await scrape(server.url);
    expect(valueOf(expo, 'lunasentri_test_events_total')).toBe(3);
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes', 'nodejs_active_handles']) {
      expect({ name, present: expo.families.has(name) }).toEqual({ name, present: true });
    }
    // prom-client's gauges named like counters are left out (promtool refuses them).
    expect([...expo.families.keys()].filter((name) => name.startsWith('nodejs_active_') && name.endsWith('_total'))).toEqual([]);
    expectWellNamed(expo);
  });

  test('answers HEAD without a body, other methods 405 and other paths 404; a query string is fine', async () => {
    const head = await fetch(server.url, { method: 'HEAD' });
    expect({ status: head.status, body: await head.text() }).toEqual({ status: 200, body: '' });
    const post = await fetch(server.url, { method: 'POST', body: 'x' });
    expect({ status: post.status, allow: post.headers.get('allow') }).toEqual({ status: 405, allow: 'GET, HEAD' });
    const other = await fetch(server.url.replace('/metrics', '/'));
    expect({ status: other.status, text: await other.text() }).toEqual({ status: 404, text: 'not found: the metrics are at /metrics\n' });
    const query = await fetch(`${server.url}?name[]=up`);
    expect(query.status).toBe(200);
    expect(valueOf(parseExposition(await query.text()), 'lunasentri_test_events_total')).toBe(3);
  });

  test('a port in use is refused with the address named', async () => {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const port = (holder.address() as AddressInfo).port;
    try {
      await expect(startMetricsServer({ listen: { host: '127.0.0.1', port }, registry: createMetricsRegistry(), logger })).rejects.toThrow(`cannot serve metrics on 127.0.0.1:${port}: EADDRINUSE`);
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
  });

  test('closes promptly although a scraper keeps its connection alive', async () => {
    const own = await startMetricsServer({ listen: { host: '127.0.0.1', port: 0 }, registry: createMetricsRegistry(), logger });
    const agent = new Agent({ keepAlive: true });
    await new Promise<void>((resolve, reject) => {
      request(own.url, { agent }, (response) => {
        response.resume();
        response.on('end', resolve);
      })
        .on('error', reject)
        .end();
    });
    // Node's keep-alive timeout is 5 s: a close that waited for the idle connection would take that long.
    const started = Date.now();
    await own.close();
    expect(Date.now() - started).toBeLessThan(4_000);
    agent.destroy();
  });
});
