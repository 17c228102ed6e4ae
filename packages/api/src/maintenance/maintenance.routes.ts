import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../http/context';
import { notFound, parsedOrBadRequest } from '../http/errors';
import { pathId } from '../http/params';
import { parseNewWindow } from './maintenance.input';
import { createWindow, deleteWindow, findWindow, listWindows } from './maintenance.repository';
import { windowView } from './maintenance.view';

const windowId = (params: unknown) => pathId(params, 'maintenance', 'maintenance window');

/** Maintenance windows of the calling user (CONTRACT §6.3); another user's window is a 404 like a missing one. */
export function registerMaintenanceRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.post('/maintenance', { config: { area: 'maintenance' } }, async (request, reply) => {
    const now = ctx.clock.now();
    const input = parsedOrBadRequest('maintenance', () => parseNewWindow(request.body, now));
    const stored = await createWindow(ctx.db, { ...input, userId: request.userId, now });
    ctx.logger.info(`Maintenance window ${stored.window.id} (${stored.window.name}) created`, { user_id: request.userId });
    return reply.code(201).send(windowView(stored, now));
  });

  app.get('/maintenance', async (request) => {
    const now = ctx.clock.now();
    return (await listWindows(ctx.db, request.userId)).map((w) => windowView(w, now));
  });

  app.get('/maintenance/:id', async (request) => {
    const stored = await findWindow(ctx.db, request.userId, windowId(request.params));
    if (!stored) throw notFound('maintenance', 'maintenance window');
    return windowView(stored, ctx.clock.now());
  });

  app.delete('/maintenance/:id', async (request, reply) => {
    const id = windowId(request.params);
    if (!(await deleteWindow(ctx.db, request.userId, id, ctx.clock.now()))) throw notFound('maintenance', 'maintenance window');
    ctx.logger.info(`Maintenance window ${id} deleted`, { user_id: request.userId });
    return reply.code(204).send();
  });
}
