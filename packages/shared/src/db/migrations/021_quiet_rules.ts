import { sql, type Kysely } from 'kysely';
import { engineOf } from '../engine';
import { withIdColumn } from '../migrations.portable';

/**
 * Quiet alerts (CONTRACT §6.2–§6.4): flapping, snooze, maintenance windows, reminders.
 *
 * - `machines`: `snoozed_until` (an ISO time, `next-online` or null); what the owner's channels were
 *   last told (`announced_status`, `announced_at`, the event that told them); flapping state
 *   (`flapping_since`, `flap_changes` a JSON list of the latest change times); `quiet_ended_at`, the
 *   end of the latest window or snooze (a machine's threshold counts from it at the earliest); and
 *   `quiet_due_at`, the next moment the daemon must look at the machine for a quiet rule (a snooze
 *   that runs out, a flapping machine that may settle, an announcement owed after a window), on an
 *   index so the daemon never scans the fleet for them.
 * - `machine_offline_notifications` (the dedup row, which exists exactly while a machine is offline
 *   and its owner's channels were told so) gains the outage's stored reminder schedule.
 * - `notification_preferences`: `machine_flapping`, `remind_every_ms` (0 = off), `remind_max`.
 * - `events.suppressed` (`flapping`, `maintenance`, `snooze` or null) and the new event types.
 * - `maintenance_windows` (one-off or recurring) with `next_end_at`, the next end the daemon must
 *   act on (indexed), and `maintenance_window_machines` for windows over chosen machines.
 */

const OLD_TYPES = `'machine.offline', 'machine.online'`;
const NEW_TYPES = `'machine.offline', 'machine.online', 'machine.still_offline', 'machine.flapping', 'machine.flapping_ended'`;

export async function up(db: Kysely<any>): Promise<void> {
  await addMachineColumns(db);
  await db.schema.alterTable('machine_offline_notifications').addColumn('reminders_sent', 'integer', (c) => c.notNull().defaultTo(0)).execute();
  await db.schema.alterTable('machine_offline_notifications').addColumn('next_reminder_at', 'text').execute();
  await db.schema.createIndex('idx_offline_notifications_reminder').on('machine_offline_notifications').column('next_reminder_at').execute();

  await db.schema
    .alterTable('notification_preferences')
    .addColumn('machine_flapping', 'integer', (c) => c.notNull().defaultTo(1).check(sql`machine_flapping in (0, 1)`))
    .execute();
  await db.schema.alterTable('notification_preferences').addColumn('remind_every_ms', 'integer', (c) => c.notNull().defaultTo(0)).execute();
  await db.schema.alterTable('notification_preferences').addColumn('remind_max', 'integer', (c) => c.notNull().defaultTo(3)).execute();

  await setEventTypes(db, OLD_TYPES, NEW_TYPES);
  await db.schema
    .alterTable('events')
    .addColumn('suppressed', 'text', (c) => c.check(sql`suppressed in ('flapping', 'maintenance', 'snooze')`))
    .execute();
  await createMaintenanceTables(db);
}

async function addMachineColumns(db: Kysely<any>): Promise<void> {
  for (const column of ['snoozed_until', 'announced_at', 'flapping_since', 'flap_changes', 'quiet_ended_at', 'quiet_due_at']) {
    await db.schema.alterTable('machines').addColumn(column, 'text').execute();
  }
  await db.schema
    .alterTable('machines')
    .addColumn('announced_status', 'text', (c) => c.check(sql`announced_status in ('online', 'offline')`))
    .execute();
  // Only enabled machines are looked at; a disabled one re-enters the index, due, when enabled again.
  // Only rows with a due time are in it, so it stays as small as the number of pending quiet-rule ends.
  await db.schema
    .createIndex('idx_machines_quiet_due')
    .on('machines')
    .column('quiet_due_at')
    .where(sql<boolean>`is_enabled = 1 AND quiet_due_at IS NOT NULL`)
    .execute();
  // What the channels were told so far: an announced outage (the dedup row), else what the machine last was.
  await sql`UPDATE machines SET announced_status = 'offline', announced_at = (SELECT n.notified_at FROM machine_offline_notifications n WHERE n.machine_id = machines.id)
            WHERE id IN (SELECT machine_id FROM machine_offline_notifications)`.execute(db);
  await sql`UPDATE machines SET announced_status = 'online', announced_at = status_changed_at WHERE announced_status IS NULL AND status <> 'pending'`.execute(db);
}

async function createMaintenanceTables(db: Kysely<any>): Promise<void> {
  await withIdColumn(db, db.schema.createTable('maintenance_windows'))
    .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('one-off', 'recurring')`))
    .addColumn('starts_at', 'text')
    .addColumn('ends_at', 'text')
    // comma-separated `mon,tue`; null = every day
    .addColumn('weekdays', 'text')
    .addColumn('start_time', 'text')
    .addColumn('duration_ms', 'integer')
    .addColumn('timezone', 'text')
    .addColumn('all_machines', 'integer', (c) => c.notNull().check(sql`all_machines in (0, 1)`))
    .addColumn('next_end_at', 'text')
    // a window deleted while its end was still to be acted on stays until the daemon has
    .addColumn('deleted_at', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('idx_maintenance_windows_user').on('maintenance_windows').columns(['user_id', 'id']).execute();
  await db.schema.createIndex('idx_maintenance_windows_next_end').on('maintenance_windows').column('next_end_at').execute();
  await db.schema
    .createTable('maintenance_window_machines')
    .addColumn('window_id', 'integer', (c) => c.notNull().references('maintenance_windows.id').onDelete('cascade'))
    .addColumn('machine_id', 'integer', (c) => c.notNull().references('machines.id').onDelete('cascade'))
    .addPrimaryKeyConstraint('pk_maintenance_window_machines', ['window_id', 'machine_id'])
    .execute();
  await db.schema.createIndex('idx_maintenance_window_machines_machine').on('maintenance_window_machines').column('machine_id').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('maintenance_window_machines').execute();
  await db.schema.dropTable('maintenance_windows').execute();
  await db.schema.alterTable('events').dropColumn('suppressed').execute();
  await sql`DELETE FROM events WHERE type NOT IN (${sql.raw(OLD_TYPES)})`.execute(db);
  await setEventTypes(db, NEW_TYPES, OLD_TYPES);
  for (const column of ['remind_max', 'remind_every_ms', 'machine_flapping']) {
    await db.schema.alterTable('notification_preferences').dropColumn(column).execute();
  }
  await db.schema.dropIndex('idx_offline_notifications_reminder').execute();
  for (const column of ['next_reminder_at', 'reminders_sent']) {
    await db.schema.alterTable('machine_offline_notifications').dropColumn(column).execute();
  }
  await db.schema.dropIndex('idx_machines_quiet_due').execute();
  for (const column of ['announced_status', 'snoozed_until', 'announced_at', 'flapping_since', 'flap_changes', 'quiet_ended_at', 'quiet_due_at']) {
    await db.schema.alterTable('machines').dropColumn(column).execute();
  }
}

/** Replaces the CHECK on `events.type` (created inline by 011, so PostgreSQL named it `events_type_check`). */
async function setEventTypes(db: Kysely<any>, from: string, to: string): Promise<void> {
  if (engineOf(db) === 'postgres') {
    await sql`ALTER TABLE events DROP CONSTRAINT events_type_check`.execute(db);
    await sql`ALTER TABLE events ADD CONSTRAINT events_type_check CHECK (type in (${sql.raw(to)}))`.execute(db);
    return;
  }
  await rebuildSqliteEvents(db, (create) => {
    const patched = create.replace(`type in (${from})`, `type in (${to})`);
    if (patched === create) throw new Error('021_quiet_rules: the CHECK on events.type is not the one expected');
    return patched;
  });
}

interface SchemaRow {
  type: string;
  name: string;
  tbl_name: string;
  sql: string | null;
}

/**
 * SQLite cannot change a CHECK in place, and a migration runs inside a transaction, where foreign
 * keys cannot be switched off: dropping `events` would then cascade into `deliveries`. So both tables
 * are rebuilt from their own stored definitions (whatever columns later migrations added): the old
 * `deliveries` is set aside first (its reference follows `events` to `events_old`), the new tables
 * are created and filled, the old ones dropped with nothing pointing at them, and every index and
 * trigger of the two is created again. `deliveries` keeps its AUTOINCREMENT high-water mark.
 */
async function rebuildSqliteEvents(db: Kysely<any>, patchEvents: (create: string) => string): Promise<void> {
  const schema = (await sql<SchemaRow>`SELECT type, name, tbl_name, sql FROM sqlite_master WHERE tbl_name IN ('events', 'deliveries')`.execute(db)).rows;
  const create = (table: string) => schema.find((row) => row.type === 'table' && row.name === table)?.sql;
  const eventsSql = create('events');
  const deliveriesSql = create('deliveries');
  if (!eventsSql || !deliveriesSql) throw new Error('021_quiet_rules: events or deliveries is missing');
  const extras = schema.filter((row) => row.type !== 'table' && row.sql !== null).map((row) => row.sql as string);
  // A table of a later feature pointing at either would follow the rename and lose its rows: refuse loudly.
  const referencing = (
    await sql<{ name: string }>`SELECT m.name FROM sqlite_master m, pragma_foreign_key_list(m.name) f
      WHERE m.type = 'table' AND m.name NOT IN ('events', 'deliveries') AND f."table" IN ('events', 'deliveries')`.execute(db)
  ).rows;
  if (referencing.length > 0) throw new Error(`021_quiet_rules: ${referencing.map((r) => r.name).join(', ')} reference events or deliveries; rebuild them too`);
  const sequence = (await sql<{ seq: number }>`SELECT seq FROM sqlite_sequence WHERE name = 'deliveries'`.execute(db)).rows[0]?.seq;

  await sql`ALTER TABLE deliveries RENAME TO deliveries_old`.execute(db);
  await sql`ALTER TABLE events RENAME TO events_old`.execute(db);
  await sql.raw(patchEvents(eventsSql)).execute(db);
  await sql`INSERT INTO events SELECT * FROM events_old`.execute(db);
  await sql.raw(deliveriesSql).execute(db);
  await sql`INSERT INTO deliveries SELECT * FROM deliveries_old`.execute(db);
  await sql`DROP TABLE deliveries_old`.execute(db);
  await sql`DROP TABLE events_old`.execute(db);
  for (const statement of extras) await sql.raw(statement).execute(db);
  if (sequence !== undefined) {
    await sql`DELETE FROM sqlite_sequence WHERE name = 'deliveries'`.execute(db);
    await sql`INSERT INTO sqlite_sequence (name, seq) VALUES ('deliveries', ${sequence})`.execute(db);
  }
}
