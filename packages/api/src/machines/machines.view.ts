import type { Selectable } from 'kysely';
import { isSnoozed, type Machine, type MachineMetricsTable } from '@lunasentri/shared';

/**
 * A machine as the API shows it. Built field by field so nothing new (or secret) leaks by default.
 * `hostname` is the one the user gave, else (null or empty) the one the agent reports; the stored
 * column is untouched, so giving one later, or clearing it, behaves as expected.
 */
export function machineView(m: Machine, now: Date) {
  return {
    id: m.id,
    name: m.name,
    hostname: m.hostname || m.reported_hostname,
    description: m.description,
    status: m.status,
    last_seen: m.last_seen,
    status_changed_at: m.status_changed_at,
    is_enabled: m.is_enabled === 1,
    enabled_at: m.enabled_at,
    // A snooze that has run out (or was ended) is over for the user, whether or not the daemon has acted on it yet.
    snoozed_until: isSnoozed(m.snoozed_until, now) ? m.snoozed_until : null,
    system_info: {
      hostname: m.reported_hostname,
      platform: m.platform,
      platform_version: m.platform_version,
      kernel_version: m.kernel_version,
      cpu_cores: m.cpu_cores,
      memory_total_mb: m.memory_total_mb,
      disk_total_gb: m.disk_total_gb,
      last_boot_time: m.last_boot_time,
    },
    created_at: m.created_at,
    updated_at: m.updated_at,
  };
}

/** One stored metrics sample, as `latest_metrics` and `GET /machines/:id/metrics` show it. */
export function metricsView(row: Selectable<MachineMetricsTable>) {
  return {
    recorded_at: row.recorded_at,
    cpu_pct: row.cpu_pct,
    mem_used_pct: row.mem_used_pct,
    disk_used_pct: row.disk_used_pct,
    net_rx_bytes: row.net_rx_bytes,
    net_tx_bytes: row.net_tx_bytes,
    uptime_s: row.uptime_s,
  };
}
