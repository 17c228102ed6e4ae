import pg from 'pg';
import { CHANGES_CHANNEL } from '../engine';
import type { ChangeFeed } from '../port';

/**
 * `LISTEN lunasentri_changes` on a connection of its own. A notification sets a flag that the next
 * poll reads, and is passed on as a hint at once; the database stays the source of truth (the monitor loop still checks on its own
 * schedule). The connection is made in the background and made again, with backoff, when it drops:
 * while it is down polls say "changed" once it is back, so nothing that happened meanwhile waits for
 * the next scheduled check.
 */
export function postgresChangeFeed(url: string, types: pg.CustomTypesConfig): ChangeFeed {
  let changed = false;
  let closed = false;
  let listener: (() => void) | null = null;
  let client: pg.Client | null = null;
  let timer: NodeJS.Timeout | null = null;
  let delayMs = 250;

  const retry = () => {
    client = null;
    if (closed) return;
    timer = setTimeout(connect, delayMs);
    timer.unref();
    delayMs = Math.min(delayMs * 2, 10_000);
  };

  function connect(): void {
    const c = new pg.Client({ connectionString: url, types });
    client = c;
    c.on('notification', () => {
      changed = true;
      listener?.();
    });
    c.on('error', () => undefined); // followed by 'end'
    c.on('end', () => {
      if (client === c) retry();
    });
    c.connect()
      .then(() => c.query(`LISTEN ${CHANGES_CHANNEL}`))
      .then(() => {
        delayMs = 250;
        changed = true; // whatever happened while we were not listening
        listener?.();
        if (closed) void c.end();
      })
      .catch(() => {
        void c.end().catch(() => undefined);
      });
  }

  connect();
  return {
    poll() {
      const was = changed;
      changed = false;
      return was;
    },
    onHint(next) {
      listener = next;
    },
    close() {
      closed = true;
      listener = null;
      if (timer) clearTimeout(timer);
      const c = client;
      client = null;
      void c?.end().catch(() => undefined);
    },
  };
}
