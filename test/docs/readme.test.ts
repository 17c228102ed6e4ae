import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { settingsTable } from '@lunasentri/shared';
import { serveSettings } from '@lunasentri/api';
import { runSettings } from '@lunasentri/heartbeat-daemon';

const root = join(__dirname, '..', '..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');

describe('README', () => {
  // The configuration tables come from the setting declarations: `node scripts/update-readme-settings.js` rewrites them.
  test.each([
    ['lunasentri-heartbeat run', runSettings],
    ['lunasentri-api serve', serveSettings],
  ])('documents every setting of %s exactly as declared', (_name, spec) => {
    expect(readme).toContain(settingsTable(spec));
  });

  test('the operator\'s guide names only files the tree has under /opt/lunasentri', () => {
    const paths = [...readme.matchAll(/\/opt\/lunasentri\/([\w./*-]+)/g)].map((m) => m[1].replace(/\/$/, '')).filter((p) => p !== '' && !p.includes('*'));
    expect(paths.length).toBeGreaterThan(5);
    for (const path of paths) expect({ path, exists: existsSync(join(root, path)) }).toEqual({ path, exists: true });
  });

  test.each(['lunasentri-api', 'lunasentri-heartbeat'])('the drop-in for another node repeats the %s unit\'s own command', (unit) => {
    const text = readFileSync(join(root, 'systemd', `${unit}.service`), 'utf8');
    const execStart = text.split('\n').find((l) => l.startsWith('ExecStart=/usr/bin/node ')) as string;
    expect(execStart).toBeDefined();
    expect(readme).toContain(execStart.replace('/usr/bin/node', '/usr/local/bin/node'));
  });

  test('README, docs/ and bench/README.md speak to users: no references to documents they do not have', () => {
    const docs = ['README.md', 'bench/README.md', ...readdirSync(join(root, 'docs')).map((name) => `docs/${name}`)];
    const internal = /CONTRACT|§\s*\d|\bthe contract\b|\bthe issue\b|\bissue \d|intended layout|ARCHITECTURE\.md|STYLE\.md|TOOLCHAIN\.md/i;
    for (const doc of docs) {
      const hits = readFileSync(join(root, doc), 'utf8').split('\n').filter((line) => internal.test(line));
      expect({ doc, hits }).toEqual({ doc, hits: [] });
    }
  });

  test('the Quick start has the two commands, and CI runs the test one on Node 20 and again on Node 24', () => {
    expect(readme).toContain('npm run demo');
    expect(readme).toContain('npm test');
    const ci = readFileSync(join(root, '.ci', 'run'), 'utf8').trim().split('\n');
    expect(ci.slice(-2)).toEqual(['npm test', 'bash scripts/with-node.sh 24 npm test']);
    expect(readme).toContain('bash scripts/with-node.sh 24 npm test');
  });
});
