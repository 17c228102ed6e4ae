import { lockedForClaim, type Database, type MachineSnapshot, type MachineStatus } from '@lunasentri/shared';
import { sql, type Kysely, type Transaction } from 'kysely';
import type { MachineState } from './heartbeat.models';
import type { QuietColumns } from './quiet.models';

type Db = Kysely<Database> | Transaction<Database>;

/** A machine row as the sweep reads it: what the decision needs plus what the payload shows. */
export interface MachineRow extends Omit<MachineState, 'quiet_ended_at'>, QuietColumns {
  user_id: number;
  name: string;
  hostname: string | null;
  reported_hostname: string | null;
  description: string | null;
}

const MACHINE_COLUMNS = [
  'id',
  'user_id',
  'name',
  'hostname',
  'reported_hostname',
  'description',
  'status',
  'last_seen',
  'status_changed_at',
  'is_enabled',
  'enabled_at',
  'snoozed_until',
  'announced_status',
  'announced_at',
  'flapping_since',
  'flap_changes',
  'quiet_ended_at',
  'quiet_due_at',
] as const;

/*
 * The three candidate queries are range scans on idx_machines_status_last_seen (status, last_seen),
 * a partial index over enabled machines only (migration 015): their cost follows the number of
 * transitions, never the fleet size, nor the number of disabled machines left `online`. The extra
 * conditions are checked on the few rows the range yields.
 */

/**
 * `is_enabled = 1` as a literal: SQLite uses a partial index only when the query repeats its
 * condition word for word, and a bound parameter (`is_enabled = ?`) does not count.
 */
export const ENABLED = sql<boolean>`is_enabled = 1`;

/**
 * `pending` machines with a report within the threshold (`last_seen >= cutoff`): that report makes
 * them online. A stale first report leaves the machine pending until it reports fresh.
 */
export function pendingWithFreshReport(db: Db, cutoff: string, limit: number) {
  return db
    .selectFrom('machines')
    .select(MACHINE_COLUMNS)
    .where('status', '=', 'pending')
    .where('last_seen', '>=', cutoff)
    .where(ENABLED)
    .orderBy('last_seen')
    .limit(limit);
}

/**
 * Whether any enabled `pending` or `offline` machine has a report within the threshold: the one
 * question a change between checks raises (two seeks on the (status, last_seen) index, one row).
 */
export async function anyFreshArrival(db: Db, cutoff: string): Promise<boolean> {
  const row = await db
    .selectFrom('machines')
    .select('id')
    .where('status', 'in', ['pending', 'offline'])
    .where('last_seen', '>=', cutoff)
    .where(ENABLED)
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

/** `offline` machines with a report within the threshold made after they went offline. */
export function recoveryCandidates(db: Db, cutoff: string, limit: number) {
  return db
    .selectFrom('machines')
    .select(MACHINE_COLUMNS)
    .where('status', '=', 'offline')
    .where('last_seen', '>=', cutoff)
    .where(ENABLED)
    .where((eb) => eb.or([eb('status_changed_at', 'is', null), eb('last_seen', '>', eb.ref('status_changed_at'))]))
    .orderBy('last_seen')
    .limit(limit);
}

/** `online` machines whose last report, last re-enable and last window or snooze end are all older than the cutoff. */
export function offlineCandidates(db: Db, cutoff: string, limit: number) {
  return db
    .selectFrom('machines')
    .select(MACHINE_COLUMNS)
    .where('status', '=', 'online')
    .where('last_seen', '<', cutoff)
    .where(ENABLED)
    .where((eb) => eb.or([eb('enabled_at', 'is', null), eb('enabled_at', '<', cutoff)]))
    .where((eb) => eb.or([eb('quiet_ended_at', 'is', null), eb('quiet_ended_at', '<', cutoff)]))
    .orderBy('last_seen')
    .limit(limit);
}

/** The oldest `last_seen` of an online machine that has not crossed the threshold yet (one index seek). */
export function earliestFreshLastSeenQuery(db: Db, cutoff: string) {
  return db
    .selectFrom('machines')
    .select('last_seen')
    .where('status', '=', 'online')
    .where('last_seen', '>=', cutoff)
    .where(ENABLED)
    .orderBy('last_seen')
    .limit(1);
}

export async function earliestFreshLastSeen(db: Db, cutoff: string): Promise<string | null> {
  return (await earliestFreshLastSeenQuery(db, cutoff).executeTakeFirst())?.last_seen ?? null;
}

/**
 * The oldest re-enable that still protects an online machine whose last report is past the cutoff.
 * Only stale online machines are read (the same index range as {@link offlineCandidates}).
 */
export function earliestProtectingEnableQuery(db: Db, cutoff: string) {
  return db
    .selectFrom('machines')
    .select((eb) => eb.fn.min('enabled_at').as('enabled_at'))
    .where('status', '=', 'online')
    .where('last_seen', '<', cutoff)
    .where(ENABLED)
    .where('enabled_at', '>=', cutoff);
}

/** The same for the end of a window or snooze, which protects a machine as a re-enable does (CONTRACT §6.3). */
export function earliestProtectingQuietEndQuery(db: Db, cutoff: string) {
  return db
    .selectFrom('machines')
    .select((eb) => eb.fn.min('quiet_ended_at').as('quiet_ended_at'))
    .where('status', '=', 'online')
    .where('last_seen', '<', cutoff)
    .where(ENABLED)
    .where('quiet_ended_at', '>=', cutoff);
}

/**
 * The earliest start of a threshold that still protects a stale online machine: a re-enable or the
 * end of a window or snooze. (The earlier of the two minima: at worst a check comes early and finds nothing.)
 */
export async function earliestProtectingEnable(db: Db, cutoff: string): Promise<string | null> {
  const enabled = (await earliestProtectingEnableQuery(db, cutoff).executeTakeFirst())?.enabled_at ?? null;
  const quietEnd = (await earliestProtectingQuietEndQuery(db, cutoff).executeTakeFirst())?.quiet_ended_at ?? null;
  if (enabled === null || quietEnd === null) return enabled ?? quietEnd;
  return Date.parse(enabled) <= Date.parse(quietEnd) ? enabled : quietEnd;
}

export function findMachine(db: Db, id: number): Promise<MachineRow | undefined> {
  return db.selectFrom('machines').select(MACHINE_COLUMNS).where('id', '=', id).executeTakeFirst();
}

/**
 * The given machines as they are now (the sweep's re-read inside its transaction). On PostgreSQL the
 * rows are locked, and rows another daemon is deciding right now are passed over: several daemons
 * split the candidates instead of queueing behind each other (the compare-and-set keeps them exact).
 */
export function findMachines(db: Db, ids: readonly number[]): Promise<MachineRow[]> {
  if (ids.length === 0) return Promise.resolve([]);
  return lockedForClaim(db, db.selectFrom('machines').select(MACHINE_COLUMNS).where('id', 'in', ids)).execute();
}

/**
 * Sets the status of every listed machine that still has the status the decision was based on, and
 * returns the ids it changed. Machines another daemon (or anything else) moved first are left alone.
 */
export async function compareAndSetStatuses(
  trx: Transaction<Database>,
  change: { ids: readonly number[]; from: MachineStatus; to: MachineStatus; at: string },
): Promise<Set<number>> {
  const { ids, from, to: next, at } = change;
  if (ids.length === 0) return new Set();
  const rows = await trx
    .updateTable('machines')
    .set({ status: next, status_changed_at: at })
    .where('id', 'in', ids)
    // Compare-and-set: never a transition from a state we did not read. Written as CASE so SQLite's
    // planner (no statistics) cannot serve it from idx_machines_status_last_seen: with a plain
    // `status = ?` beside the id list it walks every machine of that status — the whole fleet for
    // `online` — instead of looking the ids up. Standard SQL, so PostgreSQL runs it as well.
    .where((eb) => eb(eb.case().when('status', '=', from).then(1).else(0).end(), '=', 1))
    .returning('id')
    .execute();
  return new Set(rows.map((r) => r.id));
}

/** The machine as webhook consumers see it. */
export function snapshotOf(machine: MachineRow, status: MachineStatus): MachineSnapshot {
  return {
    id: machine.id,
    name: machine.name,
    hostname: machine.hostname ?? machine.reported_hostname,
    description: machine.description,
    status,
    last_seen: machine.last_seen,
  };
}
