import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { tempDir } from '../support/db';

const root = join(__dirname, '..', '..');

describe('the Quick start demo', () => {
  test('runs non-interactively, shows a verified offline and then a verified recovery, and exits 0', async () => {
    const { dir, cleanup } = tempDir('lunasentri-demo-');
    try {
      const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve, reject) => {
        const child = spawn(process.execPath, ['-r', 'ts-node/register', join(root, 'scripts', 'demo.ts')], {
          cwd: root,
          env: {
            ...process.env,
            TS_NODE_PROJECT: join(root, 'tsconfig.jest.json'),
            TS_NODE_TRANSPILE_ONLY: 'true',
            LUNASENTRI_DEMO_DB: join(dir, 'demo.db'),
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let output = '';
        child.stdout.on('data', (d) => (output += d));
        child.stderr.on('data', (d) => (output += d));
        // A bound, not a wait: the demo takes ~15 s; it has its own 60 s deadlines inside.
        const guard = setTimeout(() => child.kill('SIGKILL'), 150_000);
        child.on('error', reject);
        child.on('close', (exitCode) => {
          clearTimeout(guard);
          resolve({ code: exitCode, output });
        });
      });
      expect(output).toContain('Heartbeat monitor started (interval: 1s, threshold: 3s)');
      const offline = output.indexOf('webhook received machine.offline');
      const online = output.indexOf('webhook received machine.online');
      expect(offline).toBeGreaterThan(-1);
      expect(online).toBeGreaterThan(offline);
      expect(output.match(/signature\s+✔ verified/g)).toHaveLength(2);
      expect(output).toContain('Demo complete');
      expect(output).toContain('Heartbeat monitor stopped');
      expect(code).toBe(0);
    } finally {
      cleanup();
    }
  }, 180_000);
});
