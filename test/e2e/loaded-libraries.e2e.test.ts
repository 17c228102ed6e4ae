import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Children, binary, cleanEnv } from '../support/child-process';
import { emptyDatabase, tempDir } from '../support/db';
import { describeEachEngine } from '../support/engines';
import { freePort, until } from '../support/net';

/*
 * Memory follows what a process does: the built binaries do not load libraries they have no use
 * for. No bot token: no grammY. An API nobody asked for a test delivery, and a daemon that has not
 * sent anything yet: no undici. SQLite: no PostgreSQL driver. No `--metrics-listen`: no prom-client.
 */

const ROOT = resolve(__dirname, '..', '..');
const HOOK = join(ROOT, 'test', 'support', 'loaded-packages.js');

jest.setTimeout(120_000);

describeEachEngine('libraries a process loads', (engine) => {
  const children = new Children();
  const tmp = tempDir('lunasentri-loaded-');
  let fresh: { location: string; drop: () => Promise<void> } | undefined;

  beforeAll(async () => {
    for (const bin of ['api', 'heartbeat-daemon']) {
      if (!existsSync(join(ROOT, 'packages', bin, 'dist', 'main.js'))) throw new Error('build first: node_modules/.bin/tsc -b');
    }
    fresh = await emptyDatabase(engine);
  });

  afterAll(async () => {
    await children.killAll();
    await fresh?.drop();
    tmp.cleanup();
  });

  const envFor = (name: string) =>
    cleanEnv({
      ...(engine === 'sqlite' ? { DB_PATH: fresh!.location } : { DATABASE_URL: fresh!.location }),
      NODE_OPTIONS: `--require ${HOOK}`,
      LUNASENTRI_TEST_LOADED_PACKAGES: join(tmp.dir, name),
    });
  const loaded = (name: string) => readFileSync(join(tmp.dir, name), 'utf8').trim().split('\n');

  test('the API and the daemon hold only what they use: no grammY without a bot token, no undici before a send, no prom-client without metrics, pg only on PostgreSQL', async () => {
    const port = await freePort();
    const api = children.start(binary('lunasentri-api'), ['serve', '--port', String(port), '--host', '127.0.0.1'], envFor('api'));
    await until('the API to answer /health', async () => ((await fetch(`http://127.0.0.1:${port}/health`).catch(() => undefined))?.ok ? true : undefined), 60_000);
    const daemon = children.start(binary('lunasentri-heartbeat'), ['run', '--interval', '1s'], envFor('daemon'));
    await daemon.waitForLine('Heartbeat monitor started', 60_000);
    daemon.child.kill('SIGTERM');
    api.child.kill('SIGTERM');
    expect((await daemon.exited(30_000)).code).toBe(0);
    expect((await api.exited(30_000)).code).toBe(0);

    for (const name of ['api', 'daemon']) {
      const packages = loaded(name);
      expect(packages).toContain('kysely');
      expect(packages).not.toContain('grammy');
      expect(packages).not.toContain('undici');
      expect(packages).not.toContain('prom-client');
      if (engine === 'sqlite') expect(packages).not.toContain('pg');
      else expect(packages).toContain('pg');
    }
    expect(loaded('api')).toContain('fastify');
    expect(loaded('daemon')).not.toContain('fastify');
  });
});
