import { sql, type Kysely } from 'kysely';
import type { MachineKeyLookup, MachineKeyOwner } from '../port';
import type { Database } from '../schema';

/**
 * Key lookups on PostgreSQL: a miss is one indexed query, and so is a revision check (at most once a
 * second, by the key cache); both are asynchronous, so the request that asks waits for the answer.
 */
export function postgresMachineKeyLookup(db: Kysely<Database>): MachineKeyLookup {
  return {
    async find(keyHash) {
      const { rows } = await sql<MachineKeyOwner>`
        SELECT m.id AS "machineId", m.is_enabled AS "isEnabled"
          FROM machine_api_keys k JOIN machines m ON m.id = k.machine_id
         WHERE k.key_hash = ${keyHash} AND k.revoked_at IS NULL`.execute(db);
      return rows[0];
    },
    async revision() {
      const { rows } = await sql<{ revision: number }>`SELECT revision FROM credential_revision WHERE id = 1`.execute(db);
      return rows[0]?.revision ?? 0;
    },
  };
}
