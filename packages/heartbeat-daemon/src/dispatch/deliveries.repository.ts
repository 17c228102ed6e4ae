import { lockedForClaim, type ChannelKind, type Database, type DeliveryStatus } from '@lunasentri/shared';
import { sql, type Kysely, type Transaction } from 'kysely';
import type { ClaimedDelivery } from '../outbox/outbox.types';

type Db = Kysely<Database> | Transaction<Database>;

export type { ClaimedDelivery } from '../outbox/outbox.types';

export interface ClaimOptions {
  now: Date;
  instanceId: string;
  leaseMs: number;
  channels: readonly ChannelKind[];
  limit: number;
  /** channels (one webhook, one chat) whose rows are not to be claimed now */
  skipTargets?: ReadonlyArray<{ channel: ChannelKind; targetId: number }>;
}

/**
 * `status = 'pending'` as a literal: the dispatcher's indexes (idx_deliveries_due, on
 * (channel, next_attempt_at), and idx_deliveries_pending_claims, on claimed_until) are partial, over
 * pending rows only (migration 015), and SQLite uses a partial index only when the query repeats its
 * condition word for word, never for a bound parameter. Delivered history then costs the reads nothing.
 */
export const PENDING = sql.lit('pending' as const);

/**
 * IN lists are padded to the next power of two by repeating their last id (harmless in `IN`), so a
 * batch of any size uses one of a few SQL texts and the connection's statement cache keeps them.
 */
export function paddedIds(ids: readonly number[]): number[] {
  let size = 1;
  while (size < ids.length) size *= 2;
  const padded = [...ids];
  while (padded.length < size) padded.push(ids[ids.length - 1]!);
  return padded;
}

/** What a claim reads of a delivery and its event (a {@link ClaimedDelivery}). */
export function claimedDeliveries(db: Db) {
  return db
    .selectFrom('deliveries as d')
    .innerJoin('events as ev', 'ev.id', 'd.event_id')
    .select(['d.id', 'd.event_id', 'd.machine_id', 'd.channel', 'd.target_id', 'd.attempts', 'ev.type as event_type', 'ev.occurred_at', 'ev.payload', 'd.failure_classes']);
}

/**
 * Deliveries due now and free to claim, with what sending them needs, oldest due first (see {@link claimDue}).
 * `target`: only this one channel's (a Telegram chat's next digest).
 */
export function dueQuery(db: Db, options: Pick<ClaimOptions, 'now' | 'channels' | 'limit' | 'skipTargets'> & { target?: { channel: ChannelKind; targetId: number } }) {
  const { channels, limit, skipTargets = [], target } = options;
  const nowIso = options.now.toISOString();
  let query = claimedDeliveries(db)
    .where('d.status', '=', PENDING)
    .where('d.next_attempt_at', '<=', nowIso)
    .where((eb) => eb.or([eb('d.claimed_until', 'is', null), eb('d.claimed_until', '<=', nowIso)]))
    .where('d.channel', 'in', channels)
    // In order per stream: an earlier pending delivery (due or not, claimed or not) blocks this one.
    // So a claim never holds two rows of one stream: the next is due only once this one is recorded.
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom('deliveries as e')
            .select('e.id')
            .whereRef('e.channel', '=', 'd.channel')
            .whereRef('e.target_id', '=', 'd.target_id')
            .whereRef('e.machine_id', '=', 'd.machine_id')
            .where('e.status', '=', 'pending')
            .whereRef('e.id', '<', 'd.id'),
        ),
      ),
    )
    .orderBy('d.next_attempt_at')
    .orderBy('d.id')
    .limit(limit);
  if (target) query = query.where('d.target_id', '=', target.targetId);
  for (const skip of skipTargets) {
    query = query.where((eb) => eb.not(eb.and([eb('d.channel', '=', skip.channel), eb('d.target_id', '=', skip.targetId)])));
  }
  return query;
}

/**
 * Whether any pending delivery of these channels may be due: one seek on idx_deliveries_due, no lock
 * taken. Claims and stream order are not looked at (a row it finds may not be claimable after all);
 * it only spares the write lock when nothing at all has come due.
 */
export function mayBeDueQuery(db: Db, nowIso: string, channels: readonly ChannelKind[]) {
  return db
    .selectFrom('deliveries')
    .select('id')
    .where('status', '=', PENDING)
    .where('channel', 'in', channels)
    .where('next_attempt_at', '<=', nowIso)
    .limit(1);
}

/**
 * Claims up to `limit` due deliveries for this instance. Runs in one write transaction (BEGIN
 * IMMEDIATE), so two daemons never claim the same row. A row is due when it is pending, its next
 * attempt has come, nobody holds an unexpired claim on it, and no earlier delivery of the same
 * (channel, target, machine) stream is still pending — which keeps each stream in event order.
 * A plain read comes first: when nothing has come due, no write lock is taken (an idle wake-up
 * neither waits behind ingest's writes nor makes them wait).
 */
export async function claimDue(db: Kysely<Database>, options: ClaimOptions): Promise<ClaimedDelivery[]> {
  if (options.limit <= 0 || options.channels.length === 0) return [];
  const nowIso = options.now.toISOString();
  if ((await mayBeDueQuery(db, nowIso, options.channels).executeTakeFirst()) === undefined) return [];
  const until = new Date(options.now.getTime() + options.leaseMs).toISOString();
  return db.transaction().execute(async (trx) => {
    // Several daemons on PostgreSQL split the due rows: each passes over the rows another is claiming.
    const due = await lockedForClaim(trx, dueQuery(trx, options), 'd').execute();
    if (due.length === 0) return [];
    await trx
      .updateTable('deliveries')
      .set({ claimed_until: until, claimed_by: options.instanceId, updated_at: nowIso })
      .where('id', 'in', paddedIds(due.map((r) => r.id)))
      .execute();
    return due;
  });
}

/**
 * Marks deliveries delivered. Not conditional on our claim: the receivers have them, whoever else may
 * also have sent them meanwhile (at least once). Only rows still pending change: never a second
 * attempt counted on a delivered row, never a final row reopened. Returns the ids that changed.
 */
export async function markDelivered(db: Db, ids: readonly number[], now: Date): Promise<Set<number>> {
  const marked = new Set<number>();
  // A Telegram digest carries up to 2,000 rows: a batch of several stays within the bound parameters of one statement.
  for (let i = 0; i < ids.length; i += MARK_CHUNK) {
    for (const id of await markChunkDelivered(db, ids.slice(i, i + MARK_CHUNK), now)) marked.add(id);
  }
  return marked;
}

const MARK_CHUNK = 4096;

async function markChunkDelivered(db: Db, ids: readonly number[], now: Date): Promise<number[]> {
  const nowIso = now.toISOString();
  const rows = await db
    .updateTable('deliveries')
    .set((eb) => ({
      status: 'delivered',
      attempts: eb('attempts', '+', 1),
      delivered_at: nowIso,
      last_error: null,
      claimed_until: null,
      claimed_by: null,
      updated_at: nowIso,
    }))
    .where('id', 'in', paddedIds(ids))
    // CASE, not `status = 'pending'`: beside an id list SQLite's planner (no statistics) would walk
    // idx_deliveries_due over every pending row — all of them in a burst — instead of the ids.
    .where((eb) => eb(eb.case().when('status', '=', 'pending').then(1).else(0).end(), '=', 1))
    .returning('id')
    .execute();
  return rows.map((r) => r.id);
}

/** One claimed row's outcome, recorded only while `instanceId` still holds its claim. */
export interface ClaimedRowUpdate {
  id: number;
  instanceId: string;
  /** the last error, as shown by `GET /events` and `status` */
  error: string;
  now: Date;
  /** the failure classes to store, when this outcome is a send failure */
  failureClasses?: string;
}

/**
 * Writes an attempt's outcome on a row we claimed and gives the claim up, only while the row is still
 * pending and the claim still ours (another daemon may have taken it over meanwhile); says whether it applied.
 */
async function settleClaimed(
  db: Db,
  update: ClaimedRowUpdate & { attempted: boolean; status?: Extract<DeliveryStatus, 'failed' | 'dead'>; nextAttemptAt?: Date; notBefore?: Date | null },
): Promise<boolean> {
  const { id, instanceId, error, now, attempted, status, nextAttemptAt, notBefore, failureClasses } = update;
  const result = await db
    .updateTable('deliveries')
    .set((eb) => ({
      ...(status ? { status } : {}),
      ...(nextAttemptAt ? { next_attempt_at: nextAttemptAt.toISOString(), retry_not_before: notBefore ? notBefore.toISOString() : null } : {}),
      ...(failureClasses === undefined ? {} : { failure_classes: failureClasses }),
      attempts: attempted ? eb('attempts', '+', 1) : eb.ref('attempts'),
      last_error: error,
      claimed_until: null,
      claimed_by: null,
      updated_at: now.toISOString(),
    }))
    .where('id', '=', id)
    .where('status', '=', 'pending')
    .where('claimed_by', '=', instanceId)
    .executeTakeFirst();
  return result.numUpdatedRows === 1n;
}

/**
 * Records a failed attempt and when to try again (`at`); `notBefore` is the receiver's own earliest
 * time (its Retry-After), if it gave one. Only while we still hold the claim; says whether it applied.
 */
export function reschedule(db: Db, update: ClaimedRowUpdate & { at: Date; notBefore?: Date }): Promise<boolean> {
  return settleClaimed(db, { ...update, attempted: true, nextAttemptAt: update.at, notBefore: update.notBefore ?? null });
}

/**
 * A target that was failing accepted a delivery again: its other deliveries waiting for a retry
 * (pending, not claimed, next attempt later than now) become due now, unless the receiver asked for
 * a later time (Retry-After). Stream order is untouched: the claim still takes only the first
 * pending row of each (channel, target, machine). Reads one range of idx_deliveries_due: the
 * channel's pending rows whose next attempt is still to come, at most one per stream waiting for a
 * retry (the rows queued behind it are due already), never delivered history. Returns how many rows
 * it brought forward.
 */
export async function bringForwardWaiting(db: Db, target: { channel: ChannelKind; targetId: number; now: Date }): Promise<number> {
  const nowIso = target.now.toISOString();
  const result = await db
    .updateTable('deliveries')
    .set({ next_attempt_at: nowIso, updated_at: nowIso })
    .where('channel', '=', target.channel)
    .where('target_id', '=', target.targetId)
    .where('status', '=', PENDING)
    .where('next_attempt_at', '>', nowIso)
    .where((eb) => eb.or([eb('claimed_until', 'is', null), eb('claimed_until', '<=', nowIso)]))
    .where((eb) => eb.or([eb('retry_not_before', 'is', null), eb('retry_not_before', '<=', nowIso)]))
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/**
 * Ends a delivery as `failed` or `dead`, only while we still hold the claim; says whether it applied.
 * `attempted` says whether this call records an attempt.
 */
export function markFinal(db: Db, update: ClaimedRowUpdate & { status: Extract<DeliveryStatus, 'failed' | 'dead'>; attempted: boolean }): Promise<boolean> {
  return settleClaimed(db, update);
}

/** Gives back one claim without recording an attempt (a send cut short by shutdown). */
export async function releaseClaim(db: Db, id: number, instanceId: string, now: Date): Promise<void> {
  await db
    .updateTable('deliveries')
    .set({ claimed_until: null, claimed_by: null, updated_at: now.toISOString() })
    .where('id', '=', id)
    .where('claimed_by', '=', instanceId)
    .execute();
}

/**
 * Gives back every claim this instance holds (shutdown, or a takeover from a daemon that is gone),
 * so another daemon can send at once: its deliveries and the Telegram chats it was sending to.
 * Returns how many deliveries it gave back.
 */
export async function releaseClaims(db: Db, instanceId: string, now: Date): Promise<number> {
  await db
    .updateTable('telegram_chat_pacing')
    .set({ claimed_until: null, claimed_by: null, updated_at: now.toISOString() })
    .where('claimed_by', '=', instanceId)
    .execute();
  const result = await db
    .updateTable('deliveries')
    .set({ claimed_until: null, claimed_by: null, updated_at: now.toISOString() })
    .where('claimed_by', '=', instanceId)
    .where('status', '=', 'pending')
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/**
 * The earliest future moment a pending delivery may become claimable: a retry coming due or a
 * claim expiring. Rows blocked behind an earlier one wait for that one, so they add nothing.
 */
export async function nextDueAt(db: Db, now: Date, channels: readonly ChannelKind[]): Promise<Date | null> {
  if (channels.length === 0) return null;
  const nowIso = now.toISOString();
  const retry = await db
    .selectFrom('deliveries')
    .select((eb) => eb.fn.min('next_attempt_at').as('at'))
    .where('status', '=', PENDING)
    .where('next_attempt_at', '>', nowIso)
    .where('channel', 'in', channels)
    .executeTakeFirst();
  // Every channel's claims: a `channel IN` here would make SQLite walk idx_deliveries_due over all
  // pending rows of the channel instead of seeking idx_deliveries_pending_claims. A claim on a channel
  // we do not send (another daemon's Telegram row) only costs a spurious wake-up.
  const lease = await db
    .selectFrom('deliveries')
    .select((eb) => eb.fn.min('claimed_until').as('at'))
    .where('status', '=', PENDING)
    .where('claimed_until', '>', nowIso)
    .executeTakeFirst();
  const times = [retry?.at, lease?.at].filter((t): t is string => typeof t === 'string').map((t) => Date.parse(t));
  return times.length === 0 ? null : new Date(Math.min(...times));
}

/** A daemon instance holding unexpired claims, with what its liveness row says about it. */
export interface ClaimHolder {
  instance_id: string;
  /** null when the instance never recorded liveness */
  pid: number | null;
  hostname: string | null;
  /** its last liveness beat; null when it never recorded liveness */
  heartbeat_at: string | null;
  stopped_at: string | null;
  /** how often it promised to beat; its process identity (see ProcessIdentity); null when not recorded */
  beat_every_ms: number | null;
  boot_id: string | null;
  pid_namespace: string | null;
  process_started: string | null;
}

/** Every instance (other than `self`) holding a claim that has not expired yet. */
export async function claimHolders(db: Db, self: string, now: Date): Promise<ClaimHolder[]> {
  return db
    .selectFrom('deliveries as d')
    .leftJoin('service_liveness as l', 'l.instance_id', 'd.claimed_by')
    .select(['d.claimed_by as instance_id', 'l.pid', 'l.hostname', 'l.heartbeat_at', 'l.stopped_at', 'l.beat_every_ms', 'l.boot_id', 'l.pid_namespace', 'l.process_started'])
    .distinct()
    .where('d.status', '=', PENDING)
    .where('d.claimed_by', 'is not', null)
    .where('d.claimed_by', '!=', self)
    .where('d.claimed_until', '>', now.toISOString())
    .execute() as Promise<ClaimHolder[]>;
}

/**
 * Ends as `dead` up to `limit` pending deliveries whose event is older than `cutoff`, attempted or
 * not (a channel nobody sends, like Telegram without a bot token, would otherwise stay pending
 * forever). Rows under a live claim are left to their sender. Returns the rows it ended, per channel.
 * Reads the due index: a row never tried has its event's time as next attempt, a retried one at most
 * the 24 h deadline, so `next_attempt_at < cutoff` holds for every such row.
 */
export async function expireStale(db: Kysely<Database>, now: Date, cutoff: Date, limit: number): Promise<Array<{ id: number; channel: ChannelKind }>> {
  const nowIso = now.toISOString();
  const cutoffIso = cutoff.toISOString();
  return db
    .updateTable('deliveries')
    .set({
      status: 'dead',
      last_error: sql<string>`coalesce(last_error, 'never sent')`,
      claimed_until: null,
      claimed_by: null,
      updated_at: nowIso,
    })
    .where('id', 'in', (eb) =>
      eb
        .selectFrom('deliveries as d')
        .innerJoin('events as ev', 'ev.id', 'd.event_id')
        .select('d.id')
        .where('d.status', '=', PENDING)
        .where('d.channel', 'in', ['webhook', 'telegram'])
        .where('d.next_attempt_at', '<', cutoffIso)
        .where('ev.occurred_at', '<', cutoffIso)
        .where((w) => w.or([w('d.claimed_until', 'is', null), w('d.claimed_until', '<=', nowIso)]))
        .limit(limit),
    )
    .returning(['id', 'channel'])
    .execute();
}
