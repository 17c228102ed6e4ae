import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../http/context';
import { ApiError } from '../http/errors';
import { onlyQueryParameters, queryId, queryInt, queryValue } from '../http/params';
import { decodeEventCursor, encodeEventCursor, type EventCursor } from './events.cursor';
import { eventPage, type EventWithDeliveries } from './events.repository';

const QUERY_PARAMETERS = ['limit', 'machine_id', 'before'] as const;

function eventView({ event, deliveries }: EventWithDeliveries) {
  return {
    id: event.id,
    type: event.type,
    machine_id: event.machine_id,
    occurred_at: event.occurred_at,
    // CONTRACT §6: held back by a quiet rule ("flapping" | "maintenance" | "snooze"): recorded, sent to nobody.
    suppressed: event.suppressed,
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
      // Telegram: the message this row went (or goes) out in; rows with the same id went in one message (a digest).
      digest_id: d.digest_id,
    })),
  };
}

function beforeCursor(query: unknown): EventCursor | undefined {
  if ((query as Record<string, unknown>).before === undefined) return undefined;
  const text = queryValue(query, 'before');
  const cursor = text === undefined ? undefined : decodeEventCursor(text);
  if (!cursor) throw new ApiError(400, 'request.invalid_query', 'before must be a cursor from the X-Next-Cursor or Link header of a previous page');
  return cursor;
}

/** The same listing, one page further: what the `Link: <…>; rel="next"` header points to. */
function nextPageUrl(limit: number, machineId: number | undefined, cursor: string): string {
  const params = new URLSearchParams({ limit: String(limit) });
  if (machineId !== undefined) params.set('machine_id', String(machineId));
  params.set('before', cursor);
  return `/events?${params.toString()}`;
}

export function registerEventRoutes(app: FastifyInstance, ctx: ApiContext): void {
  /**
   * The body stays a bare array (as it always was); the way to the next page travels in headers, so
   * clients that read only the body are unaffected.
   */
  app.get('/events', async (request, reply) => {
    onlyQueryParameters(request.query, QUERY_PARAMETERS);
    const limit = queryInt(request.query, 'limit', { min: 1, max: 500, default: 50 });
    const machineId = queryId(request.query, 'machine_id');
    const page = await eventPage(ctx.db, { userId: request.userId, limit, machineId, before: beforeCursor(request.query) });
    if (page.next) {
      const cursor = encodeEventCursor(page.next);
      void reply.header('x-next-cursor', cursor).header('link', `<${nextPageUrl(limit, machineId, cursor)}>; rel="next"`);
    }
    return page.events.map(eventView);
  });
}
