import type { ChannelKind, Database, MachineStatus } from '@lunasentri/shared';
import type { Kysely } from 'kysely';
import { PENDING } from '../dispatch/deliveries.repository';
import { ENABLED } from '../sweep/machines.repository';

/*
 * What a scrape reads from the database. Every query here is answered from an index and never reads
 * the machines table row by row: counts come from index entries alone, per-machine rows are read only
 * for a fleet small enough to list, and the outbox figures cover pending rows only (a partial index),
 * never the delivered history.
 */

export type MachineCountLabel = MachineStatus | 'disabled';

/** Machines by `lunasentri_machines` label: enabled ones by status, every disabled one as `disabled`. */
export type MachineCounts = Record<MachineCountLabel, number>;

/** How many machines there are, and how many of them are enabled. */
export interface FleetTotals {
  all: number;
  enabled: number;
}

/**
 * Two counts that read index entries only: all machines (SQLite counts the smallest index's pages),
 * enabled machines (the partial (status, last_seen) index, which holds enabled machines only). The
 * second walks one entry per enabled machine: about 60 ms of CPU at a million, which is why the
 * caller does not run it on every scrape of a large fleet.
 */
export async function countFleet(db: Kysely<Database>): Promise<FleetTotals> {
  const all = await allMachinesQuery(db).executeTakeFirst();
  const enabled = await enabledMachinesQuery(db).executeTakeFirst();
  return { all: Number(all?.n ?? 0), enabled: Number(enabled?.n ?? 0) };
}

export function allMachinesQuery(db: Kysely<Database>) {
  return db.selectFrom('machines').select((eb) => eb.fn.countAll<number>().as('n'));
}

export function enabledMachinesQuery(db: Kysely<Database>) {
  return db.selectFrom('machines').select((eb) => eb.fn.countAll<number>().as('n')).where(ENABLED);
}

/**
 * Enabled machines that are `pending` or `offline`: two index ranges, whose cost follows how many
 * machines are in those states (a handful, usually), never the fleet size.
 */
export async function countUnsettled(db: Kysely<Database>): Promise<{ pending: number; offline: number }> {
  const rows = await unsettledQuery(db).execute();
  const counts = { pending: 0, offline: 0 };
  for (const row of rows) counts[row.status as 'pending' | 'offline'] = Number(row.n);
  return counts;
}

export function unsettledQuery(db: Kysely<Database>) {
  return db
    .selectFrom('machines')
    .select((eb) => ['status', eb.fn.countAll<number>().as('n')])
    .where('status', 'in', ['pending', 'offline'])
    .where(ENABLED)
    .groupBy('status');
}

/** The counts by label: online is what is left of the enabled machines (counted apart, see above). */
export function machineCounts(totals: FleetTotals, unsettled: { pending: number; offline: number }): MachineCounts {
  const online = Math.max(0, totals.enabled - unsettled.pending - unsettled.offline);
  return { pending: unsettled.pending, online, offline: unsettled.offline, disabled: Math.max(0, totals.all - totals.enabled) };
}

export interface WatchedMachine {
  id: number;
  name: string;
  status: MachineStatus;
  last_seen: string | null;
}

/**
 * Enabled machines that are `online` or `offline` (what `lunasentri_machine_up` shows), at most
 * `limit`: the caller asks for one more than it will list, so a fleet that grew past the limit since
 * it was counted is still recognised.
 */
export function watchedMachinesQuery(db: Kysely<Database>, limit: number) {
  return db
    .selectFrom('machines')
    .select(['id', 'name', 'status', 'last_seen'])
    .where('status', 'in', ['online', 'offline'])
    .where(ENABLED)
    .limit(limit);
}

export async function watchedMachines(db: Kysely<Database>, limit: number): Promise<WatchedMachine[]> {
  return (await watchedMachinesQuery(db, limit).execute()) as WatchedMachine[];
}

export interface OutboxFigures {
  pending: number;
  /** when the oldest pending delivery was created; null when none is pending */
  oldestCreatedAt: string | null;
}

/**
 * Pending deliveries per channel, and the oldest one's creation time. The count and the smallest id
 * come from idx_deliveries_due, which holds pending rows only; ids grow with creation, so the smallest
 * pending id is the oldest pending delivery, whose `created_at` is then one primary-key read.
 */
export async function outboxFigures(db: Kysely<Database>): Promise<Map<ChannelKind, OutboxFigures>> {
  const rows = await pendingByChannelQuery(db).execute();
  const figures = new Map<ChannelKind, OutboxFigures>();
  const oldestIds = rows.map((row) => Number(row.oldest_id));
  const created = oldestIds.length === 0 ? [] : await db.selectFrom('deliveries').select(['id', 'created_at']).where('id', 'in', oldestIds).execute();
  const createdById = new Map(created.map((row) => [row.id, row.created_at]));
  for (const row of rows) figures.set(row.channel, { pending: Number(row.n), oldestCreatedAt: createdById.get(Number(row.oldest_id)) ?? null });
  return figures;
}

export function pendingByChannelQuery(db: Kysely<Database>) {
  return db
    .selectFrom('deliveries')
    .select((eb) => ['channel', eb.fn.countAll<number>().as('n'), eb.fn.min('id').as('oldest_id')])
    .where('status', '=', PENDING)
    .groupBy('channel');
}
