import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, SqliteDialect, sql, type Generated, type SqliteDatabase as KyselySqliteDatabase } from 'kysely';
import { SharedFileSqliteDialect, STATEMENT_CACHE_SIZE } from '../src/db/sqlite/sqlite.dialect';
import { tempDir } from '../../../test/support/db';

interface Tables {
  items: { id: Generated<number>; name: string; qty: number; note: string | null };
}

/** A real SQLite file with a small table, and a count of the statements prepared on it. */
function openFixture(dir: string, name: string) {
  const raw = new SqliteDatabase(join(dir, `${name}.db`));
  raw.pragma('journal_mode = WAL');
  raw.exec('CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, qty INTEGER NOT NULL, note TEXT)');
  const prepared: string[] = [];
  const counting: KyselySqliteDatabase = {
    close: () => raw.close(),
    prepare: (text: string) => {
      prepared.push(text);
      return raw.prepare(text);
    },
  };
  return { raw, prepared, counting };
}

/** What a query produced, in a form `toEqual` can compare: the result, or the error's kind and text. */
async function outcome(run: () => Promise<unknown>): Promise<unknown> {
  try {
    return { ok: await run() };
  } catch (error) {
    const e = error as { code?: string; message?: string; constructor: { name: string } };
    return { error: e.constructor.name, code: e.code, message: e.message };
  }
}

function outcomeOf(run: () => unknown): unknown {
  try {
    return { ok: run() };
  } catch (error) {
    return error;
  }
}

/** Reads, writes, RETURNING, transactions (committed and rolled back), savepoints and errors. */
async function scenario(db: Kysely<Tables>, round: number): Promise<unknown[]> {
  const results: unknown[] = [];
  const record = async (run: () => Promise<unknown>) => results.push(await outcome(run));
  const base = round * 100;

  await record(() => db.insertInto('items').values({ name: `a${round}`, qty: base + 1, note: null }).executeTakeFirst());
  await record(() => db.insertInto('items').values([{ name: `b${round}`, qty: base + 2, note: 'x' }, { name: `c${round}`, qty: base + 3, note: null }]).execute());
  await record(() => db.insertInto('items').values({ name: `d${round}`, qty: base + 4, note: 'y' }).returning(['id', 'name', 'qty']).executeTakeFirst());
  await record(() => db.selectFrom('items').selectAll().orderBy('id').execute());
  await record(() => db.selectFrom('items').select(['name']).where('qty', '>', base + 2).orderBy('id').execute());
  await record(() => db.updateTable('items').set({ note: 'updated' }).where('qty', '>', base).executeTakeFirst());
  await record(() => db.updateTable('items').set({ note: 'none' }).where('id', '=', -1).executeTakeFirst());
  await record(() => db.updateTable('items').set((eb) => ({ qty: eb('qty', '+', 10) })).where('name', '=', `a${round}`).returning(['id', 'qty']).execute());
  await record(() => db.deleteFrom('items').where('name', '=', `c${round}`).returning('name').execute());
  await record(() => db.deleteFrom('items').where('name', '=', `nothing`).executeTakeFirst());
  // Errors: a constraint violation at run time, and SQL that does not prepare.
  await record(() => db.insertInto('items').values({ name: `a${round}`, qty: 0, note: null }).execute());
  await record(() => sql`SELEC 1`.execute(db));
  await record(() => sql`SELECT count(*) AS n, sum(qty) AS total FROM items`.execute(db));
  // A transaction that commits, and one that throws and is rolled back.
  await record(() =>
    db.transaction().execute(async (trx) => {
      await trx.insertInto('items').values({ name: `t${round}`, qty: base + 5, note: null }).execute();
      return trx.selectFrom('items').select(['name', 'qty']).where('name', '=', `t${round}`).executeTakeFirst();
    }),
  );
  await record(() =>
    db.transaction().execute(async (trx) => {
      await trx.insertInto('items').values({ name: `r${round}`, qty: base + 6, note: null }).execute();
      await trx.insertInto('items').values({ name: `r${round}`, qty: base + 7, note: null }).execute(); // UNIQUE fails
    }),
  );
  await record(() => db.selectFrom('items').select('name').where('name', '=', `r${round}`).execute());
  // A controlled transaction with a savepoint rolled back.
  await record(async () => {
    const trx = await db.startTransaction().execute();
    await trx.insertInto('items').values({ name: `s${round}`, qty: 1, note: null }).execute();
    const sp = await trx.savepoint('sp').execute();
    await sp.insertInto('items').values({ name: `u${round}`, qty: 1, note: null }).execute();
    await sp.rollbackToSavepoint('sp').execute();
    await trx.commit().execute();
    return db.selectFrom('items').select('name').where('name', 'in', [`s${round}`, `u${round}`]).execute();
  });
  await record(() => db.selectFrom('items').selectAll().orderBy('id').execute());
  return results;
}

describe('the shared SQLite dialect reuses prepared statements without changing any result', () => {
  let dir: ReturnType<typeof tempDir>;
  beforeEach(() => (dir = tempDir()));
  afterEach(() => dir.cleanup());

  test("gives exactly the results and errors of Kysely's own SQLite connection, first run and cached", async () => {
    const stock = openFixture(dir.dir, 'stock');
    const cached = openFixture(dir.dir, 'cached');
    const stockDb = new Kysely<Tables>({ dialect: new SqliteDialect({ database: stock.counting }) });
    const cachedDb = new Kysely<Tables>({ dialect: new SharedFileSqliteDialect({ database: cached.counting }) });
    try {
      for (let round = 0; round < 3; round++) {
        const expected = await scenario(stockDb, round);
        const actual = await scenario(cachedDb, round);
        expect(actual).toEqual(expected);
      }
      // Sanity: the scenario really covers what it claims.
      const flat = JSON.stringify(await scenario(cachedDb, 9), (_k, v) => (typeof v === 'bigint' ? `${v}n` : v));
      expect(flat).toContain('UNIQUE constraint failed');
      expect(flat).toContain('syntax error');
      expect(flat).toContain('"insertId"');
      expect(flat).toContain('"numUpdatedRows"');
      expect(flat).toContain('"numDeletedRows"');
      // Three rounds of the same queries: Kysely's connection prepared every one every time.
      expect(cached.prepared.length).toBeLessThan(stock.prepared.length / 2);
    } finally {
      await stockDb.destroy();
      await cachedDb.destroy();
    }
  });

  test('prepares each SQL text once, and keeps only the most recently used statements', async () => {
    const fx = openFixture(dir.dir, 'lru');
    const db = new Kysely<Tables>({ dialect: new SharedFileSqliteDialect({ database: fx.counting }) });
    try {
      await db.insertInto('items').values({ name: 'a', qty: 1, note: null }).execute();
      const byQty = (qty: number) => db.selectFrom('items').select('name').where('qty', '=', qty);
      expect(await byQty(1).execute()).toEqual([{ name: 'a' }]);
      expect(await byQty(2).execute()).toEqual([]);
      const count = (text: string) => fx.prepared.filter((p) => p === text).length;
      expect(count(byQty(0).compile().sql)).toBe(1); // same text, new parameters: prepared once

      // More distinct texts than the cache holds: the oldest is dropped and prepared again on its next use.
      const first = 'SELECT 0 AS n';
      await sql.raw(first).execute(db);
      for (let i = 1; i <= STATEMENT_CACHE_SIZE; i++) await sql.raw(`SELECT ${i} AS n`).execute(db);
      expect((await sql.raw<{ n: number }>(first).execute(db)).rows).toEqual([{ n: 0 }]);
      expect(count(first)).toBe(2);
      // A recently used one is still cached.
      expect((await sql.raw<{ n: number }>(`SELECT ${STATEMENT_CACHE_SIZE} AS n`).execute(db)).rows).toEqual([{ n: STATEMENT_CACHE_SIZE }]);
      expect(count(`SELECT ${STATEMENT_CACHE_SIZE} AS n`)).toBe(1);
    } finally {
      await db.destroy();
    }
  });

  test('a cached statement sees schema changes, and stays usable after it failed', async () => {
    const fx = openFixture(dir.dir, 'schema');
    const db = new Kysely<Tables>({ dialect: new SharedFileSqliteDialect({ database: fx.counting }) });
    try {
      await db.insertInto('items').values({ name: 'a', qty: 1, note: null }).execute();
      const all = () => sql<Record<string, unknown>>`SELECT * FROM items`.execute(db);
      expect((await all()).rows).toEqual([{ id: 1, name: 'a', qty: 1, note: null }]);
      await sql`ALTER TABLE items ADD COLUMN extra TEXT DEFAULT 'e'`.execute(db);
      expect((await all()).rows).toEqual([{ id: 1, name: 'a', qty: 1, note: null, extra: 'e' }]);

      const insert = (name: string) => db.insertInto('items').values({ name, qty: 2, note: null }).executeTakeFirst();
      await expect(insert('a')).rejects.toMatchObject({ code: 'SQLITE_CONSTRAINT_UNIQUE' });
      expect(await insert('b')).toEqual({ insertId: 2n, numInsertedOrUpdatedRows: 1n });
    } finally {
      await db.destroy();
    }
  });

  test('streams the rows a cached query returns, and refuses to stream writes', async () => {
    const fx = openFixture(dir.dir, 'stream');
    const db = new Kysely<Tables>({ dialect: new SharedFileSqliteDialect({ database: fx.counting }) });
    try {
      await db.insertInto('items').values([1, 2, 3].map((i) => ({ name: `n${i}`, qty: i, note: null }))).execute();
      const query = () => db.selectFrom('items').select(['name']).orderBy('id');
      const executed = await query().execute(); // the statement is cached now
      const streamed: unknown[] = [];
      for await (const row of query().stream()) streamed.push(row);
      expect(streamed).toEqual(executed);
      expect(await query().execute()).toEqual(executed);
      const streamUpdate = async () => {
        for await (const _row of db.updateTable('items').set({ qty: 0 }).returning('id').stream()) break;
      };
      await expect(streamUpdate()).rejects.toThrow('Sqlite driver only supports streaming of select queries');
      expect(await db.selectFrom('items').select('qty').orderBy('id').execute()).toEqual([{ qty: 1 }, { qty: 2 }, { qty: 3 }]);
    } finally {
      await db.destroy();
    }
  });

  test('transactions take the write lock at BEGIN (BEGIN IMMEDIATE)', async () => {
    const fx = openFixture(dir.dir, 'lock');
    const db = new Kysely<Tables>({ dialect: new SharedFileSqliteDialect({ database: fx.counting }) });
    const other = new SqliteDatabase(fx.raw.name, { timeout: 0 });
    try {
      await db.transaction().execute(async (trx) => {
        await trx.selectFrom('items').selectAll().execute(); // only a read so far…
        // …yet the lock is ours. (Matched by code: toThrow misreads better-sqlite3's errors across Jest module registries.)
        expect(outcomeOf(() => other.prepare("INSERT INTO items (name, qty) VALUES ('x', 1)").run())).toMatchObject({ code: 'SQLITE_BUSY' });
      });
      expect(fx.prepared).toContain('begin immediate');
    } finally {
      other.close();
      await db.destroy();
    }
  });
});
