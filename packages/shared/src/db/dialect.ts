import {
  CompiledQuery,
  SqliteAdapter,
  SqliteDialect,
  SqliteDriver,
  type DatabaseConnection,
  type DialectAdapter,
  type Driver,
  type SqliteDialectConfig,
} from 'kysely';

/**
 * Kysely's SQLite dialect with two changes that matter when several processes share one file:
 *
 * - Transactions start with `BEGIN IMMEDIATE`. A deferred transaction that reads and then writes can
 *   fail with SQLITE_BUSY_SNAPSHOT (no busy wait) when another process wrote in between; taking the
 *   write lock up front makes writers queue on the busy timeout instead.
 * - Migrations run inside one transaction (SQLite DDL is transactional), so two processes migrating
 *   a new file at once serialize: the second sees the first one's migrations as applied.
 */
export class SharedFileSqliteDialect extends SqliteDialect {
  private readonly dialectConfig: SqliteDialectConfig;

  constructor(config: SqliteDialectConfig) {
    super(config);
    this.dialectConfig = config;
  }

  override createDriver(): Driver {
    return new ImmediateTransactionDriver(this.dialectConfig);
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

class ImmediateTransactionDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}
