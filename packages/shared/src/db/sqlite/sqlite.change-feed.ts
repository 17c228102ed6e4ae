import { watch, type FSWatcher } from 'node:fs';
import type SqliteDatabase from 'better-sqlite3';
import type { ChangeFeed } from '../port';

/**
 * SQLite's `PRAGMA data_version`: it changes when another connection commits to the file, never for
 * this connection's own writes. One pragma per poll, no I/O beyond the shared-memory index.
 *
 * Hints come from an inotify watch (`fs.watch`) on the write-ahead log, which every commit of every
 * process appends to: a report written by the API reaches the daemon in about a millisecond, without
 * polling faster. The watch costs nothing while nobody writes. Where it cannot be set up (`:memory:`,
 * a file system without change events) there are no hints and polling alone decides.
 */
export function sqliteChangeFeed(sqlite: SqliteDatabase.Database): ChangeFeed {
  const version = () => Number(sqlite.pragma('data_version', { simple: true }));
  let seen: number | null = null;
  let listener: (() => void) | null = null;
  let watcher: FSWatcher | null = null;

  const startWatching = () => {
    if (watcher || sqlite.memory) return;
    try {
      // The log exists while any connection has the database open in WAL mode, as this one does.
      watcher = watch(`${sqlite.name}-wal`, { persistent: false }, () => listener?.());
      watcher.on('error', () => {
        watcher?.close();
        watcher = null;
      });
    } catch {
      watcher = null;
    }
  };

  return {
    poll() {
      const current = version();
      const changed = seen !== null && current !== seen;
      seen = current;
      return changed;
    },
    onHint(next) {
      listener = next;
      startWatching();
    },
    close() {
      seen = null;
      listener = null;
      watcher?.close();
      watcher = null;
    },
  };
}
