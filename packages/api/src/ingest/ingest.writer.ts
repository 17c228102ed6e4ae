import type { Kysely } from 'kysely';
import type { Database, Logger } from '@lunasentri/shared';
import type { IngestReport, MetricsSample, SystemInfoColumns } from './ingest.types';

export interface IngestWriterOptions {
  /** How long reports are gathered before one transaction writes them all. */
  flushIntervalMs: number;
  /** Metrics rows kept in memory while the database refuses writes; the oldest go first beyond it. */
  maxPendingMetrics?: number;
}

interface PendingSample extends MetricsSample {
  machine_id: number;
  recorded_at: string;
}

/** SQLite allows 32,766 bound values per statement; stay well below with 7 columns a row. */
const METRICS_ROWS_PER_INSERT = 500;
const IDS_PER_QUERY = 500;

/**
 * Write-behind for ingest: reports are answered at once and written in one transaction every
 * `flushIntervalMs`. Reports of the same machine within a window coalesce into one `last_seen`
 * update; a crash loses at most one window of timestamps, which the next report repairs.
 *
 * Never writes `machines.status` (the daemon owns it).
 */
export class IngestWriter {
  private lastSeen = new Map<number, string>();
  private systemInfo = new Map<number, SystemInfoColumns>();
  private samples: PendingSample[] = [];
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private closed = false;
  private readonly maxPendingMetrics: number;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly logger: Logger,
    private readonly options: IngestWriterOptions,
  ) {
    this.maxPendingMetrics = options.maxPendingMetrics ?? 100_000;
  }

  record(report: IngestReport): void {
    const previous = this.lastSeen.get(report.machineId);
    if (previous === undefined || previous < report.receivedAt) this.lastSeen.set(report.machineId, report.receivedAt);
    if (report.systemInfo) this.systemInfo.set(report.machineId, { ...this.systemInfo.get(report.machineId), ...report.systemInfo });
    if (report.metrics) this.samples.push({ machine_id: report.machineId, recorded_at: report.receivedAt, ...report.metrics });
    this.schedule();
  }

  /** Reports received but not yet written. */
  get pendingMachines(): number {
    return this.lastSeen.size;
  }

  /** Writes everything received so far; resolves once it is committed (or has failed and been kept). */
  async flush(): Promise<void> {
    while (this.running) await this.running;
    if (this.lastSeen.size === 0 && this.samples.length === 0) return;
    const batch = { lastSeen: this.lastSeen, systemInfo: this.systemInfo, samples: this.samples };
    this.lastSeen = new Map();
    this.systemInfo = new Map();
    this.samples = [];
    this.running = this.write(batch.lastSeen, batch.systemInfo, batch.samples)
      .catch((error: unknown) => {
        this.requeue(batch.lastSeen, batch.systemInfo, batch.samples);
        this.logger.error('Could not write ingest reports; keeping them for the next flush', { error: errorMessage(error), machines: batch.lastSeen.size });
        if (!this.closed) this.schedule();
      })
      .finally(() => {
        this.running = null;
      });
    await this.running;
  }

  /** Stops the timer and writes what is left. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.flush();
  }

  private schedule(): void {
    if (this.timer || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.flush();
    }, this.options.flushIntervalMs);
    // The server's own handles keep the process alive; a pending flush alone must not.
    this.timer.unref();
  }

  private async write(lastSeen: Map<number, string>, systemInfo: Map<number, SystemInfoColumns>, samples: PendingSample[]): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      for (const [machineId, seenAt] of lastSeen) {
        // Never move last_seen back: another API process may have written a later report first.
        await trx
          .updateTable('machines')
          .set({ last_seen: seenAt })
          .where('id', '=', machineId)
          .where((eb) => eb.or([eb('last_seen', 'is', null), eb('last_seen', '<', seenAt)]))
          .execute();
      }
      for (const [machineId, columns] of systemInfo) {
        await trx.updateTable('machines').set(columns).where('id', '=', machineId).execute();
      }
      if (samples.length === 0) return;
      // A machine deleted since its report was accepted must not fail the whole batch on the foreign
      // key; inside this (write-locked) transaction the set of existing machines cannot change.
      const ids = [...new Set(samples.map((s) => s.machine_id))];
      const existing = new Set<number>();
      for (let i = 0; i < ids.length; i += IDS_PER_QUERY) {
        const rows = await trx.selectFrom('machines').select('id').where('id', 'in', ids.slice(i, i + IDS_PER_QUERY)).execute();
        for (const row of rows) existing.add(row.id);
      }
      const kept = existing.size === ids.length ? samples : samples.filter((s) => existing.has(s.machine_id));
      for (let i = 0; i < kept.length; i += METRICS_ROWS_PER_INSERT) {
        await trx.insertInto('machine_metrics').values(kept.slice(i, i + METRICS_ROWS_PER_INSERT)).execute();
      }
    });
  }

  private requeue(lastSeen: Map<number, string>, systemInfo: Map<number, SystemInfoColumns>, samples: PendingSample[]): void {
    for (const [machineId, seenAt] of lastSeen) {
      const newer = this.lastSeen.get(machineId);
      if (newer === undefined || newer < seenAt) this.lastSeen.set(machineId, seenAt);
    }
    for (const [machineId, columns] of systemInfo) this.systemInfo.set(machineId, { ...columns, ...this.systemInfo.get(machineId) });
    this.samples = samples.concat(this.samples);
    const excess = this.samples.length - this.maxPendingMetrics;
    if (excess > 0) {
      this.samples.splice(0, excess);
      this.logger.warn('Dropped the oldest unwritten metrics samples', { dropped: excess });
    }
  }
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
