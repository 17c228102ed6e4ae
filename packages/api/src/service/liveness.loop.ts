import type { Kysely } from 'kysely';
import { LIVENESS_BEAT_MS, recordBeat, recordStopped, registerInstance, type Clock, type Database, type Logger } from '@lunasentri/shared';

export interface LivenessLoop {
  instanceId: string;
  /** Stops beating and records the graceful stop (the daemon then knows at once). */
  stop(): Promise<void>;
}

/** Registers this API process in `service_liveness` and beats about once a second (CONTRACT §3.1). */
export async function startLiveness(db: Kysely<Database>, clock: Clock, logger: Logger, beatMs = LIVENESS_BEAT_MS): Promise<LivenessLoop> {
  const instanceId = await registerInstance(db, 'api', clock);
  let beating: Promise<void> | null = null;
  let failing = false;
  const timer = setInterval(() => {
    if (beating) return;
    beating = recordBeat(db, instanceId, clock)
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
      await recordStopped(db, instanceId, clock);
    },
  };
}
