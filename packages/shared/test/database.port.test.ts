import { join } from 'node:path';
import { isUniqueViolation, migrateToLatest, MissingDatabaseError, openDatabase, type ChangeFeed } from '@lunasentri/shared';
import { describeEachEngine, testOn } from '../../../test/support/engines';
import { createTestDb, fillDisk, tempDir, type TestDb } from '../../../test/support/db';
import { insertMachine, insertUser } from '../../../test/support/fixtures';

describeEachEngine('the database port', (engine) => {
  let db: TestDb;
  beforeEach(async () => {
    db = await createTestDb(engine);
  });
  afterEach(() => db.dispose());

  /** Polls the feed until it reports a change, within a generous deadline (PostgreSQL notifies asynchronously). */
  async function changeSeen(feed: ChangeFeed): Promise<boolean> {
    for (const deadline = Date.now() + 10_000; Date.now() < deadline; ) {
      if (feed.poll()) return true;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return false;
  }

  /** Waits (bounded) for `done`. */
  async function until(done: () => boolean): Promise<void> {
    for (const deadline = Date.now() + 10_000; !done(); ) {
      if (Date.now() > deadline) throw new Error('not within 10 s');
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  test("the change feed sees reports another process wrote", async () => {
    const userId = await insertUser(db.db);
    const id = await insertMachine(db.db, userId);
    const other = db.reopen();
    const feed = db.changeFeed();
    const report = (at: string) => other.ingestStore().write({ lastSeen: new Map([[id, at]]), systemInfo: new Map(), samples: [] });
    try {
      feed.poll(); // primes
      await report('2026-11-28T03:00:00.000Z');
      expect(await changeSeen(feed)).toBe(true);
      expect(feed.poll()).toBe(false); // once per change
      await report('2026-11-28T03:00:01.000Z');
      expect(await changeSeen(feed)).toBe(true);
    } finally {
      feed.close();
      await other.close();
    }
  });

  test('the change feed hints at a report another process wrote, without being polled', async () => {
    const userId = await insertUser(db.db);
    const id = await insertMachine(db.db, userId);
    const other = db.reopen();
    const feed = db.changeFeed();
    let hints = 0;
    feed.onHint(() => hints++);
    try {
      // PostgreSQL's listening connection says "listening" with a hint of its own first.
      if (engine === 'postgres') await until(() => hints > 0);
      feed.poll(); // primes
      const before = hints;
      await other.ingestStore().write({ lastSeen: new Map([[id, '2026-11-28T03:00:00.000Z']]), systemInfo: new Map(), samples: [] });
      await until(() => hints > before);
      expect(feed.poll()).toBe(true);
    } finally {
      feed.close();
      await other.close();
    }
  });

  testOn('sqlite', engine)("on SQLite the change feed sees any other connection's commit, never its own", async () => {
    const other = db.reopen();
    const feed = db.changeFeed();
    try {
      expect(feed.poll()).toBe(false); // primes
      await insertUser(db.db, 'own@example.com');
      expect(feed.poll()).toBe(false);
      await insertUser(other.db, 'other@example.com');
      expect(feed.poll()).toBe(true);
    } finally {
      feed.close();
      await other.close();
    }
  });

  test('a unique violation is recognised as such; other errors are not', async () => {
    await insertUser(db.db, 'dup@example.com');
    const duplicate = await insertUser(db.db, 'dup@example.com').then(
      () => null,
      (error: unknown) => error,
    );
    expect(isUniqueViolation(duplicate)).toBe(true);
    const missingTable = await db.db
      .selectFrom('no_such_table' as 'users')
      .selectAll()
      .execute()
      .then(
        () => null,
        (error: unknown) => error,
      );
    expect(isUniqueViolation(missingTable)).toBe(false);
    expect(isUniqueViolation(undefined)).toBe(false);
  });

  testOn('sqlite', engine)('a transaction the disk cannot hold fails with the disk error, never with a failed rollback, and the connection stays usable', async () => {
    const freeSpace = fillDisk(db);
    const failure = await db.db
      .transaction()
      .execute(async (trx) => {
        for (let i = 0; i < 500; i++) {
          await trx.insertInto('users').values({ email: `user-${i}-${'x'.repeat(40)}@example.com`, created_at: '2026-11-28T03:00:00.000Z' }).execute();
        }
      })
      .then(
        () => null,
        (error: unknown) => error,
      );
    // Matched by shape: toBeInstanceOf misreads better-sqlite3's errors across Jest module registries.
    expect(failure).toMatchObject({ message: 'database or disk is full' });
    expect(await db.db.selectFrom('users').select('id').execute()).toEqual([]); // rolled back whole

    freeSpace();
    await db.db.transaction().execute((trx) => insertUser(trx, 'after@example.com'));
    expect(await db.db.selectFrom('users').select('email').execute()).toEqual([{ email: 'after@example.com' }]);
  });

  test('the ingest store and the key lookup work through the handle', async () => {
    const userId = await insertUser(db.db);
    const iso = '2026-11-28T03:00:00.000Z';
    const id = await insertMachine(db.db, userId);
    await db.db.insertInto('machine_api_keys').values({ machine_id: id, key_hash: 'h'.repeat(64), created_at: iso, revoked_at: null }).execute();
    await db.ingestStore().write({ lastSeen: new Map([[id, iso]]), systemInfo: new Map([[id, { reported_hostname: 'web-01' }]]), samples: [] });
    expect(await db.db.selectFrom('machines').select(['last_seen', 'reported_hostname']).where('id', '=', id).executeTakeFirst()).toEqual({ last_seen: iso, reported_hostname: 'web-01' });
    const lookup = db.machineKeyLookup();
    expect(await lookup.find('h'.repeat(64))).toEqual({ machineId: id, isEnabled: 1 });
    expect(await lookup.find('x'.repeat(64))).toBeUndefined();
    expect(typeof (await lookup.revision())).toBe('number');
  });
});

describe('opening a database', () => {
  test('a command that must not create one refuses a missing file, naming its absolute path, and creates nothing', () => {
    const { dir, cleanup } = tempDir();
    try {
      const path = join(dir, 'nested', 'lunasentri.db');
      expect(() => openDatabase(path, { create: false })).toThrow(MissingDatabaseError);
      expect(() => openDatabase(path, { create: false })).toThrow(`no database at ${path}`);
      expect(() => openDatabase(path, { readonly: true })).toThrow(MissingDatabaseError);
      expect(() => openDatabase(join(dir, 'nested'), { create: false })).toThrow(MissingDatabaseError);
    } finally {
      cleanup();
    }
  });

  test('an in-memory database reopens as itself: one connection, and closing the second handle leaves it open', async () => {
    const memory = openDatabase(':memory:');
    await migrateToLatest(memory.db);
    const again = memory.reopen({ busyTimeoutMs: 200 });
    await insertUser(again.db, 'shared@example.com');
    await again.close();
    expect(await memory.db.selectFrom('users').select('email').execute()).toEqual([{ email: 'shared@example.com' }]);
    await memory.close();
  });
});
