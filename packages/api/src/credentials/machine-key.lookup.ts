import type { DatabaseHandle } from '@lunasentri/shared';

export interface MachineKeyOwner {
  machineId: number;
  isEnabled: number;
}

/** The key cache's database side: a miss, and the change counter it polls. Both synchronous. */
export interface MachineKeyLookup {
  /** The machine a live (unrevoked) key belongs to. */
  find(keyHash: string): MachineKeyOwner | undefined;
  /** `credential_revision.revision`: changes whenever any process changes a key or a machine's enabled state. */
  revision(): number;
}

/**
 * Key lookups on SQLite through the raw connection with statements prepared once: the miss path runs
 * for every new key and every garbage key, so it must cost one indexed read, not Kysely's compile and
 * prepare per call (see ingest.store.ts). Reads only: in WAL mode they never wait for a writer's lock.
 * The SQL is plain; a PostgreSQL lookup is a sibling implementation.
 */
export function sqliteMachineKeyLookup(handle: DatabaseHandle): MachineKeyLookup {
  let statements: ReturnType<typeof prepare> | undefined;
  function prepare() {
    return {
      find: handle.sqlite.prepare<[string], MachineKeyOwner>(
        `SELECT m.id AS machineId, m.is_enabled AS isEnabled
           FROM machine_api_keys k JOIN machines m ON m.id = k.machine_id
          WHERE k.key_hash = ? AND k.revoked_at IS NULL`,
      ),
      revision: handle.sqlite.prepare<[], { revision: number }>('SELECT revision FROM credential_revision WHERE id = 1'),
    };
  }
  return {
    find: (keyHash) => (statements ??= prepare()).find.get(keyHash),
    revision: () => (statements ??= prepare()).revision.get()?.revision ?? 0,
  };
}
