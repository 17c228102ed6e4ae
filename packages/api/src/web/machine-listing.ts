import { daemonIsChecking, formatUtc, readDaemonCheck } from '@lunasentri/shared';
import type { ApiContext } from '../http/context';
import { queryInt } from '../http/params';
import { machinePage } from '../machines/machines.repository';
import { machinesPackedHistory } from '../uptime/uptime.repository';
import type { HistoryMemo } from './history.memo';
import { ago, machineRow, MACHINES_PER_PAGE, pagerOf, pageWindow, utc, type Bar, type Pager } from './machine-rows.view';

/** What the dashboard and the status pages both read: a page of machines with their history, and how fresh the statuses are. */

/** `?page=N` of a listing of machines (1 when absent; anything but a whole number from 1 is a 400). */
export function pageNumber(query: unknown): number {
  return queryInt(query, 'page', { min: 1, max: 100_000, default: 1 });
}

/**
 * One page of machines with the history its rows need: three queries whatever the number of machines.
 * What the rows derive from an unchanged history is taken from `memo`.
 */
export async function machinesWithHistory(ctx: ApiContext, memo: HistoryMemo, listing: { userId: number; enabledOnly: boolean; page: number; path: string }, now: Date) {
  const window = pageWindow(now);
  const { machines, total } = await machinePage(ctx.db, { userId: listing.userId, enabledOnly: listing.enabledOnly, offset: (listing.page - 1) * MACHINES_PER_PAGE, limit: MACHINES_PER_PAGE });
  const history = await machinesPackedHistory(ctx.db, machines.map((m) => m.id), window.since);
  const rows = machines.map((m) => {
    const packed = history.get(m.id) ?? '';
    const rowHistory = { segments: memo.segments(m.id, packed), closedBars: (key: string, make: () => Bar[]) => memo.closedBars(m.id, packed, key, make) };
    return machineRow(m, rowHistory, now, window.days);
  });
  const pager: Pager = pagerOf(listing.path, listing.page, total);
  return { machines, rows, pager };
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
