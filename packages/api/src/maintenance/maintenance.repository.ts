import type { Kysely } from 'kysely';
import { maintenanceColumnsOf, maintenanceScheduleOf, maintenanceState, occurrenceAt, type Database, type MaintenanceWindow } from '@lunasentri/shared';
import { ApiError } from '../http/errors';
import type { NewWindowInput } from './maintenance.input';

/** A window with the machines it covers (null: all of the user's). */
export interface StoredWindow {
  window: MaintenanceWindow;
  machineIds: number[] | null;
}

/**
 * Creates a window and its machine list in one transaction. Every listed machine must be the user's:
 * one that is not (another user's, or none) is a 404 and nothing is stored. `next_end_at` is the
 * first end the daemon will act on.
 */
export async function createWindow(db: Kysely<Database>, input: NewWindowInput & { userId: number; now: Date }): Promise<StoredWindow> {
  const nowIso = input.now.toISOString();
  const state = maintenanceState(input.schedule, input.now);
  return db.transaction().execute(async (trx) => {
    if (input.machineIds !== null) {
      const owned = new Set(
        (await trx.selectFrom('machines').select('id').where('user_id', '=', input.userId).where('id', 'in', input.machineIds).execute()).map((r) => r.id),
      );
      const missing = input.machineIds.find((id) => !owned.has(id));
      if (missing !== undefined) throw new ApiError(404, 'machine.not_found', `machine ${missing} not found`);
    }
    const window = await trx
      .insertInto('maintenance_windows')
      .values({
        user_id: input.userId,
        name: input.name,
        ...maintenanceColumnsOf(input.schedule),
        all_machines: input.machineIds === null ? 1 : 0,
        next_end_at: state.next_end,
        // The daemon writes each occurrence to the outage history once it has started: now for an open one.
        history_due_at: state.active ? nowIso : state.next_start,
        deleted_at: null,
        created_at: nowIso,
        updated_at: nowIso,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    if (input.machineIds !== null && input.machineIds.length > 0) {
      await trx
        .insertInto('maintenance_window_machines')
        .values(input.machineIds.map((machineId) => ({ window_id: window.id, machine_id: machineId })))
        .execute();
    }
    return { window, machineIds: input.machineIds === null ? null : [...input.machineIds].sort((a, b) => a - b) };
  });
}

async function withMachines(db: Kysely<Database>, windows: MaintenanceWindow[]): Promise<StoredWindow[]> {
  const listed = windows.filter((w) => w.all_machines === 0).map((w) => w.id);
  const members =
    listed.length === 0
      ? []
      : await db.selectFrom('maintenance_window_machines').select(['window_id', 'machine_id']).where('window_id', 'in', listed).orderBy('machine_id').execute();
  return windows.map((window) => ({
    window,
    machineIds: window.all_machines === 1 ? null : members.filter((m) => m.window_id === window.id).map((m) => m.machine_id),
  }));
}

/** The user's windows (not deleted), oldest first. */
export async function listWindows(db: Kysely<Database>, userId: number): Promise<StoredWindow[]> {
  const windows = await db.selectFrom('maintenance_windows').selectAll().where('user_id', '=', userId).where('deleted_at', 'is', null).orderBy('id').execute();
  return withMachines(db, windows);
}

export async function findWindow(db: Kysely<Database>, userId: number, id: number): Promise<StoredWindow | undefined> {
  const window = await db
    .selectFrom('maintenance_windows')
    .selectAll()
    .where('id', '=', id)
    .where('user_id', '=', userId)
    .where('deleted_at', 'is', null)
    .executeTakeFirst();
  return window ? (await withMachines(db, [window]))[0] : undefined;
}

/**
 * Deletes a window. One that is open now ends now, and one whose last end the daemon has not acted on
 * yet still has that end to act on: those are only marked deleted (and due now at the latest), so the
 * daemon announces what changed during them and then removes them; the open occurrence's outage
 * history ends now. Returns false when there is no such window.
 */
export async function deleteWindow(db: Kysely<Database>, userId: number, id: number, now: Date): Promise<boolean> {
  const nowIso = now.toISOString();
  return db.transaction().execute(async (trx) => {
    const window = await trx.selectFrom('maintenance_windows').selectAll().where('id', '=', id).where('user_id', '=', userId).where('deleted_at', 'is', null).executeTakeFirst();
    if (!window) return false;
    const open = occurrenceAt(maintenanceScheduleOf(window), now) !== null;
    const endPending = window.next_end_at !== null && Date.parse(window.next_end_at) <= now.getTime();
    if (!open && !endPending) {
      await trx.deleteFrom('maintenance_windows').where('id', '=', id).execute();
      return true;
    }
    await trx
      .updateTable('maintenance_windows')
      .set({ deleted_at: nowIso, updated_at: nowIso, next_end_at: open ? nowIso : window.next_end_at })
      .where('id', '=', id)
      .execute();
    // The open occurrence's history ends now too (it was recorded with its planned end).
    if (open) await trx.updateTable('outage_history').set({ ended_at: nowIso }).where('window_id', '=', id).where('ended_at', '>', nowIso).execute();
    return true;
  });
}
