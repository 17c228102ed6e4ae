import type SqliteDatabase from 'better-sqlite3';
import type { ChangeFeed } from '../port';

/**
 * SQLite's `PRAGMA data_version`: it changes when another connection commits to the file, never for
 * this connection's own writes. One pragma per poll, no I/O beyond the shared-memory index.
 */
export function sqliteChangeFeed(sqlite: SqliteDatabase.Database): ChangeFeed {
  const version = () => Number(sqlite.pragma('data_version', { simple: true }));
  let seen: number | null = null;
  return {
    poll() {
      const current = version();
      const changed = seen !== null && current !== seen;
      seen = current;
      return changed;
    },
    close() {
      seen = null;
    },
  };
}
