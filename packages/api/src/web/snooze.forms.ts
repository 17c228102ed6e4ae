import { NEXT_ONLINE, parseSnoozeRequest } from '@lunasentri/shared';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ApiContext } from '../http/context';
import { ApiError, notFound, parsedOrBadRequest } from '../http/errors';
import { pathId } from '../http/params';
import { snoozeMachine, unsnoozeMachine } from '../machines/snooze.repository';
import { formField, sessionUser } from './session.routes';

/** The snoozes the dashboard offers (the API takes any duration up to 30 days). */
const SNOOZE_CHOICES: Record<string, Record<string, string>> = { '1h': { for: '1h' }, [NEXT_ONLINE]: { until: NEXT_ONLINE } };

/** Where to go back to: the page of machines the form was on, at the machine's card. */
function backTo(body: unknown, machineId: number): string {
  const page = Number(formField(body, 'page'));
  return `${Number.isSafeInteger(page) && page > 1 ? `/?page=${page}` : '/'}#machine-${machineId}`;
}

async function signedIn(ctx: ApiContext, request: FastifyRequest, reply: FastifyReply): Promise<number | undefined> {
  const userId = await sessionUser(ctx, request);
  if (userId === undefined) void reply.redirect('/', 303);
  return userId;
}

/**
 * The dashboard's snooze buttons: `POST /dashboard/machines/:id/snooze` (`snooze=1h|next-online`) and
 * `POST /dashboard/machines/:id/unsnooze`, CSRF-protected, through the API's own snooze repository.
 * Another user's machine is the same clean 404 as a missing one, and nothing changes.
 */
export function registerSnoozeForms(web: FastifyInstance, ctx: ApiContext): void {
  web.post('/dashboard/machines/:id/snooze', { preHandler: web.csrfProtection }, async (request, reply) => {
    const userId = await signedIn(ctx, request, reply);
    if (userId === undefined) return reply;
    const id = pathId(request.params, 'machine', 'machine');
    const choice = SNOOZE_CHOICES[formField(request.body, 'snooze') ?? ''];
    if (!choice) throw new ApiError(400, 'snooze.invalid_payload', 'choose a snooze of 1 hour or until the machine is next online');
    const now = ctx.clock.now();
    const until = parsedOrBadRequest('snooze', () => parseSnoozeRequest(choice, now));
    const machine = await snoozeMachine(ctx.db, { userId, machineId: id, until, now });
    if (!machine) throw notFound('machine');
    ctx.logger.info(`Machine ${id} (${machine.name}) snoozed until ${until} from the dashboard`, { user_id: userId });
    return reply.redirect(backTo(request.body, id), 303);
  });

  web.post('/dashboard/machines/:id/unsnooze', { preHandler: web.csrfProtection }, async (request, reply) => {
    const userId = await signedIn(ctx, request, reply);
    if (userId === undefined) return reply;
    const id = pathId(request.params, 'machine', 'machine');
    const machine = await unsnoozeMachine(ctx.db, { userId, machineId: id, now: ctx.clock.now() });
    if (!machine) throw notFound('machine');
    ctx.logger.info(`Machine ${id} (${machine.name}) unsnoozed from the dashboard`, { user_id: userId });
    return reply.redirect(backTo(request.body, id), 303);
  });
}
