import type { Kysely } from 'kysely';
import type { Clock, Database, Logger, MachineKeyLookup, Notifier } from '@lunasentri/shared';
import type { MachineKeyCache } from '../credentials/machine-key.cache';
import type { IngestWriter } from '../ingest/ingest.writer';

/** Everything a route needs, built once by the composition root and passed down as one object. */
export interface ApiContext {
  db: Kysely<Database>;
  /** The background writers' connection (short busy timeout): for best-effort writes off the request's critical path. */
  backgroundDb: Kysely<Database>;
  clock: Clock;
  logger: Logger;
  notifier: Notifier;
  /** The URL rules for webhook creation (WEBHOOK_ALLOW_HTTP / WEBHOOK_ALLOW_PRIVATE). */
  webhookPolicy: { allowHttp: boolean; allowPrivate: boolean };
  keyCache: MachineKeyCache;
  keyLookup: MachineKeyLookup;
  ingest: IngestWriter;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** set by the user-token hook */
    userId: number;
    /** set by the machine-key hook */
    machineId: number;
  }
  interface FastifyContextConfig {
    /** the `<area>` of error codes for this route's bad input (`ingest.invalid_payload`) */
    area?: string;
  }
}
