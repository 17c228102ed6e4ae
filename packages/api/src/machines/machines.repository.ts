import type { Kysely, Selectable } from 'kysely';
import type { Clock, Database, Machine, MachineMetricsTable } from '@lunasentri/shared';
import { hashCredential, newMachineKey } from '../credentials/credentials';

export interface NewMachineFields {
  name: string;
  hostname?: string | null;
  description?: string | null;
}

export interface MachineWithKey {
  machine: Machine;
  /** The only time the key exists outside the agent: only its hash is stored. */
  apiKey: string;
}

/** Creates a machine (status `pending`) and its first API key in one transaction. */
export async function createMachine(db: Kysely<Database>, clock: Clock, userId: number, fields: NewMachineFields): Promise<MachineWithKey> {
  const now = clock.now().toISOString();
  const apiKey = newMachineKey();
  const machine = await db.transaction().execute(async (trx) => {
    const row = await trx
      .insertInto('machines')
      .values({
        user_id: userId,
        name: fields.name,
        hostname: fields.hostname ?? null,
        description: fields.description ?? null,
        status: 'pending',
        created_at: now,
        updated_at: now,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    await trx.insertInto('machine_api_keys').values({ machine_id: row.id, key_hash: hashCredential(apiKey), created_at: now }).execute();
    return row;
  });
  return { machine, apiKey };
}

export function listMachines(db: Kysely<Database>, userId: number): Promise<Machine[]> {
  return db.selectFrom('machines').selectAll().where('user_id', '=', userId).orderBy('id').execute();
}

export interface MachinePage {
  machines: Machine[];
  /** how many machines the listing holds in all */
  total: number;
}

/** One page of a user's machines by id (`enabledOnly`: the status page's), and how many there are: two queries on the user's index range. */
export async function machinePage(db: Kysely<Database>, query: { userId: number; enabledOnly: boolean; offset: number; limit: number }): Promise<MachinePage> {
  let select = db.selectFrom('machines').where('user_id', '=', query.userId);
  if (query.enabledOnly) select = select.where('is_enabled', '=', 1);
  const [machines, count] = await Promise.all([
    select.selectAll().orderBy('id').limit(query.limit).offset(query.offset).execute(),
    select.select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return { machines, total: Number(count.n) };
}

/** A machine of this user; another user's machine is indistinguishable from a missing one. */
export function findMachine(db: Kysely<Database>, userId: number, machineId: number): Promise<Machine | undefined> {
  return db.selectFrom('machines').selectAll().where('id', '=', machineId).where('user_id', '=', userId).executeTakeFirst();
}

export interface MachinePatch {
  name?: string;
  hostname?: string | null;
  description?: string | null;
}

export async function updateMachine(
  db: Kysely<Database>,
  clock: Clock,
  userId: number,
  machineId: number,
  patch: MachinePatch,
): Promise<Machine | undefined> {
  return db
    .updateTable('machines')
    .set({ ...patch, updated_at: clock.now().toISOString() })
    .where('id', '=', machineId)
    .where('user_id', '=', userId)
    .returningAll()
    .executeTakeFirst();
}

/**
 * Deletes the machine; its keys, metrics and dedup row go with it (foreign keys cascade). Its events
 * and their pending deliveries stay: an alert already decided is still delivered.
 */
export async function deleteMachine(db: Kysely<Database>, userId: number, machineId: number): Promise<boolean> {
  const result = await db.deleteFrom('machines').where('id', '=', machineId).where('user_id', '=', userId).executeTakeFirst();
  return result.numDeletedRows > 0n;
}

/**
 * Disables or enables a machine. Never touches `status`: only the daemon writes it. Re-enabling
 * stamps `enabled_at`, which the daemon counts as a fresh start of the machine's threshold.
 */
export async function setMachineEnabled(
  db: Kysely<Database>,
  clock: Clock,
  userId: number,
  machineId: number,
  enabled: boolean,
): Promise<Machine | undefined> {
  const now = clock.now().toISOString();
  return db.transaction().execute(async (trx) => {
    const current = await trx
      .selectFrom('machines')
      .select('is_enabled')
      .where('id', '=', machineId)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    if (!current) return undefined;
    const wasEnabled = current.is_enabled === 1;
    if (wasEnabled === enabled) return trx.selectFrom('machines').selectAll().where('id', '=', machineId).executeTakeFirstOrThrow();
    return trx
      .updateTable('machines')
      .set(enabled ? { is_enabled: 1, enabled_at: now, updated_at: now } : { is_enabled: 0, updated_at: now })
      .where('id', '=', machineId)
      .returningAll()
      .executeTakeFirstOrThrow();
  });
}

/** Revokes every live key of the machine and issues a new one, atomically. */
export async function rotateMachineKey(
  db: Kysely<Database>,
  clock: Clock,
  userId: number,
  machineId: number,
): Promise<MachineWithKey | undefined> {
  const now = clock.now().toISOString();
  const apiKey = newMachineKey();
  const machine = await db.transaction().execute(async (trx) => {
    const row = await trx.selectFrom('machines').selectAll().where('id', '=', machineId).where('user_id', '=', userId).executeTakeFirst();
    if (!row) return undefined;
    await trx.updateTable('machine_api_keys').set({ revoked_at: now }).where('machine_id', '=', machineId).where('revoked_at', 'is', null).execute();
    await trx.insertInto('machine_api_keys').values({ machine_id: machineId, key_hash: hashCredential(apiKey), created_at: now }).execute();
    return row;
  });
  return machine ? { machine, apiKey } : undefined;
}

export function latestMetrics(db: Kysely<Database>, machineId: number): Promise<Selectable<MachineMetricsTable> | undefined> {
  return db
    .selectFrom('machine_metrics')
    .selectAll()
    .where('machine_id', '=', machineId)
    .orderBy('recorded_at', 'desc')
    .orderBy('id', 'desc')
    .limit(1)
    .executeTakeFirst();
}

export interface MetricsHistoryQuery {
  machineId: number;
  /** only samples recorded at or after this (ISO-8601 UTC text, as stored) */
  since?: string;
  limit: number;
}

/** A machine's stored samples, newest first: one range read on its (machine_id, recorded_at) index. */
export function metricsHistory(db: Kysely<Database>, query: MetricsHistoryQuery): Promise<Array<Selectable<MachineMetricsTable>>> {
  let select = db.selectFrom('machine_metrics').selectAll().where('machine_id', '=', query.machineId);
  if (query.since !== undefined) select = select.where('recorded_at', '>=', query.since);
  return select.orderBy('recorded_at', 'desc').orderBy('id', 'desc').limit(query.limit).execute();
}
