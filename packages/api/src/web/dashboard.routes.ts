import { daemonIsChecking, formatUtc, readDaemonCheck, type Delivery, type Machine, type MachineEvent, type TelegramRecipient, type Webhook } from '@lunasentri/shared';
import type { FastifyInstance } from 'fastify';
import { eventPage } from '../events/events.repository';
import type { ApiContext } from '../http/context';
import { listMachines } from '../machines/machines.repository';
import { listTelegramRecipients } from '../notifications/telegram.repository';
import { listWebhooks } from '../notifications/webhooks.repository';
import { userHistory } from '../uptime/uptime.repository';
import { DAY_MS, utcDayStart } from '../uptime/uptime.models';
import { ago, BAR_DAYS, machineRow, utc } from './machine-rows.view';
import { csrfToken, renderLogin, sessionUser } from './session.routes';
import type { WebKit } from './web.plugin';

/** Events listed on the dashboard (the API's `GET /events` pages through the rest). */
const DASHBOARD_EVENTS = 25;

/** Where the history the pages read starts: the first of the bar days (it also covers 90 d of uptime). */
export function historySince(now: Date): string {
  return new Date(utcDayStart(now.getTime()) - (BAR_DAYS - 1) * DAY_MS).toISOString();
}

/** The freshness line: when the page was made and whether the monitor is checking. */
export async function freshness(ctx: ApiContext, now: Date) {
  const check = await readDaemonCheck(ctx.db);
  return {
    now: now.toISOString(),
    nowUtc: formatUtc(now.toISOString()),
    checking: daemonIsChecking(check, now),
    lastCheck: check.lastCheck,
    lastCheckAgo: ago(check.lastCheck, now),
    lastCheckUtc: check.lastCheck ? utc(check.lastCheck) : 'never',
  };
}

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
async function dashboardData(ctx: ApiContext, userId: number) {
  const now = ctx.clock.now();
  const [machines, history, page, webhooks, chats, fresh] = await Promise.all([
    listMachines(ctx.db, userId),
    userHistory(ctx.db, userId, historySince(now)),
    eventPage(ctx.db, { userId, limit: DASHBOARD_EVENTS }),
    listWebhooks(ctx.db, userId),
    listTelegramRecipients(ctx.db, userId),
    freshness(ctx, now),
  ]);
  const names = new Map(machines.map((m: Machine) => [m.id, m.name]));
  return {
    ...fresh,
    machines: machines.map((m) => machineRow(m, history.get(m.id) ?? [], now)),
    events: page.events.map(({ event, deliveries }) => eventRow(event, deliveries, names)),
    channels: channelRows(webhooks, chats),
  };
}

/** `GET /`: the dashboard when signed in, else the sign-in form. */
export function registerDashboardRoutes(web: FastifyInstance, ctx: ApiContext, kit: WebKit): void {
  web.get('/', async (request, reply) => {
    const userId = await sessionUser(ctx, request);
    if (userId === undefined) return renderLogin(kit, request, reply);
    const data = await dashboardData(ctx, userId);
    return kit.render(reply, 'dashboard', { title: 'LunaSentri dashboard', heading: 'LunaSentri', signedIn: true, csrf: csrfToken(kit, request, reply), ...data });
  });
}
