import { spawn } from 'node:child_process';
import { Cleanups, currentProcessIdentity, envOnlyHelp, installSignalHandlers, runningProcessStarted, signalExitCode, durationSetting, stringSetting } from '@lunasentri/shared';

describe('signal handling shared by both binaries', () => {
  test('the first SIGTERM aborts the signal with its name; a second exits at once with 128 + its number', () => {
    const exits: number[] = [];
    const forced: string[] = [];
    const signals = installSignalHandlers({ exit: (code) => exits.push(code), onForcedExit: (name) => forced.push(name) });
    try {
      process.emit('SIGTERM', 'SIGTERM');
      expect(signals.signal.aborted).toBe(true);
      expect(signals.signal.reason).toBe('SIGTERM');
      expect(exits).toEqual([]);
      process.emit('SIGINT', 'SIGINT');
      expect(exits).toEqual([signalExitCode('SIGINT')]);
      expect(exits).toEqual([130]);
      expect(forced).toEqual(['SIGINT']);
    } finally {
      signals.dispose();
    }
  });

  test('a command with nothing to drain exits on the first signal', () => {
    const exits: number[] = [];
    const signals = installSignalHandlers({ exit: (code) => exits.push(code) });
    try {
      signals.exitOnFirstSignal();
      process.emit('SIGTERM', 'SIGTERM');
      expect(exits).toEqual([143]);
    } finally {
      signals.dispose();
    }
  });

  test('dispose removes the handlers', () => {
    const before = process.listenerCount('SIGTERM');
    const signals = installSignalHandlers({ exit: () => undefined });
    expect(process.listenerCount('SIGTERM')).toBe(before + 1);
    signals.dispose();
    expect(process.listenerCount('SIGTERM')).toBe(before);
  });
});

describe('cleanups', () => {
  test('run newest first, once, and a failing one does not stop the rest', async () => {
    const order: string[] = [];
    const reports: string[] = [];
    const cleanups = new Cleanups();
    cleanups.add(() => order.push('database'));
    cleanups.add(() => {
      throw new Error('socket already closed');
    });
    cleanups.add(async () => order.push('dispatcher'));
    expect(await cleanups.run((m) => reports.push(m))).toBe(true);
    expect(await cleanups.run((m) => reports.push(m))).toBe(true);
    expect(order).toEqual(['dispatcher', 'database']);
    expect(reports).toEqual(['Shutdown step failed: socket already closed']);
  });

  test('a deadline that passes first resolves false, and the rest keeps running', async () => {
    let release!: () => void;
    const stuck = new Promise<void>((resolve) => (release = resolve));
    const order: string[] = [];
    const cleanups = new Cleanups();
    cleanups.add(() => order.push('last'));
    cleanups.add(() => stuck);
    expect(await cleanups.run(() => undefined, 10)).toBe(false);
    expect(order).toEqual([]);
    release();
    await stuck;
    await new Promise((resolve) => setImmediate(resolve));
    expect(order).toEqual(['last']);
  });
});

describe('the environment-only section of --help', () => {
  test('lists settings without a flag, with their defaults; nothing when every setting has a flag', () => {
    const spec = {
      interval: durationSetting({ flag: 'interval', env: 'CHECK_INTERVAL', default: '30s', doc: 'how often' }),
      timeout: durationSetting({ env: 'WEBHOOK_TIMEOUT', default: '5s', doc: 'per-request time limit' }),
      token: stringSetting({ env: 'TELEGRAM_BOT_TOKEN', default: '', doc: 'the bot token' }),
    };
    expect(envOnlyHelp(spec)).toBe(
      '\nEnvironment:\n  WEBHOOK_TIMEOUT     per-request time limit (default: 5s)\n  TELEGRAM_BOT_TOKEN  the bot token (default: unset)\n',
    );
    expect(envOnlyHelp({ interval: spec.interval })).toBe('');
  });
});

describe('process identity (Linux /proc)', () => {
  const linux = process.platform === 'linux' ? test : test.skip;

  linux('names this boot, this pid namespace and when this process started', () => {
    const identity = currentProcessIdentity();
    expect(identity.bootId).toMatch(/^[0-9a-f-]{36}$/);
    expect(identity.pidNamespace).toMatch(/^pid:\[\d+\]$/);
    expect(identity.started).toMatch(/^\d+$/);
    expect(runningProcessStarted(process.pid)).toBe(identity.started);
  });

  linux('a process that has exited (and been reaped) is no longer running under its pid', async () => {
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)']);
    const pid = child.pid!;
    expect(runningProcessStarted(pid)).toMatch(/^\d+$/);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    expect(runningProcessStarted(pid)).toBeNull();
  });
});
