import type { ChannelKind, Database } from '@lunasentri/shared';
import type { Kysely, Transaction } from 'kysely';
import type { ClaimedDelivery, HandoffBatch, NewEvent } from './outbox.types';

/** Rows per multi-row INSERT: well under the bound-parameter limits of SQLite (32,766) and PostgreSQL (65,535). */
const ROWS_PER_INSERT = 500;

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * The outbox write: the events and one pending delivery per recipient. Deliveries are inserted in
 * event order, so their ids keep each (channel, target, machine) stream in event order. With a
 * `handoff`, the deliveries it may take are written already claimed for it and added to its
 * `claimed` (see {@link OutboxHandoff}).
 */
export async function insertEventsWithDeliveries(trx: Transaction<Database>, events: readonly NewEvent[], handoff?: HandoffBatch): Promise<void> {
  for (const chunk of chunks(events, ROWS_PER_INSERT)) {
    await trx
      .insertInto('events')
      .values(
        chunk.map((e) => ({
          id: e.id,
          type: e.type,
          machine_id: e.machineId,
          user_id: e.userId,
          occurred_at: e.occurredAt,
          payload: e.payload,
          created_at: e.occurredAt,
          suppressed: e.suppressed ?? null,
        })),
      )
      .execute();
  }
  const deliveries: NewDelivery[] = events.flatMap((e) => e.recipients.map((r) => ({ event: e, channel: r.channel, targetId: r.targetId, claimed: false })));
  if (handoff) await markHandedOver(trx, deliveries, handoff);
  const claimed: ClaimedDelivery[] = [];
  for (const chunk of chunks(deliveries, ROWS_PER_INSERT)) claimed.push(...(await insertDeliveries(trx, chunk, handoff)));
  if (handoff) handoff.claimed.push(...claimed.sort((a, b) => a.id - b.id));
}

interface NewDelivery {
  event: NewEvent;
  channel: ChannelKind;
  targetId: number;
  /** written claimed for the handoff */
  claimed: boolean;
}

/** One multi-row INSERT of deliveries; returns the claimed ones as the dispatcher sends them. */
async function insertDeliveries(trx: Transaction<Database>, chunk: readonly NewDelivery[], handoff: HandoffBatch | undefined): Promise<ClaimedDelivery[]> {
  const until = handoff?.until.toISOString() ?? null;
  const insert = trx.insertInto('deliveries').values(
    chunk.map(({ event: e, channel, targetId, claimed }) => ({
      event_id: e.id,
      machine_id: e.machineId,
      channel,
      target_id: targetId,
      status: 'pending' as const,
      attempts: 0,
      next_attempt_at: e.occurredAt,
      claimed_until: claimed ? until : null,
      claimed_by: claimed ? handoff!.instanceId : null,
      created_at: e.occurredAt,
      updated_at: e.occurredAt,
    })),
  );
  const wanted = new Map(chunk.filter((d) => d.claimed).map((d) => [deliveryKey(d.event.id, d.channel, d.targetId), d]));
  if (wanted.size === 0) {
    await insert.execute();
    return [];
  }
  // The claimed rows' ids, matched by (event, channel, target): unique, whatever order RETURNING keeps.
  const out: ClaimedDelivery[] = [];
  for (const row of await insert.returning(['id', 'event_id', 'channel', 'target_id']).execute()) {
    const d = wanted.get(deliveryKey(row.event_id, row.channel, row.target_id));
    if (!d) continue;
    const e = d.event;
    out.push({ id: row.id, event_id: e.id, machine_id: e.machineId, channel: d.channel, target_id: d.targetId, attempts: 0, event_type: e.type, occurred_at: e.occurredAt, payload: e.payload, failure_classes: null });
  }
  return out;
}

const deliveryKey = (eventId: string, channel: ChannelKind, targetId: number) => `${eventId} ${channel} ${targetId}`;

/**
 * Marks the new deliveries the handoff takes: of its channels, at most its limit, and only the first
 * of each stream and only where the stream has no pending delivery already (one seek of
 * idx_deliveries_stream per machine). The caller holds the machines' rows (locked on PostgreSQL,
 * the write lock on SQLite), and every writer of a machine's events takes its row first, so no
 * other writer adds to these streams meanwhile.
 */
async function markHandedOver(trx: Transaction<Database>, deliveries: NewDelivery[], handoff: HandoffBatch): Promise<void> {
  const byTarget = new Map<string, { channel: ChannelKind; targetId: number; machines: Set<number> }>();
  for (const d of deliveries) {
    if (!handoff.channels.includes(d.channel)) continue;
    const key = `${d.channel}:${d.targetId}`;
    const target = byTarget.get(key) ?? { channel: d.channel, targetId: d.targetId, machines: new Set<number>() };
    target.machines.add(d.event.machineId);
    byTarget.set(key, target);
  }
  const busy = new Set<string>();
  for (const target of byTarget.values()) {
    for (const ids of chunks([...target.machines], ROWS_PER_INSERT)) {
      const pending = await trx
        .selectFrom('deliveries')
        .select('machine_id')
        .where('channel', '=', target.channel)
        .where('target_id', '=', target.targetId)
        .where('machine_id', 'in', ids)
        .where('status', '=', 'pending')
        .execute();
      for (const row of pending) busy.add(`${target.channel}:${target.targetId}:${row.machine_id}`);
    }
  }
  for (const d of deliveries) {
    if (handoff.limit <= 0) return;
    const stream = `${d.channel}:${d.targetId}:${d.event.machineId}`;
    if (!byTarget.has(`${d.channel}:${d.targetId}`) || busy.has(stream)) continue;
    // A later delivery of the same stream in this write waits behind this one.
    busy.add(stream);
    d.claimed = true;
    handoff.limit--;
  }
}

/**
 * Deletes up to `limit` events older than `cutoff` whose deliveries are all final (delivered, failed,
 * dead); their deliveries go with them (ON DELETE CASCADE). Returns how many were deleted. Walks
 * events in insertion order, so the oldest come first; run rarely (it may read every event when none is old).
 */
export async function deleteFinishedEvents(db: Kysely<Database>, cutoff: Date, limit: number): Promise<number> {
  const result = await db
    .deleteFrom('events')
    .where('id', 'in', (eb) =>
      eb
        .selectFrom('events as ev')
        .select('ev.id')
        .where('ev.occurred_at', '<', cutoff.toISOString())
        .where(({ not, exists, selectFrom }) =>
          not(exists(selectFrom('deliveries as d').select('d.id').whereRef('d.event_id', '=', 'ev.id').where('d.status', '=', 'pending'))),
        )
        .limit(limit),
    )
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}
