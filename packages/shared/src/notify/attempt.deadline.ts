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
  const onAbort = () => controller.abort();
  signal?.addEventListener('abort', onAbort, { once: true });
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
      signal?.removeEventListener('abort', onAbort);
    },
  };
}
