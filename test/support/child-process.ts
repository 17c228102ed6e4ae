import { spawn, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '..', '..');

/** The built binaries (`tsc -b` first), as operators run them. */
export function binary(name: 'lunasentri-heartbeat' | 'lunasentri-api'): string {
  return join(ROOT, 'node_modules', '.bin', name);
}

/** The parent's environment without any setting of ours, so only what a test passes counts. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  const ours = /^(DB_PATH|DATABASE_URL|PORT|HOST|MACHINE_|METRICS_|WEBHOOK_|TELEGRAM_|LOG_|JOURNAL_STREAM)/;
  for (const [key, value] of Object.entries(process.env)) if (!ours.test(key)) env[key] = value;
  return { ...env, ...extra };
}

export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface Running {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** stderr lines (where the logs go) */
  lines(): string[];
  /** Resolves when a stderr line matches; rejects at the deadline or if the process exits first. */
  waitForLine(pattern: RegExp | string, timeoutMs?: number): Promise<string>;
  /** Resolves when the process has exited (rejects after the deadline, leaving it to the caller's cleanup). */
  exited(timeoutMs?: number): Promise<Finished>;
}

/** Tracks every child started, so `killAll` in afterAll leaves none behind even when a test fails. */
export class Children {
  private readonly all = new Set<ChildProcess>();
  private readonly groups = new WeakSet<ChildProcess>();

  /** `detached`: in a process group of its own (as a terminal runs a foreground job), for signalling the whole group. */
  start(command: string, args: string[], env: NodeJS.ProcessEnv, options: { detached?: boolean } = {}): Running {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: options.detached ?? false });
    this.all.add(child);
    if (options.detached) this.groups.add(child);
    let out = '';
    let err = '';
    const listeners = new Set<() => void>();
    const notify = () => listeners.forEach((l) => l());
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString('utf8');
      notify();
    });
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString('utf8');
      notify();
    });
    const done = new Promise<Finished>((resolveDone) => {
      child.on('close', (code, signal) => {
        this.all.delete(child);
        resolveDone({ code, signal, stdout: out, stderr: err });
        notify();
      });
    });
    const lines = () => err.split('\n').filter((l) => l !== '');
    const until = <T>(check: () => T | undefined, what: string, timeoutMs: number): Promise<T> =>
      new Promise((resolveWait, reject) => {
        const listener = () => {
          const value = check();
          if (value !== undefined) {
            cleanup();
            resolveWait(value);
          } else if (child.exitCode !== null || child.signalCode !== null) {
            cleanup();
            reject(new Error(`${what}: process exited (${child.exitCode ?? child.signalCode}) first; stderr:\n${err}`));
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`${what}: not within ${timeoutMs} ms; stderr:\n${err}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          listeners.delete(listener);
        };
        listeners.add(listener);
        listener();
      });
    return {
      child,
      stdout: () => out,
      stderr: () => err,
      lines,
      waitForLine: (pattern, timeoutMs = 30_000) =>
        until(() => lines().find((l) => (typeof pattern === 'string' ? l.includes(pattern) : pattern.test(l))), `waiting for ${String(pattern)}`, timeoutMs),
      exited: (timeoutMs = 30_000) =>
        Promise.race([
          done,
          new Promise<Finished>((_, reject) => setTimeout(() => reject(new Error(`process did not exit within ${timeoutMs} ms; stderr:\n${err}`)), timeoutMs).unref()),
        ]),
    };
  }

  /** Runs to completion (bounded). */
  run(command: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs = 30_000): Promise<Finished> {
    return this.start(command, args, env).exited(timeoutMs);
  }

  /** SIGKILLs whatever is still running and waits for it to go. */
  async killAll(): Promise<void> {
    const waits = [...this.all].map(
      (child) =>
        new Promise<void>((resolveKill) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolveKill();
          child.once('close', () => resolveKill());
          // A group leader takes its group with it (a script's children would outlive it otherwise).
          if (this.groups.has(child)) {
            try {
              process.kill(-child.pid!, 'SIGKILL');
            } catch {
              child.kill('SIGKILL'); // the group is gone already
            }
          } else child.kill('SIGKILL');
        }),
    );
    await Promise.all(waits);
  }
}
