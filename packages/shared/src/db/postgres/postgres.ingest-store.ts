import { sql, type Kysely } from 'kysely';
import { CHANGES_CHANNEL } from '../engine';
import type { IngestBatch, IngestStore } from '../port';
import type { Database } from '../schema';

/** One column of the batch, as a PostgreSQL array parameter. */
function column<T, V>(rows: readonly T[], pick: (row: T) => V | undefined): Array<V | null> {
  return rows.map((row) => pick(row) ?? null);
}

/**
 * The ingest flush on PostgreSQL: the whole batch in ONE statement, so one round trip whatever its
 * size: the columns travel as arrays and are unnested on the server. One UPDATE writes each machine's
 * `last_seen` (never moving it back: another API may have written a later report first) together with
 * its system facts (PostgreSQL lets a statement change a row once, so both go in the same UPDATE);
 * one INSERT adds the samples of machines that still exist; `pg_notify` tells listening daemons that
 * reports arrived. A single statement is atomic: all of it, or nothing.
 */
export function postgresIngestStore(db: Kysely<Database>): IngestStore {
  return {
    async write(batch: IngestBatch) {
      const ids = [...new Set([...batch.lastSeen.keys(), ...batch.systemInfo.keys()])];
      const info = ids.map((id) => batch.systemInfo.get(id) ?? {});
      const s = batch.samples;
      await sql`
        WITH touched AS (
          UPDATE machines m SET
            last_seen = CASE WHEN v.seen IS NOT NULL AND (m.last_seen IS NULL OR m.last_seen < v.seen) THEN v.seen ELSE m.last_seen END,
            reported_hostname = COALESCE(v.reported_hostname, m.reported_hostname),
            platform = COALESCE(v.platform, m.platform),
            platform_version = COALESCE(v.platform_version, m.platform_version),
            kernel_version = COALESCE(v.kernel_version, m.kernel_version),
            cpu_cores = COALESCE(v.cpu_cores, m.cpu_cores),
            memory_total_mb = COALESCE(v.memory_total_mb, m.memory_total_mb),
            disk_total_gb = COALESCE(v.disk_total_gb, m.disk_total_gb),
            last_boot_time = COALESCE(v.last_boot_time, m.last_boot_time)
          FROM unnest(
            ${ids}::int[], ${ids.map((id) => batch.lastSeen.get(id) ?? null)}::text[],
            ${column(info, (c) => c.reported_hostname)}::text[], ${column(info, (c) => c.platform)}::text[],
            ${column(info, (c) => c.platform_version)}::text[], ${column(info, (c) => c.kernel_version)}::text[],
            ${column(info, (c) => c.cpu_cores)}::int[], ${column(info, (c) => c.memory_total_mb)}::int[],
            ${column(info, (c) => c.disk_total_gb)}::int[], ${column(info, (c) => c.last_boot_time)}::text[]
          ) AS v(id, seen, reported_hostname, platform, platform_version, kernel_version, cpu_cores, memory_total_mb, disk_total_gb, last_boot_time)
          WHERE m.id = v.id
          RETURNING 1
        ), sampled AS (
          INSERT INTO machine_metrics (machine_id, recorded_at, cpu_pct, mem_used_pct, disk_used_pct, net_rx_bytes, net_tx_bytes, uptime_s)
          SELECT v.machine_id, v.recorded_at, v.cpu_pct, v.mem_used_pct, v.disk_used_pct, v.net_rx_bytes, v.net_tx_bytes, v.uptime_s FROM unnest(
            ${column(s, (m) => m.machine_id)}::int[], ${column(s, (m) => m.recorded_at)}::text[],
            ${column(s, (m) => m.cpu_pct)}::float8[], ${column(s, (m) => m.mem_used_pct)}::float8[],
            ${column(s, (m) => m.disk_used_pct)}::float8[], ${column(s, (m) => m.net_rx_bytes)}::int8[],
            ${column(s, (m) => m.net_tx_bytes)}::int8[], ${column(s, (m) => m.uptime_s)}::int8[]
          ) WITH ORDINALITY AS v(machine_id, recorded_at, cpu_pct, mem_used_pct, disk_used_pct, net_rx_bytes, net_tx_bytes, uptime_s, n)
          WHERE EXISTS (SELECT 1 FROM machines WHERE id = v.machine_id)
          -- In arrival order, as on SQLite: the semi-join above may otherwise reorder them.
          ORDER BY v.n
          RETURNING 1
        )
        SELECT pg_notify(${CHANGES_CHANNEL}, ''), (SELECT count(*) FROM touched) AS machines, (SELECT count(*) FROM sampled) AS samples`.execute(db);
    },
  };
}
