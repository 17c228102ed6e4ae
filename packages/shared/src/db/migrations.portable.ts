import type { ColumnDefinitionBuilder, CreateTableBuilder, Kysely } from 'kysely';
import { engineOf } from './engine';

/*
 * What migrations need to say differently per engine. Migrations stay plain Kysely (they take
 * `Kysely<any>` and import no application code); these helpers keep the few differences in one place.
 */

/**
 * An auto-incrementing integer primary key `id`: SQLite's `INTEGER PRIMARY KEY AUTOINCREMENT`
 * (ids never reused), PostgreSQL's `serial` (a sequence: never reused either).
 */
export function withIdColumn<T extends CreateTableBuilder<any, any>>(db: Kysely<any>, table: T): T {
  if (engineOf(db) === 'postgres') return table.addColumn('id', 'serial', (c: ColumnDefinitionBuilder) => c.primaryKey()) as T;
  return table.addColumn('id', 'integer', (c: ColumnDefinitionBuilder) => c.primaryKey().autoIncrement()) as T;
}
