import { timeoutText } from './send.results';
import type { SendResult } from './types';

export interface AttemptDeadline {
  /** aborts at the deadline or with the caller's signal */
  signal: AbortSignal;
  /**
   * Why a failed request was cut short, if it was: our time limit, the caller's abort, or the
   * sender closing. Every one is retryable — the receiver said nothing about the delivery.
   */
  interruption(closing: boolean): SendResult | undefined;
  dispose(): void;
}

/**
 * One send attempt's abort signal: it fires when `timeoutMs` has passed or when the caller's own
 * `signal` aborts (shutdown). Call `dispose()` in a `finally`.
 */
export function attemptDeadline(timeoutMs: number, signal?: AbortSignal): AttemptDeadline {
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, timeoutMs);
  const unfollow = signal ? followAbort(signal, () => controller.abort()) : () => undefined;
  return {
    signal: controller.signal,
    interruption(closing: boolean): SendResult | undefined {
      if (timedOut) return { kind: 'retryable', error: timeoutText(timeoutMs) };
      if (signal?.aborted) return { kind: 'retryable', error: 'aborted' };
      if (closing) return { kind: 'retryable', error: 'sender closed during the request' };
      return undefined;
    },
    dispose(): void {
      clearTimeout(timer);
      unfollow();
    },
  };
}

interface Followers {
  callbacks: Set<() => void>;
  listener: () => void;
}

/** The attempts following each caller signal; an entry lives while at least one attempt does. */
const following = new WeakMap<AbortSignal, Followers>();

/**
 * Calls `onAbort` when `signal` aborts, through ONE listener per signal however many attempts follow
 * it. The dispatcher passes its single shutdown signal to every send (20 at once under load), and an
 * EventTarget holding more than 10 listeners makes Node print `MaxListenersExceededWarning: Possible
 * EventTarget memory leak detected`. Returns the unsubscribe; the listener goes with the last follower.
 */
function followAbort(signal: AbortSignal, onAbort: () => void): () => void {
  if (signal.aborted) {
    onAbort();
    return () => undefined;
  }
  let entry = following.get(signal);
  if (!entry) {
    const callbacks = new Set<() => void>();
    const listener = () => {
      following.delete(signal);
      for (const callback of [...callbacks]) callback();
    };
    entry = { callbacks, listener };
    following.set(signal, entry);
    signal.addEventListener('abort', listener, { once: true });
  }
  const current = entry;
  current.callbacks.add(onAbort);
  return () => {
    current.callbacks.delete(onAbort);
    if (current.callbacks.size > 0 || following.get(signal) !== current) return;
    following.delete(signal);
    signal.removeEventListener('abort', current.listener);
  };
}
