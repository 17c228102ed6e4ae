import type { Kysely } from 'kysely';
import type { Clock, Database, Logger } from '@lunasentri/shared';

/** Rows deleted per statement: short write locks, so ingest flushes never wait long behind a prune. */
const PRUNE_CHUNK = 5_000;

/** Deletes metrics rows recorded before `cutoffIso`, in chunks. Returns how many went. */
export async function pruneMetrics(db: Kysely<Database>, cutoffIso: string): Promise<number> {
  let total = 0;
  for (;;) {
    const result = await db
      .deleteFrom('machine_metrics')
      .where('id', 'in', (eb) => eb.selectFrom('machine_metrics').select('id').where('recorded_at', '<', cutoffIso).limit(PRUNE_CHUNK))
      .executeTakeFirst();
    const deleted = Number(result.numDeletedRows);
    total += deleted;
    if (deleted < PRUNE_CHUNK) return total;
    // Let requests and flushes run between chunks.
    await new Promise((resolve) => setImmediate(resolve));
  }
}

export interface RetentionOptions {
  db: Kysely<Database>;
  clock: Clock;
  logger: Logger;
  /** Rows older than this are deleted. */
  retentionMs: number;
  /** How often to prune. */
  everyMs: number;
}

/** Prunes metrics history in the background: once at start, then every `everyMs`. */
export function startMetricsRetention(options: RetentionOptions): { stop(): Promise<void> } {
  let running: Promise<void> | null = null;
  const run = () => {
    if (running) return;
    const cutoff = new Date(options.clock.now().getTime() - options.retentionMs).toISOString();
    running = pruneMetrics(options.db, cutoff)
      .then((deleted) => {
        if (deleted > 0) options.logger.debug('Pruned metrics history', { deleted, before: cutoff });
      })
      .catch((error: unknown) => {
        options.logger.warn('Could not prune metrics history', { error: error instanceof Error ? error.message : String(error) });
      })
      .finally(() => {
        running = null;
      });
  };
  const first = setTimeout(run, 1_000);
  const timer = setInterval(run, options.everyMs);
  first.unref();
  timer.unref();
  return {
    async stop() {
      clearTimeout(first);
      clearInterval(timer);
      if (running) await running;
    },
  };
}
