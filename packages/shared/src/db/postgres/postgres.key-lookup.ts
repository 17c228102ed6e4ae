import { sql, type Kysely } from 'kysely';
import type { MachineKeyLookup, MachineKeyOwner } from '../port';
import type { Database } from '../schema';

/** How often the credential revision is read again at most. */
const REVISION_REFRESH_MS = 500;

/**
 * Key lookups on PostgreSQL: a miss is one indexed query (asynchronous: the request waits for it).
 * The revision the key cache polls synchronously is the latest value read, refreshed in the
 * background at most every {@link REVISION_REFRESH_MS}: a change made by another process is seen one
 * refresh later than on SQLite (well within the cache's second).
 */
export function postgresMachineKeyLookup(db: Kysely<Database>): MachineKeyLookup {
  let revision = 0;
  let readAt = -Infinity;
  let reading = false;
  const refresh = () => {
    reading = true;
    readAt = Date.now();
    sql<{ revision: number }>`SELECT revision FROM credential_revision WHERE id = 1`
      .execute(db)
      .then(({ rows }) => {
        revision = rows[0]?.revision ?? 0;
      })
      .catch(() => undefined) // the next refresh tries again; the TTL still bounds the cache
      .finally(() => {
        reading = false;
      });
  };
  refresh();
  return {
    async find(keyHash) {
      const { rows } = await sql<MachineKeyOwner>`
        SELECT m.id AS "machineId", m.is_enabled AS "isEnabled"
          FROM machine_api_keys k JOIN machines m ON m.id = k.machine_id
         WHERE k.key_hash = ${keyHash} AND k.revoked_at IS NULL`.execute(db);
      return rows[0];
    },
    revision() {
      if (!reading && Date.now() - readAt >= REVISION_REFRESH_MS) refresh();
      return revision;
    },
  };
}
