import type { Kysely } from 'kysely';
import { LIVENESS_BEAT_MS, recordBeat, recordStopped, registerInstance, type Clock, type Database, type Logger } from '@lunasentri/shared';

export interface LivenessLoop {
  instanceId: string;
  /** Stops beating and records the graceful stop (the daemon then knows at once). */
  stop(): Promise<void>;
}

/** How often, and how far apart, the stop is retried while another process holds the write lock. */
const STOP_ATTEMPTS = 20;
const STOP_RETRY_MS = 100;

/**
 * Registers this API process in `service_liveness` (on `db`, at startup) and beats about once a
 * second (CONTRACT §3.1) on `beatDb`: the background connection, whose short busy timeout means a
 * lock held elsewhere costs a skipped beat, not a frozen event loop.
 */
export async function startLiveness(
  db: Kysely<Database>,
  clock: Clock,
  logger: Logger,
  beatMs = LIVENESS_BEAT_MS,
  beatDb: Kysely<Database> = db,
): Promise<LivenessLoop> {
  const instanceId = await registerInstance(db, 'api', clock);
  let beating: Promise<void> | null = null;
  let failing = false;
  const timer = setInterval(() => {
    if (beating) return;
    beating = recordBeat(beatDb, instanceId, clock)
      .then(() => {
        if (failing) logger.info('Liveness beats are recorded again');
        failing = false;
      })
      .catch((error: unknown) => {
        // Once per streak: a locked database would otherwise log every second.
        if (!failing) logger.warn('Could not record liveness', { error: error instanceof Error ? error.message : String(error) });
        failing = true;
      })
      .finally(() => {
        beating = null;
      });
  }, beatMs);
  timer.unref();
  return {
    instanceId,
    async stop() {
      clearInterval(timer);
      if (beating) await beating;
      for (let attempt = 1; ; attempt++) {
        try {
          await recordStopped(beatDb, instanceId, clock);
          return;
        } catch (error) {
          if (attempt >= STOP_ATTEMPTS) throw error;
          await new Promise((resolve) => setTimeout(resolve, STOP_RETRY_MS));
        }
      }
    },
  };
}
