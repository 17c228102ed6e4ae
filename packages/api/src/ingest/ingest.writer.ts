import type { Clock, IngestBatch, IngestStore, Logger, PendingSample } from '@lunasentri/shared';
import type { IngestReport, SystemInfoColumns } from './ingest.types';
import { ReportCadence } from './report-cadence';

export interface IngestWriterOptions {
  /** How long reports are gathered before one transaction writes them all. */
  flushIntervalMs: number;
  /**
   * Per machine, rows are written at most this often: reports closer together coalesce (`last_seen`
   * takes the latest, metrics history keeps the first sample). An agent on its default 10 s interval
   * never notices; a machine reporting many times a second costs one write a second, not hundreds.
   * 0 writes every report's `last_seen` at the next flush.
   */
  minWriteIntervalMs: number;
  /**
   * Routine reports (a machine keeping its usual pace, see {@link ReportCadence}) are gathered this
   * long instead of `flushIntervalMs`: at a low report rate one transaction then carries a second of
   * reports instead of each report paying for its own. News (a first report, a return after a
   * silence) is still written within `flushIntervalMs`. Default 0: every report within `flushIntervalMs`.
   */
  steadyFlushIntervalMs?: number;
  /** Metrics rows kept in memory while the database refuses writes; the oldest go first beyond it. */
  maxPendingMetrics?: number;
  /** How `close()` waits between attempts when the database refuses the final write; default 100 ms. */
  closeRetryDelayMs?: number;
  /** How many times `close()` tries the final write before giving up; default 20. */
  closeAttempts?: number;
  /** Timers, injectable so tests drive the flush schedule with their clock instead of waiting. */
  timers?: WriterTimers;
}

export interface WriterTimers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const nodeTimers: WriterTimers = {
  setTimeout(callback, ms) {
    const handle = setTimeout(callback, ms);
    // The server's own handles keep the process alive; a pending flush alone must not.
    handle.unref();
    return handle;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/**
 * Write-behind for ingest: reports are answered at once and written in one transaction per flush
 * interval. A crash loses at most the unwritten window (flush interval, or the per-machine write
 * interval for machines that report faster than that), which the next report repairs. A graceful
 * close writes everything.
 *
 * Never writes `machines.status` (the daemon owns it).
 */
export class IngestWriter {
  /** latest unwritten last_seen per machine (epoch ms; turned into text only when written) */
  private pendingSeen = new Map<number, number>();
  private systemInfo = new Map<number, SystemInfoColumns>();
  private samples: PendingSample[] = [];
  /** when each machine's last_seen / history sample was last taken, for the write interval */
  private readonly seenWrittenAt = new Map<number, number>();
  private readonly sampleTakenAt = new Map<number, number>();
  private lastPruneMs = 0;
  /** consecutive failed flushes: retries back off and only the first failure of a streak is logged */
  private failures = 0;
  /** earliest time a held-back last_seen becomes due (from the last takeDue), for the next timer */
  private nextDueMs: number | undefined;
  private timer: unknown = null;
  /** when the scheduled flush fires (clock ms), so news can bring it forward */
  private timerDueMs = Infinity;
  private readonly cadence: ReportCadence | undefined;
  private readonly timers: WriterTimers;
  private running: Promise<void> | null = null;
  private closed = false;
  private readonly maxPendingMetrics: number;

  constructor(
    private readonly store: IngestStore,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly options: IngestWriterOptions,
  ) {
    this.maxPendingMetrics = options.maxPendingMetrics ?? 100_000;
    this.timers = options.timers ?? nodeTimers;
    // Tracked like the key cache's entries: bounded, and forgotten after an hour of silence.
    if ((options.steadyFlushIntervalMs ?? 0) > options.flushIntervalMs) this.cadence = new ReportCadence({ maxMachines: 200_000, forgetAfterMs: 3_600_000 });
  }

  record(report: IngestReport): void {
    const { machineId, receivedAtMs: at } = report;
    const previous = this.pendingSeen.get(machineId);
    if (previous === undefined || previous < at) this.pendingSeen.set(machineId, at);
    if (report.systemInfo) this.systemInfo.set(machineId, { ...this.systemInfo.get(machineId), ...report.systemInfo });
    if (report.metrics) {
      const taken = this.sampleTakenAt.get(machineId);
      if (taken === undefined || at - taken >= this.options.minWriteIntervalMs || at < taken) {
        this.sampleTakenAt.set(machineId, at);
        this.samples.push({ machine_id: machineId, recorded_at: new Date(at).toISOString(), ...report.metrics });
      }
    }
    const news = this.cadence?.observe(machineId, at) ?? true;
    this.schedule(news ? undefined : this.options.steadyFlushIntervalMs, at);
  }

  /** Machines whose latest report is not written yet. */
  get pendingMachines(): number {
    return this.pendingSeen.size;
  }

  /**
   * Writes what is due (everything when `all`); resolves once it is committed, or has failed and
   * been kept for the next attempt.
   */
  async flush(all = false): Promise<void> {
    while (this.running) await this.running;
    // This flush takes whatever the scheduled one would have: what is left gets a timer afresh.
    this.cancelTimer();
    const nowMs = this.clock.now().getTime();
    const batch = this.takeDue(nowMs, all);
    if (batch.lastSeen.size === 0 && batch.systemInfo.size === 0 && batch.samples.length === 0) {
      // Only reports held back by the write interval are left: wake up when the first is due, or a
      // lone report inside the interval would wait for the machine's next report to be written.
      this.scheduleNext();
      return;
    }
    this.running = this.store
      .write(batch)
      .then(() => {
        if (this.failures > 0) this.logger.info('Ingest reports are written again', { after_failures: this.failures });
        this.failures = 0;
      })
      .catch((error: unknown) => {
        this.requeue(batch);
        if (this.failures === 0) {
          this.logger.error('Could not write ingest reports; keeping them and retrying', {
            error: error instanceof Error ? error.message : String(error),
            machines: batch.lastSeen.size,
          });
        }
        this.failures++;
      })
      .finally(() => {
        this.running = null;
        this.scheduleNext();
      });
    await this.running;
  }

  /**
   * Writes what is due now, without waiting for a retry back-off, and says whether every report the
   * database refused before is written. The liveness beat waits on it: a beat claims that ingest
   * works, which is only true once the reports held through a stall are in the database (otherwise
   * the daemon would give machines a threshold from the beat while their reports are still here).
   */
  async writeHeld(): Promise<boolean> {
    await this.flush();
    return this.failures === 0 || !this.hasPending();
  }

  /**
   * Stops the timer and writes everything left, whatever its write interval. A database that refuses
   * the write (another process holds the lock) is retried for a bounded while before reports are lost.
   */
  async close(): Promise<void> {
    this.closed = true;
    this.cancelTimer();
    const attempts = this.options.closeAttempts ?? 20;
    for (let attempt = 1; ; attempt++) {
      await this.flush(true);
      if (!this.hasPending() || attempt >= attempts) break;
      await new Promise((resolve) => setTimeout(resolve, this.options.closeRetryDelayMs ?? 100));
    }
    if (this.hasPending()) this.logger.error('Gave up writing buffered ingest reports on stop', { machines: this.pendingSeen.size, samples: this.samples.length });
  }

  private hasPending(): boolean {
    return this.pendingSeen.size > 0 || this.samples.length > 0 || this.systemInfo.size > 0;
  }

  private takeDue(nowMs: number, all: boolean): IngestBatch {
    const lastSeen = new Map<number, string>();
    const interval = this.options.minWriteIntervalMs;
    let nextDue: number | undefined;
    for (const [machineId, seenAt] of this.pendingSeen) {
      const written = this.seenWrittenAt.get(machineId);
      if (all || written === undefined || nowMs - written >= interval || nowMs < written) {
        lastSeen.set(machineId, new Date(seenAt).toISOString());
        this.seenWrittenAt.set(machineId, nowMs);
      } else if (nextDue === undefined || written + interval < nextDue) {
        nextDue = written + interval;
      }
    }
    this.nextDueMs = nextDue;
    if (lastSeen.size === this.pendingSeen.size) this.pendingSeen = new Map();
    else for (const machineId of lastSeen.keys()) this.pendingSeen.delete(machineId);
    const batch = { lastSeen, systemInfo: this.systemInfo, samples: this.samples };
    this.systemInfo = new Map();
    this.samples = [];
    this.prune(nowMs);
    return batch;
  }

  /** Forgets write times older than the interval, so memory follows the report rate, not the fleet. */
  private prune(nowMs: number): void {
    const interval = this.options.minWriteIntervalMs;
    if (nowMs - this.lastPruneMs < Math.max(interval, 1_000)) return;
    this.lastPruneMs = nowMs;
    for (const map of [this.seenWrittenAt, this.sampleTakenAt]) {
      for (const [machineId, at] of map) if (nowMs - at >= interval) map.delete(machineId);
    }
  }

  /** After a flush: a timer for what is left, at the flush interval or when the first held-back report is due. */
  private scheduleNext(): void {
    if (!this.hasPending()) return;
    const onlyHeldBack = this.failures === 0 && this.samples.length === 0 && this.systemInfo.size === 0 && this.nextDueMs !== undefined;
    if (!onlyHeldBack) return this.schedule();
    this.schedule(Math.max(this.options.flushIntervalMs, (this.nextDueMs as number) - this.clock.now().getTime()));
  }

  /** Books a flush `delayMs` from now, unless one is booked sooner (a sooner one replaces a later one). */
  private schedule(delayMs?: number, nowMs: number = this.clock.now().getTime()): void {
    if (this.closed) return;
    // After failures, back off (up to 5 s) instead of hammering a locked or broken database.
    const backoff = this.failures === 0 ? this.options.flushIntervalMs : Math.min(this.options.flushIntervalMs * 2 ** this.failures, 5_000);
    const delay = this.failures === 0 ? (delayMs ?? backoff) : Math.max(delayMs ?? 0, backoff);
    const dueMs = nowMs + delay;
    if (this.timer !== null) {
      if (this.timerDueMs <= dueMs) return;
      this.cancelTimer();
    }
    this.timerDueMs = dueMs;
    this.timer = this.timers.setTimeout(() => {
      this.timer = null;
      this.timerDueMs = Infinity;
      void this.flush();
    }, delay);
  }

  private cancelTimer(): void {
    if (this.timer !== null) this.timers.clearTimeout(this.timer);
    this.timer = null;
    this.timerDueMs = Infinity;
  }

  private requeue(batch: IngestBatch): void {
    for (const [machineId, seenAtIso] of batch.lastSeen) {
      this.seenWrittenAt.delete(machineId);
      const seenAt = Date.parse(seenAtIso);
      const newer = this.pendingSeen.get(machineId);
      if (newer === undefined || newer < seenAt) this.pendingSeen.set(machineId, seenAt);
    }
    for (const [machineId, columns] of batch.systemInfo) this.systemInfo.set(machineId, { ...columns, ...this.systemInfo.get(machineId) });
    this.samples = batch.samples.concat(this.samples);
    const excess = this.samples.length - this.maxPendingMetrics;
    if (excess > 0) {
      this.samples.splice(0, excess);
      this.logger.warn('Dropped the oldest unwritten metrics samples', { dropped: excess });
    }
  }
}
