import { createServer } from 'node:net';

/** A TCP port free on 127.0.0.1 right now (the OS picks and it is released: a child process can bind it, and until then connecting to it is refused). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * Re-checks `probe` every 100 ms until it returns a value, for conditions that have no event to wait
 * on (another process's HTTP answer, a row in the database). Fails at the deadline: a bound, not a sleep.
 */
export async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, deadlineMs: number): Promise<T> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`gave up waiting for ${what} after ${deadlineMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
