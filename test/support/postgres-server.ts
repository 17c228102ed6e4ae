import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { freePort } from './net';

/** The machine's PostgreSQL server binaries (Debian's `postgresql` package), if any. */
export function postgresBinaries(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'initdb'))).sort();
  return versions.length > 0 ? join(root, versions[versions.length - 1]!, 'bin') : undefined;
}

export interface PostgresServer {
  url: string;
  /** Stops the server (fast: connections are cut) and starts it again on the same port. */
  restart(): void;
  stop(): void;
}

/**
 * A PostgreSQL server of a test's own (for tests that stop or restart it, which the shared test
 * server must never be), on 127.0.0.1 and a free port, its data in a temp folder. As root it runs as
 * the `postgres` user (initdb refuses root).
 */
export async function startPostgres(bin: string): Promise<PostgresServer> {
  const dir = mkdtempSync(join(tmpdir(), 'lunasentri-pg-own-'));
  const port = await freePort();
  const root = userInfo().uid === 0;
  if (root) chownSync(dir, Number(execFileSync('id', ['-u', 'postgres']).toString().trim()), Number(execFileSync('id', ['-g', 'postgres']).toString().trim()));
  const run = (tool: string, args: string[]) =>
    execFileSync(root ? 'runuser' : join(bin, tool), root ? ['-u', 'postgres', '--', join(bin, tool), ...args] : args, { stdio: 'pipe' });
  const ctl = (...args: string[]) => run('pg_ctl', ['-D', join(dir, 'data'), '-l', join(dir, 'server.log'), '-w', ...args]);
  run('initdb', ['-D', join(dir, 'data'), '-A', 'trust', '-U', 'postgres']);
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`;
  ctl('-o', options, 'start');
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    restart: () => void ctl('-m', 'fast', '-o', options, 'restart'),
    stop() {
      try {
        ctl('-m', 'immediate', 'stop');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
