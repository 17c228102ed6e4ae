import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { readDaemonLastCheck } from '@lunasentri/shared';
import type { ApiContext } from '../http/context';

/** No auth: for load balancers and operators. Says nothing about users or machines. */
export function registerHealthRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get('/health', async (_request, reply) => {
    try {
      await sql`select 1`.execute(ctx.db);
      const daemonLastCheck = await readDaemonLastCheck(ctx.db);
      return {
        status: 'ok',
        time: ctx.clock.now().toISOString(),
        db: 'ok',
        daemon_last_check: daemonLastCheck,
        ingest_pending_machines: ctx.ingest.pendingMachines,
      };
    } catch (error) {
      ctx.logger.warn('Health check: database unreachable', { error: error instanceof Error ? error.message : String(error) });
      return reply.code(503).send({ status: 'error', time: ctx.clock.now().toISOString(), db: 'unreachable', error: 'database unreachable', code: 'health.db_unreachable' });
    }
  });
}
