import type { Database } from '@lunasentri/shared';
import type { Kysely, Transaction } from 'kysely';
import type { NewEvent } from './outbox.types';

/** Rows per multi-row INSERT: well under the bound-parameter limits of SQLite (32,766) and PostgreSQL (65,535). */
const ROWS_PER_INSERT = 500;

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * The outbox write: the events and one pending delivery per recipient. Deliveries are inserted in
 * event order, so their ids keep each (channel, target, machine) stream in event order.
 */
export async function insertEventsWithDeliveries(trx: Transaction<Database>, events: readonly NewEvent[]): Promise<void> {
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
  const deliveries = events.flatMap((e) =>
    e.recipients.map((r) => ({
      event_id: e.id,
      machine_id: e.machineId,
      channel: r.channel,
      target_id: r.targetId,
      status: 'pending' as const,
      attempts: 0,
      next_attempt_at: e.occurredAt,
      created_at: e.occurredAt,
      updated_at: e.occurredAt,
    })),
  );
  for (const chunk of chunks(deliveries, ROWS_PER_INSERT)) {
    await trx.insertInto('deliveries').values(chunk).execute();
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
