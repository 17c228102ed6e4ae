import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Kysely } from 'kysely';
import type { Clock } from '../clock';
import { announceChange } from '../db/engine';
import type { Database } from '../db/schema';
import { currentProcessIdentity, type ProcessIdentity } from '../process/process.identity';

/**
 * Process liveness in the shared database (CONTRACT §3.1). The API beats about once a second; the
 * daemon reads these rows to tell an ingest outage from machine outages. The daemon records itself
 * too (its beat is its last check), which `GET /health` reports.
 */

/** An API instance that has not beaten for this long counts as down. */
export const API_STALE_AFTER_MS = 5_000;

/** How often a live process should beat. */
export const LIVENESS_BEAT_MS = 1_000;

export type ServiceKind = 'api' | 'daemon';

export interface InstanceFacts {
  /** how often this instance will beat at the least; default {@link LIVENESS_BEAT_MS} (the daemon passes its interval) */
  beatEveryMs?: number;
  /** this process's identity; default read from /proc ({@link currentProcessIdentity}) */
  identity?: ProcessIdentity;
}

/**
 * Records a new process instance and returns its id, with what lets another process tell for certain
 * whether it still runs (its beat period and process identity). For the API, if no other API instance
 * is live at this moment, the start ends an ingest outage and is recorded as `ingest_resumed_at`.
 */
export async function registerInstance(db: Kysely<Database>, kind: ServiceKind, clock: Clock, facts: InstanceFacts = {}): Promise<string> {
  const identity = facts.identity ?? currentProcessIdentity();
  const instanceId = randomUUID();
  const now = clock.now();
  const nowIso = now.toISOString();
  await db.transaction().execute(async (trx) => {
    let resumed: string | null = null;
    if (kind === 'api') {
      const live = await trx
        .selectFrom('service_liveness')
        .select('instance_id')
        .where('kind', '=', 'api')
        .where('stopped_at', 'is', null)
        .where('heartbeat_at', '>=', new Date(now.getTime() - API_STALE_AFTER_MS).toISOString())
        .limit(1)
        .executeTakeFirst();
      resumed = live ? null : nowIso;
    }
    // Old rows of stopped or vanished instances are only history: keep a week.
    await trx
      .deleteFrom('service_liveness')
      .where('kind', '=', kind)
      .where('heartbeat_at', '<', new Date(now.getTime() - 7 * 24 * 3600_000).toISOString())
      .execute();
    await trx
      .insertInto('service_liveness')
      .values({
        instance_id: instanceId,
        kind,
        pid: process.pid,
        hostname: hostname(),
        started_at: nowIso,
        heartbeat_at: nowIso,
        stopped_at: null,
        ingest_resumed_at: resumed,
        beat_every_ms: facts.beatEveryMs ?? LIVENESS_BEAT_MS,
        boot_id: identity.bootId,
        pid_namespace: identity.pidNamespace,
        process_started: identity.started,
      })
      .execute();
  });
  return instanceId;
}

/**
 * Refreshes an instance's beat. An API instance whose previous beat is older than the stale window
 * (a stalled event loop, a suspended VM) was not taking reports meanwhile: if no other API was live,
 * its return is an ingest resume.
 */
export async function recordBeat(db: Kysely<Database>, instanceId: string, clock: Clock): Promise<void> {
  const now = clock.now();
  const nowIso = now.toISOString();
  const staleBefore = new Date(now.getTime() - API_STALE_AFTER_MS).toISOString();
  await db.transaction().execute(async (trx) => {
    const row = await trx
      .selectFrom('service_liveness')
      .select(['kind', 'heartbeat_at'])
      .where('instance_id', '=', instanceId)
      .executeTakeFirst();
    let resumed: string | undefined;
    if (row?.kind === 'api' && row.heartbeat_at < staleBefore) {
      const otherLive = await trx
        .selectFrom('service_liveness')
        .select('instance_id')
        .where('kind', '=', 'api')
        .where('instance_id', '!=', instanceId)
        .where('stopped_at', 'is', null)
        .where('heartbeat_at', '>=', staleBefore)
        .limit(1)
        .executeTakeFirst();
      if (!otherLive) resumed = nowIso;
    }
    await trx
      .updateTable('service_liveness')
      .set(resumed ? { heartbeat_at: nowIso, stopped_at: null, ingest_resumed_at: resumed } : { heartbeat_at: nowIso, stopped_at: null })
      .where('instance_id', '=', instanceId)
      .execute();
    // An API beat can decide offlines that wait for it (offline is decided as of the latest beat):
    // the daemons hear of it at once, as they hear of reports.
    if (row?.kind === 'api') await announceChange(trx);
  });
}

/** Records a graceful stop, so the daemon knows at once instead of after the stale window. */
export async function recordStopped(db: Kysely<Database>, instanceId: string, clock: Clock): Promise<void> {
  const nowIso = clock.now().toISOString();
  await db.updateTable('service_liveness').set({ heartbeat_at: nowIso, stopped_at: nowIso }).where('instance_id', '=', instanceId).execute();
}

export interface IngestLiveness {
  /** false when no API instance ever recorded liveness in this database (the daemon then works normally) */
  everRecorded: boolean;
  /** some API instance is running and beat within the stale window */
  live: boolean;
  /** latest time ingest resumed after an outage, if any */
  resumedAt: string | null;
  /**
   * the latest beat of a live API instance (every report it accepted before that moment is in the
   * database); null when none is live or none ever recorded liveness
   */
  beatAt: string | null;
  /** while down: when the last API instance stopped or last beat */
  downSince: string | null;
}

/**
 * What the daemon needs to know about ingest right now. Four index seeks on `service_liveness`,
 * whatever its size (a crash-looping API leaves a row per start).
 */
export async function readIngestLiveness(
  db: Kysely<Database>,
  now: Date,
  staleAfterMs: number = API_STALE_AFTER_MS,
): Promise<IngestLiveness> {
  const api = db.selectFrom('service_liveness').where('kind', '=', 'api');
  const latest = await api.select((eb) => eb.fn.max('heartbeat_at').as('last')).executeTakeFirst();
  if (!latest?.last) return { everRecorded: false, live: true, resumedAt: null, beatAt: null, downSince: null };
  const staleBefore = new Date(now.getTime() - staleAfterMs).toISOString();
  const liveBeat = await api
    .select((eb) => eb.fn.max('heartbeat_at').as('at'))
    .where('heartbeat_at', '>=', staleBefore)
    .where('stopped_at', 'is', null)
    .executeTakeFirst();
  const resumed = await api.select((eb) => eb.fn.max('ingest_resumed_at').as('at')).executeTakeFirst();
  const beatAt = liveBeat?.at ?? null;
  const live = beatAt !== null;
  // A graceful stop also stamps heartbeat_at, so the latest beat is when the last instance went away.
  return { everRecorded: true, live, resumedAt: resumed?.at ?? null, beatAt, downSince: live ? null : latest.last };
}

/** The daemon's last recorded check (its latest beat), for `GET /health`. */
export async function readDaemonLastCheck(db: Kysely<Database>): Promise<string | null> {
  const row = await db
    .selectFrom('service_liveness')
    .select((eb) => eb.fn.max('heartbeat_at').as('last'))
    .where('kind', '=', 'daemon')
    .executeTakeFirst();
  return row?.last ?? null;
}

/** The daemon's latest check and how often it checks at the least (its interval). */
export interface DaemonCheck {
  /** the latest beat of any daemon instance; null when no daemon ever ran on this database */
  lastCheck: string | null;
  /** that instance's beat period; null in rows from before migration 018 */
  intervalMs: number | null;
}

/** {@link readDaemonLastCheck} with the interval of the instance that made it, for "is it still checking?". */
export async function readDaemonCheck(db: Kysely<Database>): Promise<DaemonCheck> {
  const row = await db
    .selectFrom('service_liveness')
    .select(['heartbeat_at', 'beat_every_ms'])
    .where('kind', '=', 'daemon')
    .orderBy('heartbeat_at', 'desc')
    .limit(1)
    .executeTakeFirst();
  return { lastCheck: row?.heartbeat_at ?? null, intervalMs: row?.beat_every_ms ?? null };
}

/**
 * Whether the daemon's statuses can be trusted at `now`: it has checked within twice its interval
 * (CONTRACT §7.3). Rows without a recorded interval are judged against the default 30 s.
 */
export function daemonIsChecking(check: DaemonCheck, now: Date): boolean {
  if (check.lastCheck === null) return false;
  return now.getTime() - Date.parse(check.lastCheck) <= 2 * (check.intervalMs ?? 30_000);
}
