import type { Delivery, Machine, MachineEvent, TelegramRecipient, Webhook } from '@lunasentri/shared';
import type { FastifyInstance } from 'fastify';
import { eventPage } from '../events/events.repository';
import type { ApiContext } from '../http/context';
import { listTelegramRecipients } from '../notifications/telegram.repository';
import { listWebhooks } from '../notifications/webhooks.repository';
import { freshness, machinesWithHistory, pageNumber } from './machine-listing';
import { utc } from './machine-rows.view';
import { csrfToken, renderLogin, sessionUser } from './session.routes';
import type { WebKit } from './web.plugin';

/** Events listed on the dashboard (the API's `GET /events` pages through the rest). */
const DASHBOARD_EVENTS = 25;

function eventRow(event: MachineEvent, deliveries: Delivery[], names: Map<number, string>) {
  const suppressed = (event as MachineEvent & { suppressed?: string | null }).suppressed ?? null;
  return {
    type: event.type,
    occurredAt: event.occurred_at,
    occurredUtc: utc(event.occurred_at),
    machineName: names.get(event.machine_id) ?? `machine ${event.machine_id} (deleted)`,
    suppressed,
    deliveries: deliveries.map((d) => ({ channel: d.channel, status: d.status, attempts: d.attempts, lastError: d.last_error })),
  };
}

/** Names of the events' machines: those of this page, and one query for the others (other pages, or deleted). */
async function machineNames(ctx: ApiContext, userId: number, shown: Machine[], events: readonly { event: MachineEvent }[]): Promise<Map<number, string>> {
  const names = new Map(shown.map((m) => [m.id, m.name]));
  const missing = [...new Set(events.map((e) => e.event.machine_id).filter((id) => !names.has(id)))];
  if (missing.length > 0) {
    const rows = await ctx.db.selectFrom('machines').select(['id', 'name']).where('user_id', '=', userId).where('id', 'in', missing).execute();
    for (const row of rows) names.set(row.id, row.name);
  }
  return names;
}

function channelRows(webhooks: Webhook[], chats: TelegramRecipient[]) {
  const common = (c: Webhook | TelegramRecipient) => ({
    active: c.is_active === 1,
    lastSuccess: c.last_success_at ? utc(c.last_success_at) : 'never',
    lastError: c.last_error,
    lastErrorAt: utc(c.last_error_at),
  });
  return [
    ...webhooks.map((w) => ({ kind: 'webhook', target: w.url, ...common(w) })),
    ...chats.map((t) => ({ kind: 'Telegram', target: `chat ${t.chat_id}`, ...common(t) })),
  ];
}

/**
 * Everything the dashboard shows, in a fixed number of queries whatever the number of machines
 * (machines, their history, events with deliveries, the two channel kinds, the daemon's last check).
 */
async function dashboardData(ctx: ApiContext, userId: number, pageNo: number) {
  const now = ctx.clock.now();
  const [listing, page, webhooks, chats, fresh] = await Promise.all([
    machinesWithHistory(ctx, { userId, enabledOnly: false, page: pageNo, path: '/' }, now),
    eventPage(ctx.db, { userId, limit: DASHBOARD_EVENTS }),
    listWebhooks(ctx.db, userId),
    listTelegramRecipients(ctx.db, userId),
    freshness(ctx, now),
  ]);
  const names = await machineNames(ctx, userId, listing.machines, page.events);
  return {
    ...fresh,
    machines: listing.rows,
    pager: listing.pager,
    events: page.events.map(({ event, deliveries }) => eventRow(event, deliveries, names)),
    channels: channelRows(webhooks, chats),
  };
}

/** `GET /`: the dashboard when signed in, else the sign-in form. */
export function registerDashboardRoutes(web: FastifyInstance, ctx: ApiContext, kit: WebKit): void {
  web.get('/', async (request, reply) => {
    const userId = await sessionUser(ctx, request);
    if (userId === undefined) return renderLogin(kit, request, reply);
    const data = await dashboardData(ctx, userId, pageNumber(request.query));
    return kit.render(reply, 'dashboard', { title: 'LunaSentri dashboard', heading: 'LunaSentri', signedIn: true, csrf: csrfToken(kit, request, reply), ...data });
  });
}
