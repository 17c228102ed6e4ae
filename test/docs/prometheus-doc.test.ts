import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createMetricsRegistry, systemClock } from '@lunasentri/shared';
import { MachineKeyCache } from '../../packages/api/src/credentials/machine-key.cache';
import { ApiMetrics } from '../../packages/api/src/metrics/api.metrics';
import { DaemonMetrics } from '../../packages/heartbeat-daemon/src/metrics/daemon.metrics';
import { tempDir } from '../support/db';
import { PROMTOOL } from '../support/metrics';

/*
 * The README's Prometheus section: its table names exactly the metrics the two processes register,
 * its alert rules and scrape configuration name only those, and promtool accepts both files.
 */

const readme = readFileSync(resolve(__dirname, '..', '..', 'README.md'), 'utf8');
const start = readme.indexOf('### Monitoring with Prometheus');
const section = readme.slice(start, readme.indexOf('\n### ', start + 1));
const yamlBlocks = [...section.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!);
const config = yamlBlocks.find((block) => block.includes('scrape_configs:'))!;
const rules = yamlBlocks.find((block) => block.includes('groups:'))!;

/** The names the processes register (nothing is collected: no database is read). */
function registeredNames(): string[] {
  const registry = createMetricsRegistry();
  new DaemonMetrics({ registry, db: undefined as never, clock: systemClock, logger: undefined as never });
  new ApiMetrics(registry, new MachineKeyCache(systemClock, { ttlMs: 1_000 }));
  return registry
    .getMetricsAsArray()
    .map((metric) => metric.name)
    .filter((name) => name.startsWith('lunasentri_'));
}

describe("the README's Prometheus section", () => {
  test('has a scrape configuration and alert rules', () => {
    expect(start).toBeGreaterThan(0);
    expect(config).toContain("targets: ['127.0.0.1:9465']");
    for (const alert of ['LunaSentriMachineDown', 'LunaSentriDaemonNotChecking', 'LunaSentriIngestNotLive', 'LunaSentriOutboxStuck']) expect(rules).toContain(`alert: ${alert}`);
  });

  test('its table lists exactly the metrics the API and the daemon register', () => {
    const listed = [...section.matchAll(/^\| `(lunasentri_[a-z_]+)` \|/gm)].map((m) => m[1]!);
    expect(listed.sort()).toEqual(registeredNames().sort());
  });

  test('its rules and examples name only metrics that exist', () => {
    const names = new Set(registeredNames());
    const mentioned = new Set([...section.matchAll(/\blunasentri_[a-z_]+\b/g)].map((m) => m[0]).filter((name) => !name.endsWith('_')));
    expect([...mentioned].filter((name) => !names.has(name))).toEqual([]);
  });

  (PROMTOOL ? test : test.skip)('promtool accepts the rules and the configuration', () => {
    const { dir, cleanup } = tempDir('lunasentri-promtool-');
    try {
      writeFileSync(join(dir, 'lunasentri.rules.yml'), rules);
      writeFileSync(join(dir, 'prometheus.yml'), config);
      const checkedRules = spawnSync('promtool', ['check', 'rules', join(dir, 'lunasentri.rules.yml')], { encoding: 'utf8' });
      expect({ status: checkedRules.status, out: checkedRules.stdout + checkedRules.stderr }).toEqual({ status: 0, out: expect.stringContaining('SUCCESS: 5 rules found') });
      const checkedConfig = spawnSync('promtool', ['check', 'config', join(dir, 'prometheus.yml')], { encoding: 'utf8' });
      expect({ status: checkedConfig.status, out: checkedConfig.stdout + checkedConfig.stderr }).toEqual({ status: 0, out: expect.stringContaining('SUCCESS') });
    } finally {
      cleanup();
    }
  });
  if (!PROMTOOL) test('promtool is not installed: the rules are checked by name only (apt-get install prometheus)', () => undefined);
});
