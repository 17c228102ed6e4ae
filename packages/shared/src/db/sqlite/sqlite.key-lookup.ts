import type SqliteDatabase from 'better-sqlite3';
import type { MachineKeyLookup, MachineKeyOwner } from '../port';

/**
 * Key lookups on SQLite through the raw connection with statements prepared once: the miss path runs
 * for every new key and every garbage key, so it must cost one indexed read, not Kysely's compile and
 * prepare per call. Reads only: in WAL mode they never wait for a writer's lock. Both answer
 * synchronously, so a cached key and a miss take the same code path on the request.
 */
export function sqliteMachineKeyLookup(sqlite: SqliteDatabase.Database): MachineKeyLookup {
  let statements: ReturnType<typeof prepare> | undefined;
  function prepare() {
    return {
      find: sqlite.prepare<[string], MachineKeyOwner>(
        `SELECT m.id AS machineId, m.is_enabled AS isEnabled
           FROM machine_api_keys k JOIN machines m ON m.id = k.machine_id
          WHERE k.key_hash = ? AND k.revoked_at IS NULL`,
      ),
      revision: sqlite.prepare<[], { revision: number }>('SELECT revision FROM credential_revision WHERE id = 1'),
    };
  }
  return {
    find: (keyHash) => (statements ??= prepare()).find.get(keyHash),
    revision: () => (statements ??= prepare()).revision.get()?.revision ?? 0,
  };
}
