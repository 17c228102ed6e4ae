import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../http/context';
import { parseSnoozeRequest } from '@lunasentri/shared';
import { notFound, parsedOrBadRequest } from '../http/errors';
import { onlyQueryParameters, pathId, queryInt, queryTime } from '../http/params';
import {
  createMachine,
  deleteMachine,
  findMachine,
  latestMetrics,
  listMachines,
  metricsHistory,
  rotateMachineKey,
  setMachineEnabled,
  updateMachine,
} from './machines.repository';
import { patchBodySchema, registerBodySchema, type PatchBody, type RegisterBody } from './machines.schemas';
import { machineView, metricsView } from './machines.view';
import { snoozeMachine, unsnoozeMachine } from './snooze.repository';

const config = { area: 'machine' };
/** Samples per answer of `GET /machines/:id/metrics`: by default about a quarter hour of a 10 s agent. */
const METRICS_LIMIT_DEFAULT = 100;
const METRICS_LIMIT_MAX = 1_000;
const machineId = (params: unknown) => pathId(params, 'machine', 'machine');

/** Machines of the calling user. Another user's machine answers 404, exactly like a missing one. */
export function registerMachineRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.post('/agent/register', { schema: { body: registerBodySchema }, config }, async (request, reply) => {
    const body = request.body as RegisterBody;
    const { machine, apiKey } = await createMachine(ctx.db, ctx.clock, request.userId, {
      name: body.name,
      hostname: body.hostname,
      description: body.description,
    });
    ctx.logger.info(`Machine ${machine.id} (${machine.name}) registered`, { user_id: request.userId });
    return reply.code(201).send({ ...machineView(machine, ctx.clock.now()), api_key: apiKey });
  });

  app.get('/machines', async (request) => {
    const machines = await listMachines(ctx.db, request.userId);
    const now = ctx.clock.now();
    return machines.map((m) => machineView(m, now));
  });

  app.get('/machines/:id', async (request) => {
    const id = machineId(request.params);
    const machine = await findMachine(ctx.db, request.userId, id);
    if (!machine) throw notFound('machine');
    const latest = await latestMetrics(ctx.db, id);
    return { ...machineView(machine, ctx.clock.now()), latest_metrics: latest ? metricsView(latest) : null };
  });

  app.get('/machines/:id/metrics', async (request) => {
    const id = machineId(request.params);
    onlyQueryParameters(request.query, ['since', 'limit']);
    const since = queryTime(request.query, 'since');
    const limit = queryInt(request.query, 'limit', { min: 1, max: METRICS_LIMIT_MAX, default: METRICS_LIMIT_DEFAULT });
    if (!(await findMachine(ctx.db, request.userId, id))) throw notFound('machine');
    return (await metricsHistory(ctx.db, { machineId: id, since, limit })).map(metricsView);
  });

  app.patch('/machines/:id', { schema: { body: patchBodySchema }, config }, async (request) => {
    const machine = await updateMachine(ctx.db, ctx.clock, request.userId, machineId(request.params), request.body as PatchBody);
    if (!machine) throw notFound('machine');
    return machineView(machine, ctx.clock.now());
  });

  app.delete('/machines/:id', async (request, reply) => {
    const id = machineId(request.params);
    if (!(await deleteMachine(ctx.db, request.userId, id))) throw notFound('machine');
    ctx.keyCache.invalidateMachine(id);
    ctx.logger.info(`Machine ${id} deleted`, { user_id: request.userId });
    return reply.code(204).send();
  });

  for (const [action, enabled] of [
    ['disable', false],
    ['enable', true],
  ] as const) {
    app.post(`/machines/:id/${action}`, async (request) => {
      const id = machineId(request.params);
      const machine = await setMachineEnabled(ctx.db, ctx.clock, request.userId, id, enabled);
      if (!machine) throw notFound('machine');
      ctx.keyCache.invalidateMachine(id);
      return machineView(machine, ctx.clock.now());
    });
  }

  // CONTRACT §6.3: {"for": DUR} | {"until": ISO} | {"until": "next-online"}, at most 30 days ahead.
  app.post('/machines/:id/snooze', { config: { area: 'snooze' } }, async (request) => {
    const id = machineId(request.params);
    const now = ctx.clock.now();
    const until = parsedOrBadRequest('snooze', () => parseSnoozeRequest(request.body, now));
    const machine = await snoozeMachine(ctx.db, { userId: request.userId, machineId: id, until, now });
    if (!machine) throw notFound('machine');
    ctx.logger.info(`Machine ${id} (${machine.name}) snoozed until ${until}`, { user_id: request.userId });
    return machineView(machine, now);
  });

  app.delete('/machines/:id/snooze', async (request) => {
    const id = machineId(request.params);
    const now = ctx.clock.now();
    const machine = await unsnoozeMachine(ctx.db, { userId: request.userId, machineId: id, now });
    if (!machine) throw notFound('machine');
    return machineView(machine, now);
  });

  app.post('/machines/:id/rotate-key', async (request) => {
    const id = machineId(request.params);
    const rotated = await rotateMachineKey(ctx.db, ctx.clock, request.userId, id);
    if (!rotated) throw notFound('machine');
    // The old key must stop working now, not when its cache entry expires.
    ctx.keyCache.invalidateMachine(id);
    ctx.logger.info(`Machine ${id} API key rotated`, { user_id: request.userId });
    return { ...machineView(rotated.machine, ctx.clock.now()), api_key: rotated.apiKey };
  });
}
