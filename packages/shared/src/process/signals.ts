import { constants as osConstants } from 'node:os';

export interface ProcessSignals {
  /** Aborted by the first SIGTERM or SIGINT; its reason is the signal's name. */
  readonly signal: AbortSignal;
  /** From now on the first signal exits at once: for a command with nothing to drain. */
  exitOnFirstSignal(): void;
  /** Removes the handlers (tests, and a process that leaves by returning from main). */
  dispose(): void;
}

export interface SignalOptions {
  /** Ends the process; `process.exit` in the binaries. */
  exit: (code: number) => void;
  /** Called just before a second signal ends the process (one last log line). */
  onForcedExit?: (name: NodeJS.Signals) => void;
}

/** The conventional exit status of a process ended by a signal. */
export function signalExitCode(name: NodeJS.Signals): number {
  return 128 + (osConstants.signals[name] ?? 0);
}

/**
 * SIGTERM and SIGINT handling for both binaries, installed before anything starts (a signal during
 * startup is then a graceful stop, not Node's default instant death): the first signal aborts
 * {@link ProcessSignals.signal} and the process drains; a second one exits at once with 128 + the
 * signal number.
 */
export function installSignalHandlers(options: SignalOptions): ProcessSignals {
  const controller = new AbortController();
  let exitOnFirst = false;
  const onSignal = (name: NodeJS.Signals) => {
    if (exitOnFirst || controller.signal.aborted) {
      options.onForcedExit?.(name);
      options.exit(signalExitCode(name));
      return;
    }
    controller.abort(name);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  return {
    signal: controller.signal,
    exitOnFirstSignal() {
      exitOnFirst = true;
    },
    dispose() {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
    },
  };
}
