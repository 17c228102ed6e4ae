export { openSqlite, sqliteConnection, MissingDatabaseError } from './sqlite.open';
export { isSqliteBusy, isSqliteUniqueViolation } from './sqlite.errors';
export { STATEMENT_CACHE_SIZE } from './sqlite.dialect';
