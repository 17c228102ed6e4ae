import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { onExit } from './cleanup';

export interface LogLine {
  /** Date.now() when the line reached us */
  at: number;
  stream: 'stdout' | 'stderr';
  text: string;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Service {
  name: string;
  pid: number;
  /** Date.now() just before spawn */
  spawnedAt: number;
  /** every output line so far (bounded: see MAX_LINES) */
  lines: LogLine[];
  /** Calls `listener` for every later line. */
  onLine(listener: (line: LogLine) => void): void;
  /** The first line (past or future) matching `pattern`; rejects on timeout or exit, with the output tail. */
  waitForLine(pattern: RegExp, timeoutMs: number): Promise<LogLine>;
  exited: Promise<Exit>;
  /** SIGTERM, then SIGKILL after `graceMs`. Resolves with how it ended. */
  stop(graceMs?: number): Promise<Exit>;
  /** The last lines, for error messages. */
  tail(count?: number): string;
}

// A burst writes one log line per transition; keep them all up to a bound that still fits memory.
const MAX_LINES = 200_000;

export interface SpawnOptions {
  /** the whole environment (default: ours); see serviceEnv() */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** Starts a long-running child, capturing its output line by line; it is killed if we exit first. */
export function startService(name: string, command: string, args: string[], options: SpawnOptions = {}): Service {
  const spawnedAt = Date.now();
  const child: ChildProcess = spawn(command, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error(`${name}: could not start ${command}`);
  const pid = child.pid;
  const lines: LogLine[] = [];
  const listeners = new Set<(line: LogLine) => void>();
  let exit: Exit | undefined;

  const unregister = onExit(() => {
    if (!exit) child.kill('SIGKILL');
  });
  const exited = new Promise<Exit>((resolve) => {
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      unregister();
      resolve(exit);
    });
  });

  for (const stream of ['stdout', 'stderr'] as const) {
    createInterface({ input: child[stream]! }).on('line', (text) => {
      const line: LogLine = { at: Date.now(), stream, text };
      if (lines.length < MAX_LINES) lines.push(line);
      for (const listener of listeners) listener(line);
    });
  }

  const tail = (count = 20) =>
    lines
      .slice(-count)
      .map((l) => `  [${name} ${l.stream}] ${l.text}`)
      .join('\n');

  return {
    name,
    pid,
    spawnedAt,
    lines,
    onLine: (listener) => void listeners.add(listener),
    waitForLine(pattern, timeoutMs) {
      const seen = lines.find((l) => pattern.test(l.text));
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const done = () => {
          listeners.delete(listener);
          clearTimeout(timer);
        };
        const listener = (line: LogLine) => {
          if (pattern.test(line.text)) {
            done();
            resolve(line);
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`${name}: no line matching ${pattern} within ${timeoutMs} ms\n${tail()}`));
        }, timeoutMs);
        listeners.add(listener);
        void exited.then((e) => {
          if (!listeners.has(listener)) return;
          done();
          reject(new Error(`${name} exited (code ${e.code}, signal ${e.signal}) before printing ${pattern}\n${tail()}`));
        });
      });
    },
    exited,
    async stop(graceMs = 15_000) {
      if (exit) return exit;
      child.kill('SIGTERM');
      const timer = setTimeout(() => {
        if (!exit) child.kill('SIGKILL');
      }, graceMs);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
    tail,
  };
}

/** Runs a command to completion and returns its stdout; throws with stderr on a non-zero exit. */
export function runCommand(command: string, args: string[], options: SpawnOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const unregister = onExit(() => child.kill('SIGKILL'));
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      unregister();
      if (code === 0) resolve(out);
      else reject(new Error(`${command} ${args.join(' ')} failed (code ${code}, signal ${signal}): ${err.trim() || out.trim()}`));
    });
  });
}

/** The last non-empty stdout line of an admin command: the CLI prints a new secret alone on stdout, its message on stderr. */
export function lastLine(out: string): string {
  const line = out.trim().split('\n').pop()?.trim() ?? '';
  if (line === '') throw new Error('the command printed nothing on stdout');
  return line;
}
