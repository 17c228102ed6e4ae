import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(__dirname, '..', '..');
const units = ['lunasentri-api.service', 'lunasentri-heartbeat.service'];
const hasSystemdAnalyze = spawnSync('systemd-analyze', ['--version']).status === 0;
const describeIfSystemd = hasSystemdAnalyze ? describe : describe.skip;

describeIfSystemd('systemd units', () => {
  test.each(units)('%s passes systemd-analyze verify with no output at all', (unit) => {
    const result = spawnSync('systemd-analyze', ['verify', '--man=no', join(root, 'systemd', unit)], { encoding: 'utf8' });
    expect(`${result.stdout}${result.stderr}`).toBe('');
    expect(result.status).toBe(0);
  });

  test.each(units)('%s is rated OK by systemd-analyze security (exposure < 4.0)', (unit) => {
    const out = execFileSync('systemd-analyze', ['security', '--offline=true', join(root, 'systemd', unit)], { encoding: 'utf8' });
    const match = /Overall exposure level for \S+: ([\d.]+) (\w+)/.exec(out);
    expect(match).not.toBeNull();
    const exposure = Number(match![1]);
    expect(exposure).toBeLessThan(4.0);
  });
});

describe('systemd unit contents', () => {
  test.each(units)('%s keeps the bot token out of the unit and restarts on failure', (unit) => {
    const text = readFileSync(join(root, 'systemd', unit), 'utf8');
    expect(text).not.toMatch(/TELEGRAM_BOT_TOKEN/);
    expect(text).toMatch(/^EnvironmentFile=-\/etc\/lunasentri\/telegram\.env$/m);
    expect(text).toMatch(/^Restart=on-failure$/m);
    expect(text).toMatch(/^StateDirectory=lunasentri$/m);
    expect(text).toMatch(/^ReadWritePaths=\/var\/lib\/lunasentri$/m);
    for (const option of ['NoNewPrivileges=yes', 'ProtectSystem=strict', 'ProtectHome=yes', 'PrivateTmp=yes']) {
      expect(text).toContain(`\n${option}\n`);
    }
  });

  test('the daemon unit starts after the API, and wants it where it is installed', () => {
    const text = readFileSync(join(root, 'systemd', 'lunasentri-heartbeat.service'), 'utf8');
    expect(text).toMatch(/^After=.*\blunasentri-api\.service\b/m);
    expect(text).toMatch(/^Wants=.*\blunasentri-api\.service\b/m);
    // Wants=, not Requires=: a stopped or failed API must not stop the monitor (it then reports the ingest outage).
    expect(text).not.toMatch(/^(Requires|BindsTo)=/m);
  });

  test('the daemon unit waits longer than the daemon drains (10 s)', () => {
    const text = readFileSync(join(root, 'systemd', 'lunasentri-heartbeat.service'), 'utf8');
    const stop = /^TimeoutStopSec=(\d+)s$/m.exec(text);
    expect(Number(stop?.[1])).toBeGreaterThan(10);
  });

  test('the example env carries the recommended settings', () => {
    const text = readFileSync(join(root, 'systemd', 'heartbeat.env.example'), 'utf8');
    expect(text).toMatch(/^MACHINE_HEARTBEAT_CHECK_INTERVAL=30s$/m);
    expect(text).toMatch(/^MACHINE_OFFLINE_THRESHOLD=2m$/m);
  });
});
