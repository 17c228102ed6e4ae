import {
  CompiledQuery,
  SelectQueryNode,
  SqliteAdapter,
  SqliteDialect,
  SqliteDriver,
  type DatabaseConnection,
  type DialectAdapter,
  type Driver,
  type QueryResult,
  type SqliteDatabase,
  type SqliteDialectConfig,
  type SqliteStatement,
} from 'kysely';

/** Prepared statements kept per connection by {@link SharedFileSqliteDialect}. */
export const STATEMENT_CACHE_SIZE = 256;

/**
 * Kysely's SQLite dialect with three changes that matter when several processes share one file and
 * the same few queries run thousands of times:
 *
 * - Transactions start with `BEGIN IMMEDIATE`. A deferred transaction that reads and then writes can
 *   fail with SQLITE_BUSY_SNAPSHOT (no busy wait) when another process wrote in between; taking the
 *   write lock up front makes writers queue on the busy timeout instead.
 * - Migrations run inside one transaction (SQLite DDL is transactional), so two processes migrating
 *   a new file at once serialize: the second sees the first one's migrations as applied.
 * - A rollback runs only while the connection is still in a transaction. SQLite rolls a transaction
 *   back by itself on some errors (SQLITE_FULL, SQLITE_IOERR, SQLITE_NOMEM, …); Kysely's ROLLBACK
 *   would then fail with "cannot rollback - no transaction is active", and that error would replace
 *   the one that says what went wrong (a full disk).
 * - Prepared statements are reused, keyed by their SQL text (the {@link STATEMENT_CACHE_SIZE} most
 *   recently used ones). Kysely's own connection prepares every statement on every call, which
 *   costs more than running a typical indexed query. Results are exactly those of Kysely's
 *   connection (see {@link CachingSqliteConnection}).
 */
export class SharedFileSqliteDialect extends SqliteDialect {
  private readonly dialectConfig: SqliteDialectConfig;

  constructor(config: SqliteDialectConfig) {
    super(config);
    this.dialectConfig = config;
  }

  override createDriver(): Driver {
    return new SharedFileSqliteDriver(this.dialectConfig);
  }

  override createAdapter(): DialectAdapter {
    return new TransactionalDdlSqliteAdapter();
  }
}

class TransactionalDdlSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}

/**
 * Kysely's driver (one connection behind a mutex) handing out a {@link CachingSqliteConnection}
 * instead of its own. The database is resolved once, by Kysely's `init`, and captured on the way.
 */
class SharedFileSqliteDriver extends SqliteDriver {
  private connection: CachingSqliteConnection | null = null;
  private sqlite: SqliteDatabase | null = null;

  constructor(config: SqliteDialectConfig) {
    const { database } = config;
    const resolve = typeof database === 'function' ? database : async () => database;
    super({
      ...config,
      database: async () => {
        const db = await resolve();
        this.sqlite = db;
        this.connection = new CachingSqliteConnection(db, STATEMENT_CACHE_SIZE);
        return db;
      },
    });
  }

  override async acquireConnection(): Promise<DatabaseConnection> {
    await super.acquireConnection(); // waits for the single connection's mutex
    return this.connection!;
  }

  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }

  /**
   * Kysely rolls back after the error that ended the transaction and then throws that error, unless
   * the rollback throws first. When SQLite has already rolled the transaction back itself there is
   * nothing left to undo, and the first error (SQLITE_FULL: "database or disk is full") must be the
   * one the caller sees.
   */
  override async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    if (!this.isInTransaction()) return;
    await super.rollbackTransaction(connection);
  }

  /** better-sqlite3's `inTransaction`; true when unknown, so a rollback is never skipped by doubt. */
  private isInTransaction(): boolean {
    const inTransaction = (this.sqlite as { inTransaction?: unknown } | null)?.inTransaction;
    return typeof inTransaction === 'boolean' ? inTransaction : true;
  }
}

/**
 * Kysely's `SqliteConnection` (0.28) with a bounded least-recently-used cache of prepared statements.
 *
 * - Readers (`SELECT`, `… RETURNING`, `PRAGMA` that returns rows) → `all()`; others → `run()`, with
 *   `changes` and `lastInsertRowid` as bigints, exactly as Kysely reports them.
 * - A statement that throws stays usable (better-sqlite3 resets it), so it stays cached. SQLite
 *   re-prepares cached statements itself after a schema change.
 * - Streaming keeps Kysely's behaviour, a statement of its own, uncached: streams are rare (the
 *   status listing), and an iterator left open keeps its statement busy, which would break every
 *   later query of the same SQL text if that statement were the cached one.
 */
class CachingSqliteConnection implements DatabaseConnection {
  private readonly statements = new Map<string, SqliteStatement>();

  constructor(
    private readonly db: SqliteDatabase,
    private readonly capacity: number,
  ) {}

  executeQuery<R>(compiledQuery: CompiledQuery): Promise<QueryResult<R>> {
    const { sql, parameters } = compiledQuery;
    const stmt = this.statement(sql);
    if (stmt.reader) {
      return Promise.resolve({ rows: stmt.all(parameters) as R[] });
    }
    const { changes, lastInsertRowid } = stmt.run(parameters);
    return Promise.resolve({
      numAffectedRows: changes !== undefined && changes !== null ? BigInt(changes) : undefined,
      insertId: lastInsertRowid !== undefined && lastInsertRowid !== null ? BigInt(lastInsertRowid) : undefined,
      rows: [],
    });
  }

  async *streamQuery<R>(compiledQuery: CompiledQuery, _chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
    const { sql, parameters, query } = compiledQuery;
    const stmt = this.db.prepare(sql);
    if (!SelectQueryNode.is(query)) throw new Error('Sqlite driver only supports streaming of select queries');
    for (const row of stmt.iterate(parameters)) {
      yield { rows: [row as R] };
    }
  }

  private statement(sql: string): SqliteStatement {
    const cached = this.statements.get(sql);
    if (cached) {
      // Map iteration follows insertion order: re-inserting marks it most recently used.
      this.statements.delete(sql);
      this.statements.set(sql, cached);
      return cached;
    }
    const stmt = this.db.prepare(sql); // throws on bad SQL: nothing is cached then
    if (this.statements.size >= this.capacity) {
      this.statements.delete(this.statements.keys().next().value!);
    }
    this.statements.set(sql, stmt);
    return stmt;
  }
}
