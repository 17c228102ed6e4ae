import { isInMaintenance, maintenanceScheduleOf, type Database, type MaintenanceSchedule, type MaintenanceWindow } from '@lunasentri/shared';
import { sql, type Kysely, type Transaction } from 'kysely';
import type { OutageReminders, OutageRow, QuietColumns } from './quiet.models';

type Db = Kysely<Database> | Transaction<Database>;
type Trx = Transaction<Database>;

/*
 * The rows of the quiet rules (migration 021). Every query the sweep runs for them starts from an
 * index on a due time (`machines.quiet_due_at`, `maintenance_windows.next_end_at`,
 * `machine_offline_notifications.next_reminder_at`) or from the owner of machines already in hand:
 * none reads the fleet.
 */

/** `is_enabled = 1` as a literal, so SQLite uses the partial index (see machines.repository). */
const ENABLED = sql<boolean>`is_enabled = 1`;

/**
 * Whether a machine is in an open maintenance window at `now`, the owner's windows read once per
 * transaction (a batch usually shares a few owners). Windows deleted by the user are over.
 */
export function maintenanceLookup(trx: Trx, now: Date): (machine: { id: number; user_id: number }) => Promise<boolean> {
  const byOwner = new Map<number, Promise<Array<{ schedule: MaintenanceSchedule; machines: Set<number> | null }>>>();
  const load = async (userId: number) => {
    const windows = await trx.selectFrom('maintenance_windows').selectAll().where('user_id', '=', userId).where('deleted_at', 'is', null).execute();
    const listed = windows.filter((w) => w.all_machines === 0).map((w) => w.id);
    const members = listed.length === 0 ? [] : await trx.selectFrom('maintenance_window_machines').select(['window_id', 'machine_id']).where('window_id', 'in', listed).execute();
    return windows.map((w) => ({
      schedule: maintenanceScheduleOf(w),
      machines: w.all_machines === 1 ? null : new Set(members.filter((m) => m.window_id === w.id).map((m) => m.machine_id)),
    }));
  };
  return async (machine) => {
    let windows = byOwner.get(machine.user_id);
    if (!windows) byOwner.set(machine.user_id, (windows = load(machine.user_id)));
    const covering = (await windows).filter((w) => w.machines === null || w.machines.has(machine.id)).map((w) => w.schedule);
    return isInMaintenance(covering, now);
  };
}

/** The dedup rows (announced outages) of these machines, with their reminder schedules. */
export async function outageRows(trx: Trx, machineIds: readonly number[]): Promise<Map<number, OutageReminders>> {
  if (machineIds.length === 0) return new Map();
  const rows = await trx
    .selectFrom('machine_offline_notifications')
    .select(['machine_id', 'notified_at', 'reminders_sent', 'next_reminder_at'])
    .where('machine_id', 'in', machineIds)
    .execute();
  return new Map(rows.map((r) => [r.machine_id, { notified_at: r.notified_at, reminders_sent: Number(r.reminders_sent), next_reminder_at: r.next_reminder_at }]));
}

/** Rows per multi-row statement: well under the bound-parameter limits of both engines. */
const ROWS_PER_STATEMENT = 400;

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * Writes what quiet decisions made of a batch's dedup rows: the deletes in one statement, the
 * (re)writes in one multi-row upsert, whatever the batch size.
 */
export async function writeOutageRows(trx: Trx, rows: ReadonlyArray<{ machineId: number; row: OutageRow }>): Promise<void> {
  const deletes = rows.filter((r) => r.row.kind === 'delete').map((r) => r.machineId);
  for (const ids of chunks(deletes, ROWS_PER_STATEMENT)) await trx.deleteFrom('machine_offline_notifications').where('machine_id', 'in', ids).execute();
  const writes = rows.flatMap(({ machineId, row }) => (row.kind === 'write' ? [{ machine_id: machineId, notified_at: row.notifiedAt, reminders_sent: 0, next_reminder_at: row.nextReminderAt }] : []));
  for (const values of chunks(writes, ROWS_PER_STATEMENT)) {
    await trx
      .insertInto('machine_offline_notifications')
      .values(values)
      .onConflict((oc) =>
        oc.column('machine_id').doUpdateSet((eb) => ({
          notified_at: eb.ref('excluded.notified_at'),
          reminders_sent: eb.ref('excluded.reminders_sent'),
          next_reminder_at: eb.ref('excluded.next_reminder_at'),
        })),
      )
      .execute();
  }
}

const QUIET_KEYS: ReadonlyArray<keyof QuietColumns> = ['snoozed_until', 'announced_status', 'announced_at', 'flapping_since', 'flap_changes', 'quiet_ended_at', 'quiet_due_at'];

/**
 * Writes the quiet columns that changed, for a whole batch: machines whose changes are the same
 * (a burst: every machine announced offline at the same instant) share one UPDATE, so a batch
 * costs a few statements, not one per machine.
 */
export async function writeQuietColumns(trx: Trx, changes: ReadonlyArray<{ machineId: number; before: QuietColumns; after: QuietColumns }>): Promise<void> {
  const groups = new Map<string, { set: Partial<QuietColumns>; ids: number[] }>();
  for (const { machineId, before, after } of changes) {
    const set: Partial<QuietColumns> = {};
    for (const key of QUIET_KEYS) if (before[key] !== after[key]) (set as Record<string, unknown>)[key] = after[key];
    if (Object.keys(set).length === 0) continue;
    const key = JSON.stringify(set);
    const group = groups.get(key) ?? { set, ids: [] };
    group.ids.push(machineId);
    groups.set(key, group);
  }
  for (const { set, ids } of groups.values()) {
    for (const part of chunks(ids, ROWS_PER_STATEMENT)) await trx.updateTable('machines').set(set).where('id', 'in', part).execute();
  }
}

/** Records a reminder written (or the end of an outage's reminders: `next` null). */
export async function writeReminderSchedule(trx: Trx, machineId: number, schedule: { sent: number; next: string | null }): Promise<void> {
  await trx.updateTable('machine_offline_notifications').set({ reminders_sent: schedule.sent, next_reminder_at: schedule.next }).where('machine_id', '=', machineId).execute();
}

/** Enabled machines whose quiet due time has come, earliest first (a range on idx_machines_quiet_due). */
export function dueMachineIdsQuery(db: Db, now: string, limit: number) {
  return db.selectFrom('machines').select('id').where('quiet_due_at', '<=', now).where(ENABLED).orderBy('quiet_due_at').limit(limit);
}

/** Announced outages whose next reminder is due, earliest first (a range on idx_offline_notifications_reminder). */
export function dueRemindersQuery(db: Db, now: string, limit: number) {
  return db.selectFrom('machine_offline_notifications').select('machine_id').where('next_reminder_at', '<=', now).orderBy('next_reminder_at').limit(limit);
}

/** Maintenance windows with an end to act on, earliest first (a range on idx_maintenance_windows_next_end). */
export function dueWindowsQuery(db: Db, now: string, limit: number) {
  return db.selectFrom('maintenance_windows').select('id').where('next_end_at', '<=', now).orderBy('next_end_at').limit(limit);
}

/** The earliest due time of any quiet rule: three index seeks. */
export async function earliestQuietDue(db: Db): Promise<string | null> {
  const machine = await db.selectFrom('machines').select('quiet_due_at as at').where('quiet_due_at', 'is not', null).where(ENABLED).orderBy('quiet_due_at').limit(1).executeTakeFirst();
  const reminder = await db
    .selectFrom('machine_offline_notifications')
    .select('next_reminder_at as at')
    .where('next_reminder_at', 'is not', null)
    .orderBy('next_reminder_at')
    .limit(1)
    .executeTakeFirst();
  const window = await db.selectFrom('maintenance_windows').select('next_end_at as at').where('next_end_at', 'is not', null).orderBy('next_end_at').limit(1).executeTakeFirst();
  const times = [machine?.at, reminder?.at, window?.at].filter((t): t is string => typeof t === 'string');
  return times.length === 0 ? null : times.reduce((a, b) => (Date.parse(a) <= Date.parse(b) ? a : b));
}

/** A window as the daemon acts on it. */
export type WindowRow = MaintenanceWindow;

/** The machines a window covers: its list, or every machine of its owner. */
export function windowMachinesFilter(window: WindowRow) {
  return window.all_machines === 1
    ? (qb: Db) => qb.selectFrom('machines').select('id').where('user_id', '=', window.user_id)
    : (qb: Db) => qb.selectFrom('maintenance_window_machines').select('machine_id as id').where('window_id', '=', window.id);
}
