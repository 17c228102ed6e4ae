import type { MetricsSample, SystemInfoColumns } from '@lunasentri/shared';

export type { MetricsSample, SystemInfoColumns } from '@lunasentri/shared';

export interface IngestReport {
  machineId: number;
  /** Server time of receipt (epoch ms): what `last_seen` becomes. */
  receivedAtMs: number;
  metrics?: MetricsSample;
  systemInfo?: SystemInfoColumns;
}
