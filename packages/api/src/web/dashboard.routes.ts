import type { Delivery, Machine, MachineEvent, TelegramRecipient, Webhook } from '@lunasentri/shared';
import type { FastifyInstance } from 'fastify';
import { eventPage } from '../events/events.repository';
import type { ApiContext } from '../http/context';
import { listTelegramRecipients } from '../notifications/telegram.repository';
import { listWebhooks } from '../notifications/webhooks.repository';
import { listWindows } from '../maintenance/maintenance.repository';
import { windowView } from '../maintenance/maintenance.view';
import { listSnoozedMachines } from '../machines/snooze.repository';
import { freshness, machinesWithHistory, pageNumber } from './machine-listing';
import { snoozeLabel, utc } from './machine-rows.view';
import { csrfToken, renderLogin, sessionUser } from './session.routes';
import type { WebKit } from './web.plugin';

/** Events listed on the dashboard (the API's `GET /events` pages through the rest). */
const DASHBOARD_EVENTS = 25;

function eventRow(event: MachineEvent, deliveries: Delivery[], names: Map<number, string>) {
  return {
    type: event.type,
    occurredAt: event.occurred_at,
    occurredUtc: utc(event.occurred_at),
    machineName: names.get(event.machine_id) ?? `machine ${event.machine_id} (deleted)`,
    suppressed: event.suppressed,
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

/** The user's snoozes and maintenance windows, as the dashboard lists them. */
async function quietRows(ctx: ApiContext, userId: number, now: Date) {
  const [snoozed, windows] = await Promise.all([listSnoozedMachines(ctx.db, userId, now), listWindows(ctx.db, userId)]);
  return {
    snoozes: snoozed.map((m) => ({ id: m.id, name: m.name, until: snoozeLabel(m.snoozed_until, now) })),
    windows: windows.map((stored) => {
      const view = windowView(stored, now);
      const ids = view.machine_ids;
      return {
        name: view.name,
        kind: view.kind,
        active: view.active,
        nextStart: utc(view.next_start),
        nextEnd: utc(view.next_end),
        machines: ids === null ? 'all machines' : `${ids.length} machine${ids.length === 1 ? '' : 's'}`,
      };
    }),
  };
}

/**
 * Everything the dashboard shows, in a fixed number of queries whatever the number of machines
 * (machines, their history, events with deliveries, the two channel kinds, the daemon's last check,
 * snoozes, maintenance windows).
 */
async function dashboardData(ctx: ApiContext, kit: WebKit, userId: number, pageNo: number) {
  const now = ctx.clock.now();
  const [listing, page, webhooks, chats, fresh, quiet] = await Promise.all([
    machinesWithHistory(ctx, kit.history, { userId, enabledOnly: false, page: pageNo, path: '/' }, now),
    eventPage(ctx.db, { userId, limit: DASHBOARD_EVENTS }),
    listWebhooks(ctx.db, userId),
    listTelegramRecipients(ctx.db, userId),
    freshness(ctx, now),
    quietRows(ctx, userId, now),
  ]);
  const names = await machineNames(ctx, userId, listing.machines, page.events);
  return {
    ...fresh,
    machines: listing.rows,
    pager: listing.pager,
    events: page.events.map(({ event, deliveries }) => eventRow(event, deliveries, names)),
    channels: channelRows(webhooks, chats),
    page: pageNo,
    ...quiet,
  };
}

/** `GET /`: the dashboard when signed in, else the sign-in form. */
export function registerDashboardRoutes(web: FastifyInstance, ctx: ApiContext, kit: WebKit): void {
  web.get('/', async (request, reply) => {
    const userId = await sessionUser(ctx, request);
    if (userId === undefined) return renderLogin(kit, request, reply);
    const data = await dashboardData(ctx, kit, userId, pageNumber(request.query));
    return kit.render(reply, 'dashboard', { title: 'LunaSentri dashboard', heading: 'LunaSentri', signedIn: true, csrf: csrfToken(kit, request, reply), ...data });
  });
}
