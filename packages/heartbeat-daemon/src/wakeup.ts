/**
 * A sleep that ends early when woken or aborted. A wake that arrives while nobody sleeps is kept,
 * so the next sleep returns at once (no lost wake-ups between "check" and "sleep").
 */
export class Wakeup {
  private pending = false;
  private current: (() => void) | null = null;

  wake(): void {
    if (this.current) this.current();
    else this.pending = true;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (this.pending || signal?.aborted) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        this.current = null;
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      signal?.addEventListener('abort', done, { once: true });
      this.current = done;
    });
  }
}
