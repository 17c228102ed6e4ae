import type { Kysely } from 'kysely';
import { LIVENESS_BEAT_MS, errorMessage, recordBeat, recordStopped, registerInstance, type Clock, type Database, type Logger } from '@lunasentri/shared';

export interface LivenessLoop {
  instanceId: string;
  /** Stops beating and records the graceful stop (the daemon then knows at once). */
  stop(): Promise<void>;
}

export interface LivenessOptions {
  /** where the instance is registered, at startup */
  db: Kysely<Database>;
  /**
   * where beats and the stop are recorded: the background connection, whose short busy timeout means
   * a lock held elsewhere costs a skipped beat, not a frozen event loop; default `db`
   */
  beatDb?: Kysely<Database>;
  clock: Clock;
  logger: Logger;
  /** default about once a second ({@link LIVENESS_BEAT_MS}) */
  beatMs?: number;
  /**
   * Runs before each beat and says whether ingest really works: false while reports the API accepted
   * are still unwritten (the database refused them). The beat is then skipped.
   */
  beforeBeat?: () => Promise<boolean>;
}

/** How often, and how far apart, the stop is retried while another process holds the write lock. */
const STOP_ATTEMPTS = 20;
const STOP_RETRY_MS = 100;

/**
 * Registers this API process in `service_liveness` and beats about once a second (CONTRACT §3.1).
 * A beat says more than "the process runs": every report accepted before its time is in the
 * database. It is stamped with the moment `beforeBeat` starts writing what is held, and recorded
 * only once that succeeded — so after a write stall the daemon learns that ingest resumed only
 * when the reports held through the stall are written, never before.
 */
export async function startLiveness(options: LivenessOptions): Promise<LivenessLoop> {
  const { db, clock, logger } = options;
  const beatDb = options.beatDb ?? db;
  const instanceId = await registerInstance(db, 'api', clock);
  let beating: Promise<void> | null = null;
  let failing = false;

  async function beat(): Promise<void> {
    const at = clock.now();
    if (options.beforeBeat && !(await options.beforeBeat())) throw new Error('buffered ingest reports are not written yet');
    await recordBeat(beatDb, instanceId, { now: () => at });
  }

  const timer = setInterval(() => {
    if (beating) return;
    beating = beat()
      .then(() => {
        if (failing) logger.info('Liveness beats are recorded again');
        failing = false;
      })
      .catch((error: unknown) => {
        // Once per streak: a locked database would otherwise log every second.
        if (!failing) logger.warn('Could not record liveness', { error: errorMessage(error) });
        failing = true;
      })
      .finally(() => {
        beating = null;
      });
  }, options.beatMs ?? LIVENESS_BEAT_MS);
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
