import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../http/context';
import { queryInt } from '../http/params';
import { recentEvents, type EventWithDeliveries } from './events.repository';

function eventView({ event, deliveries }: EventWithDeliveries) {
  return {
    id: event.id,
    type: event.type,
    machine_id: event.machine_id,
    occurred_at: event.occurred_at,
    // The payload is exactly what webhooks received (machine snapshot, downtime): no secret in it.
    payload: JSON.parse(event.payload) as unknown,
    deliveries: deliveries.map((d) => ({
      id: d.id,
      channel: d.channel,
      target_id: d.target_id,
      status: d.status,
      attempts: d.attempts,
      last_error: d.last_error,
      next_attempt_at: d.next_attempt_at,
      delivered_at: d.delivered_at,
      updated_at: d.updated_at,
    })),
  };
}

export function registerEventRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get('/events', async (request) => {
    const limit = queryInt(request.query, 'limit', { min: 1, max: 500, default: 50 });
    return (await recentEvents(ctx.db, request.userId, limit)).map(eventView);
  });
}
