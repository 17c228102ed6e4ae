import type { Kysely } from 'kysely';
import type { Database, Delivery, MachineEvent } from '@lunasentri/shared';
import type { EventCursor } from './events.cursor';

export interface EventWithDeliveries {
  event: MachineEvent;
  deliveries: Delivery[];
}

export interface EventPageQuery {
  userId: number;
  limit: number;
  /** only this machine's events; another user's machine simply has none of this user's */
  machineId?: number;
  /** only events after this one in the listing (older) */
  before?: EventCursor;
}

export interface EventPage {
  events: EventWithDeliveries[];
  /** where the next page starts; undefined when this page holds the last event */
  next: EventCursor | undefined;
}

/**
 * One page of the user's events, newest first, each with every delivery row of its outbox. Reads one
 * row past the limit to know whether another page exists, so the last page never costs an empty one.
 */
export async function eventPage(db: Kysely<Database>, query: EventPageQuery): Promise<EventPage> {
  let select = db.selectFrom('events').selectAll().where('user_id', '=', query.userId);
  if (query.machineId !== undefined) select = select.where('machine_id', '=', query.machineId);
  const before = query.before;
  if (before) {
    // The plain bound gives the planner an index range; the row value is the exact keyset condition.
    select = select
      .where('occurred_at', '<=', before.occurredAt)
      .where((eb) => eb(eb.refTuple('occurred_at', 'created_at', 'id'), '<', eb.tuple(before.occurredAt, before.createdAt, before.id)));
  }
  const rows = await select.orderBy('occurred_at', 'desc').orderBy('created_at', 'desc').orderBy('id', 'desc').limit(query.limit + 1).execute();
  const events = rows.slice(0, query.limit);
  const last = events[events.length - 1];
  const next = rows.length > query.limit ? { occurredAt: last.occurred_at, createdAt: last.created_at, id: last.id } : undefined;
  return { events: await withDeliveries(db, events), next };
}

async function withDeliveries(db: Kysely<Database>, events: MachineEvent[]): Promise<EventWithDeliveries[]> {
  if (events.length === 0) return [];
  const deliveries = await db
    .selectFrom('deliveries')
    .selectAll()
    .where(
      'event_id',
      'in',
      events.map((e) => e.id),
    )
    .orderBy('id')
    .execute();
  const byEvent = new Map<string, Delivery[]>();
  for (const d of deliveries) {
    const list = byEvent.get(d.event_id) ?? [];
    list.push(d);
    byEvent.set(d.event_id, list);
  }
  return events.map((event) => ({ event, deliveries: byEvent.get(event.id) ?? [] }));
}
