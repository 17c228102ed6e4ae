/** One metrics sample as stored in `machine_metrics`. */
export interface MetricsSample {
  cpu_pct: number | null;
  mem_used_pct: number | null;
  disk_used_pct: number | null;
  net_rx_bytes: number;
  net_tx_bytes: number;
  uptime_s: number | null;
}

/** The agent's system facts as `machines` columns; only the ones the agent sent. */
export interface SystemInfoColumns {
  reported_hostname?: string;
  platform?: string;
  platform_version?: string;
  kernel_version?: string;
  cpu_cores?: number;
  memory_total_mb?: number;
  disk_total_gb?: number;
  last_boot_time?: string;
}

export interface IngestReport {
  machineId: number;
  /** Server time of receipt (epoch ms): what `last_seen` becomes. */
  receivedAtMs: number;
  metrics?: MetricsSample;
  systemInfo?: SystemInfoColumns;
}
