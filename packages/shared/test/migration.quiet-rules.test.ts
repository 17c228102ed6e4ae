import { sql } from 'kysely';
import { migrateTo, migrateToLatest, openDatabase, type DatabaseHandle } from '@lunasentri/shared';
import { tempDir } from '../../../test/support/db';
import { describeEachEngine, POSTGRES_URL } from '../../../test/support/engines';

const T0 = '2026-11-28T03:00:00.000Z';

// Every migration up and some down again, twice per engine: slow on a loaded machine.
jest.setTimeout(60_000);

/**
 * Migration 021 widens the event types; on SQLite that rebuilds `events` and `deliveries` inside the
 * migration's transaction. Nothing stored before may be lost, and references must still hold.
 */
describeEachEngine('migration 021_quiet_rules on a database with history', (engine) => {
  let handle: DatabaseHandle;
  let cleanup: () => Promise<void>;

  beforeEach(async () => {
    if (engine === 'sqlite') {
      const dir = tempDir();
      handle = openDatabase(`${dir.dir}/lunasentri.db`);
      cleanup = async () => {
        await handle.close();
        dir.cleanup();
      };
    } else {
      const admin = openDatabase(POSTGRES_URL!);
      const name = `lunasentri_m021_${process.pid}_${Date.now()}`;
      await sql.raw(`CREATE DATABASE ${name}`).execute(admin.db);
      const url = new URL(POSTGRES_URL!);
      url.pathname = `/${name}`;
      handle = openDatabase(url.toString());
      cleanup = async () => {
        await handle.close();
        await sql.raw(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).execute(admin.db);
        await admin.close();
      };
    }
    await migrateTo(handle.db, '019_failure_tracking');
    const db = handle.db as any;
    await db.insertInto('users').values({ email: 'o@example.com', created_at: T0 }).execute();
    for (const [name, status] of [['down', 'offline'], ['up', 'online'], ['new', 'pending']]) {
      await db.insertInto('machines').values({ user_id: 1, name, status, status_changed_at: T0, created_at: T0, updated_at: T0 }).execute();
    }
    await db.insertInto('machine_offline_notifications').values({ machine_id: 1, notified_at: T0 }).execute();
    await db.insertInto('events').values({ id: 'e1', type: 'machine.offline', machine_id: 1, user_id: 1, occurred_at: T0, payload: '{}', created_at: T0 }).execute();
    for (const channel of ['webhook', 'telegram']) {
      await db
        .insertInto('deliveries')
        .values({ event_id: 'e1', machine_id: 1, channel, target_id: 1, status: 'pending', next_attempt_at: T0, created_at: T0, updated_at: T0 })
        .execute();
    }
    // A delivery deleted at the top of the id range: its id must never be handed out again.
    await db.deleteFrom('deliveries').where('id', '=', 2).execute();
  });
  afterEach(() => cleanup());

  test('keeps every event and delivery, backfills what channels were told, and accepts the new event types', async () => {
    await migrateToLatest(handle.db);
    const db = handle.db;
    expect(await db.selectFrom('events').select(['id', 'type', 'suppressed']).execute()).toEqual([{ id: 'e1', type: 'machine.offline', suppressed: null }]);
    expect(await db.selectFrom('deliveries').select(['id', 'event_id', 'channel']).execute()).toEqual([{ id: 1, event_id: 'e1', channel: 'webhook' }]);
    expect(await db.selectFrom('machines').select(['name', 'announced_status']).orderBy('id').execute()).toEqual([
      { name: 'down', announced_status: 'offline' },
      { name: 'up', announced_status: 'online' },
      { name: 'new', announced_status: null },
    ]);
    await db.insertInto('events').values({ id: 'e2', type: 'machine.flapping', machine_id: 1, user_id: 1, occurred_at: T0, payload: '{}', created_at: T0, suppressed: 'maintenance' }).execute();
    const next = await db
      .insertInto('deliveries')
      .values({ event_id: 'e2', machine_id: 1, channel: 'webhook', target_id: 2, status: 'pending', next_attempt_at: T0, created_at: T0, updated_at: T0 })
      .returning('id')
      .executeTakeFirstOrThrow();
    expect(next.id).toBe(3);
    await expect(
      db.insertInto('events').values({ id: 'e3', type: 'machine.rebooted' as never, machine_id: 1, user_id: 1, occurred_at: T0, payload: '{}', created_at: T0 }).execute(),
    ).rejects.toMatchObject({ code: expect.stringMatching(/^(SQLITE_CONSTRAINT_CHECK|23514)$/) });
    await expect(
      db.insertInto('deliveries').values({ event_id: 'nope', machine_id: 1, channel: 'webhook', target_id: 1, status: 'pending', next_attempt_at: T0, created_at: T0, updated_at: T0 }).execute(),
    ).rejects.toMatchObject({ code: expect.stringMatching(/^(SQLITE_CONSTRAINT_FOREIGNKEY|23503)$/) });
    // (Matched by code, not toThrow: see the note in database.test.ts.) Deleting an event still takes its deliveries along.
    await db.deleteFrom('events').where('id', '=', 'e2').execute();
    expect(await db.selectFrom('deliveries').select('id').execute()).toEqual([{ id: 1 }]);
  });

  test('steps down again, dropping only what it added', async () => {
    await migrateToLatest(handle.db);
    await handle.db.insertInto('events').values({ id: 'e2', type: 'machine.still_offline', machine_id: 1, user_id: 1, occurred_at: T0, payload: '{}', created_at: T0 }).execute();
    await migrateTo(handle.db, '019_failure_tracking');
    const db = handle.db as any;
    expect(await db.selectFrom('events').select(['id']).execute()).toEqual([{ id: 'e1' }]);
    expect(await db.selectFrom('deliveries').select(['id']).execute()).toEqual([{ id: 1 }]);
    await migrateToLatest(handle.db);
  });
});
