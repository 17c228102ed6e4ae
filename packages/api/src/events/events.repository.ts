import type { Kysely } from 'kysely';
import type { Database, Delivery, MachineEvent } from '@lunasentri/shared';

export interface EventWithDeliveries {
  event: MachineEvent;
  deliveries: Delivery[];
}

/** The user's most recent events, newest first, each with every delivery row of its outbox. */
export async function recentEvents(db: Kysely<Database>, userId: number, limit: number): Promise<EventWithDeliveries[]> {
  const events = await db
    .selectFrom('events')
    .selectAll()
    .where('user_id', '=', userId)
    .orderBy('occurred_at', 'desc')
    .orderBy('created_at', 'desc')
    .limit(limit)
    .execute();
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
