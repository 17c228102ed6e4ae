import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../http/context';
import { notFound } from '../http/errors';
import { onlyQueryParameters, pathId, queryInt } from '../http/params';
import { findMachine } from '../machines/machines.repository';
import { machineHistory } from './uptime.repository';
import { dailyUptime, timelineOf, utcDays } from './uptime.models';

/** The outage history is kept 400 days: no more can be asked for. */
export const UPTIME_DAYS_MAX = 400;
export const UPTIME_DAYS_DEFAULT = 90;

/** `GET /machines/:id/uptime?days=N`: N UTC days of uptime, oldest first, today last. */
export function registerUptimeRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get('/machines/:id/uptime', async (request) => {
    const id = pathId(request.params, 'machine', 'machine');
    onlyQueryParameters(request.query, ['days']);
    const days = queryInt(request.query, 'days', { min: 1, max: UPTIME_DAYS_MAX, default: UPTIME_DAYS_DEFAULT });
    const machine = await findMachine(ctx.db, request.userId, id);
    if (!machine) throw notFound('machine');
    const now = ctx.clock.now();
    const window = utcDays(now, days);
    const intervals = await machineHistory(ctx.db, id, new Date(window[0]!.from).toISOString());
    const timeline = timelineOf({ now, createdAt: machine.created_at, hasReported: machine.status !== 'pending', intervals });
    return { days: dailyUptime(timeline, window) };
  });
}
