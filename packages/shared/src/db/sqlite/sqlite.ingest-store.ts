import type SqliteDatabase from 'better-sqlite3';
import type { Kysely } from 'kysely';
import type { IngestBatch, IngestStore } from '../port';
import type { Database } from '../schema';

/**
 * The ingest flush on SQLite, through the raw better-sqlite3 connection with statements prepared once.
 *
 * Why not Kysely here: Kysely compiles every query and its SQLite driver prepares a fresh statement per
 * call, which on this hot path cost more than the HTTP work (the ingest benchmark ran at about a
 * quarter of a bare node:http server that way).
 */
export function sqliteIngestStore(db: Kysely<Database>, sqlite: SqliteDatabase.Database): IngestStore {
  let statements: ReturnType<typeof prepare> | undefined;
  function prepare() {
    return {
      // Never moves last_seen back: another API process may have written a later report first.
      touch: sqlite.prepare('UPDATE machines SET last_seen = ? WHERE id = ? AND (last_seen IS NULL OR last_seen < ?)'),
      systemInfo: sqlite.prepare(
        `UPDATE machines SET
           reported_hostname = COALESCE(?, reported_hostname), platform = COALESCE(?, platform),
           platform_version = COALESCE(?, platform_version), kernel_version = COALESCE(?, kernel_version),
           cpu_cores = COALESCE(?, cpu_cores), memory_total_mb = COALESCE(?, memory_total_mb),
           disk_total_gb = COALESCE(?, disk_total_gb), last_boot_time = COALESCE(?, last_boot_time)
         WHERE id = ?`,
      ),
      // A machine deleted since its report was accepted is skipped instead of failing the batch on the
      // foreign key; inside the write-locked transaction the set of machines cannot change.
      sample: sqlite.prepare(
        `INSERT INTO machine_metrics (machine_id, recorded_at, cpu_pct, mem_used_pct, disk_used_pct, net_rx_bytes, net_tx_bytes, uptime_s)
         SELECT ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM machines WHERE id = ?)`,
      ),
    };
  }
  const writeAll = (batch: IngestBatch) => {
    const s = (statements ??= prepare());
    for (const [machineId, seenAt] of batch.lastSeen) s.touch.run(seenAt, machineId, seenAt);
    for (const [machineId, c] of batch.systemInfo) {
      s.systemInfo.run(
        c.reported_hostname ?? null,
        c.platform ?? null,
        c.platform_version ?? null,
        c.kernel_version ?? null,
        c.cpu_cores ?? null,
        c.memory_total_mb ?? null,
        c.disk_total_gb ?? null,
        c.last_boot_time ?? null,
        machineId,
      );
    }
    for (const m of batch.samples) {
      s.sample.run(m.machine_id, m.recorded_at, m.cpu_pct, m.mem_used_pct, m.disk_used_pct, m.net_rx_bytes, m.net_tx_bytes, m.uptime_s, m.machine_id);
    }
  };
  const transaction = sqlite.transaction(writeAll);
  return {
    async write(batch) {
      // Holding Kysely's connection lock guarantees no Kysely transaction is open on this shared
      // connection, so ours is a real BEGIN IMMEDIATE … COMMIT, never a savepoint inside someone else's.
      await db.connection().execute(async () => {
        if (sqlite.inTransaction) throw new Error('ingest flush found the connection inside a transaction');
        transaction.immediate(batch);
      });
    },
  };
}
