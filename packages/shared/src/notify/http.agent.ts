import type { Agent } from 'undici';

/**
 * Tracks a sender's in-flight requests so shutdown can be bounded. `Agent.close()` waits for every
 * request (a receiver that never answers holds it forever) and forgets its connection pools, after
 * which `destroy()` no longer reaches them — so the choice between the two is made once, here.
 * `current` gives the agent if one was made (senders make theirs on the first request).
 */
export function createAgentLifecycle(current: () => Agent | undefined, graceMs: number) {
  const inFlight = new Set<Promise<unknown>>();
  let closing = false;
  return {
    get closing(): boolean {
      return closing;
    },
    /** Runs `request` as in-flight work that `close()` waits for (up to the grace period). */
    track<T>(request: Promise<T>): Promise<T> {
      inFlight.add(request);
      const forget = () => inFlight.delete(request);
      request.then(forget, forget);
      return request;
    },
    /** Lets in-flight requests finish for `graceMs`, then destroys what is left; otherwise closes cleanly. */
    async close(): Promise<void> {
      if (closing) return;
      closing = true;
      if (inFlight.size > 0) {
        let grace: NodeJS.Timeout | undefined;
        const graceOver = new Promise<void>((resolve) => {
          grace = setTimeout(resolve, graceMs);
        });
        await Promise.race([Promise.allSettled([...inFlight]), graceOver]);
        clearTimeout(grace);
      }
      // An agent never made (nothing was ever sent) has nothing to close.
      const agent = current();
      if (!agent) return;
      if (inFlight.size > 0) await agent.destroy();
      else await agent.close();
    },
  };
}
