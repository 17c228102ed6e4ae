import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { failureStreak, readIngestLiveness, type ChannelKind, type Clock, type Database, type FailureStreak, type Logger } from '@lunasentri/shared';
import type { Kysely } from 'kysely';
import type { RecordedOutcome } from '../dispatch/outcomes.usecases';
import { ingestStateOf } from '../sweep/heartbeat.models';
import type { Sweeper, SweepResult, TransitionKind } from '../sweep/sweep.usecases';
import { countFleet, countUnsettled, machineCounts, outboxFigures, watchedMachines, type FleetTotals, type MachineCounts, type OutboxFigures, type WatchedMachine } from './metrics.repository';

/** Above this many machines online or offline, the per-machine series are left out (CONTRACT §7.1). */
export const PER_MACHINE_SERIES_LIMIT = 10_000;

/**
 * A fleet of more machines than {@link PER_MACHINE_SERIES_LIMIT} has its totals (all, enabled)
 * recounted at most this often, not on every scrape: the enabled count walks one index entry per
 * machine. Pending and offline counts stay exact at every scrape, so a transition shows at once.
 */
export const FLEET_RECOUNT_MS = 60_000;

const CHANNELS: readonly ChannelKind[] = ['webhook', 'telegram'];
const OUTCOMES: readonly RecordedOutcome['outcome'][] = ['delivered', 'retried', 'failed', 'dead'];
const TRANSITIONS: readonly TransitionKind[] = ['went-offline', 'came-online', 'first-report'];
/** From a webhook's tens of milliseconds to a Telegram digest window, retries over hours, and the 24 h limit. */
const LATENCY_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 21600, 86400];

/** `went-offline` → `went_offline`: label values in the style of the metric names. */
const transitionLabel = (kind: string) => kind.replace(/-/g, '_');

/** What one scrape read from the database; null when the read failed (the DB-derived series are then left out). */
interface Snapshot {
  now: Date;
  counts: MachineCounts;
  /** null: more than the limit, left out */
  machines: WatchedMachine[] | null;
  outbox: Map<ChannelKind, OutboxFigures>;
  /** ingest as the daemon judges it (CONTRACT §3.1): no API live means offline notifications are paused */
  ingestDown: boolean;
}

export interface DaemonMetricsDeps {
  registry: Registry;
  db: Kysely<Database>;
  clock: Clock;
  logger: Logger;
  /** default {@link PER_MACHINE_SERIES_LIMIT}; also the fleet size above which totals are recounted only every {@link FLEET_RECOUNT_MS} */
  perMachineLimit?: number;
}

/**
 * The daemon's Prometheus metrics. Counters (transitions, delivery outcomes, latencies) and the last
 * check are kept in process as they happen; what the database knows (machines, the outbox) is read
 * when Prometheus scrapes, by each gauge's `collect()`, which resets the gauge first: a machine
 * deleted, disabled or renamed since the last scrape has no series left under its old labels. All the
 * gauges of one scrape share one database read.
 */
export class DaemonMetrics {
  private readonly transitions: Counter<'type'>;
  private readonly deliveries: Counter<'channel' | 'outcome'>;
  private readonly latency: Histogram<'channel'>;
  private readonly lastCheck: Gauge;
  private readonly limit: number;
  private readonly reads: FailureStreak;
  private inFlight: Promise<Snapshot | null> | null = null;
  private totals: { value: FleetTotals; at: number } | null = null;
  /** whether the log already said that per-machine series are left out (said again only after the fleet fell back under the limit) */
  private saidOverLimit = false;

  constructor(private readonly deps: DaemonMetricsDeps) {
    const registers = [deps.registry];
    this.limit = deps.perMachineLimit ?? PER_MACHINE_SERIES_LIMIT;
    this.reads = failureStreak(deps.logger, 'Reading the metrics from the database');
    this.transitions = new Counter({ name: 'lunasentri_transitions_total', help: 'Status changes decided by this daemon, by type (went_offline, came_online, first_report).', labelNames: ['type'], registers });
    this.deliveries = new Counter({
      name: 'lunasentri_deliveries_total',
      help: 'Delivery attempts recorded by this daemon, by channel and outcome (delivered, retried, failed, dead); a Telegram digest counts each notification it carries.',
      labelNames: ['channel', 'outcome'],
      registers,
    });
    this.latency = new Histogram({ name: 'lunasentri_delivery_latency_seconds', help: 'From an event to its delivery, by channel.', labelNames: ['channel'], buckets: LATENCY_BUCKETS, registers });
    this.lastCheck = new Gauge({ name: 'lunasentri_last_check_timestamp_seconds', help: "When this daemon's last check ran (Unix time; 0 before the first).", registers });
    // Known label values start at 0, so rate() and increase() see the first event.
    for (const kind of TRANSITIONS) this.transitions.inc({ type: transitionLabel(kind) }, 0);
    for (const channel of CHANNELS) {
      this.latency.zero({ channel });
      for (const outcome of OUTCOMES) this.deliveries.inc({ channel, outcome }, 0);
    }
    this.registerDatabaseGauges(registers);
  }

  /** The sweeper, with each check's transitions and time counted. */
  observe(sweeper: Sweeper): Sweeper {
    return {
      ...sweeper,
      run: async (signal) => {
        const result = await sweeper.run(signal);
        this.sweepDone(result);
        return result;
      },
    };
  }

  sweepDone(result: SweepResult): void {
    for (const t of result.transitions) this.transitions.inc({ type: transitionLabel(t.kind) });
    this.lastCheck.set(result.now.getTime() / 1000);
  }

  readonly outcomesRecorded = (outcomes: readonly RecordedOutcome[]): void => {
    for (const o of outcomes) {
      this.deliveries.inc({ channel: o.channel, outcome: o.outcome });
      if (o.latencyMs !== undefined) this.latency.observe({ channel: o.channel }, Math.max(0, o.latencyMs) / 1000);
    }
  };

  private registerDatabaseGauges(registers: Registry[]): void {
    const scrape = () => this.snapshot();
    new Gauge({
      name: 'lunasentri_machines',
      help: 'Machines by status: pending, online, offline for enabled machines; disabled for the rest.',
      labelNames: ['status'],
      registers,
      async collect() {
        const s = await scrape();
        this.reset();
        if (s) for (const [status, n] of Object.entries(s.counts)) this.set({ status }, n);
      },
    });
    new Gauge({
      name: 'lunasentri_machine_up',
      help: `Whether an enabled machine is online (1) or offline (0); left out above ${PER_MACHINE_SERIES_LIMIT} such machines.`,
      labelNames: ['machine_id', 'machine'],
      registers,
      async collect() {
        const s = await scrape();
        this.reset();
        for (const m of s?.machines ?? []) this.set({ machine_id: String(m.id), machine: m.name }, m.status === 'online' ? 1 : 0);
      },
    });
    new Gauge({
      name: 'lunasentri_machine_last_seen_timestamp_seconds',
      help: `When an enabled online or offline machine last reported (Unix time); left out above ${PER_MACHINE_SERIES_LIMIT} such machines.`,
      labelNames: ['machine_id', 'machine'],
      registers,
      async collect() {
        const s = await scrape();
        this.reset();
        for (const m of s?.machines ?? []) if (m.last_seen !== null) this.set({ machine_id: String(m.id), machine: m.name }, Date.parse(m.last_seen) / 1000);
      },
    });
    new Gauge({
      name: 'lunasentri_ingest_live',
      help: 'Whether an API process is live (1), or none is, so that offline notifications are paused (0; also while the database cannot be read).',
      registers,
      async collect() {
        const s = await scrape();
        this.set(s && !s.ingestDown ? 1 : 0);
      },
    });
    new Gauge({
      name: 'lunasentri_outbox_pending',
      help: 'Deliveries not delivered yet (waiting, being sent or retrying), by channel.',
      labelNames: ['channel'],
      registers,
      async collect() {
        const s = await scrape();
        this.reset();
        if (s) for (const channel of CHANNELS) this.set({ channel }, s.outbox.get(channel)?.pending ?? 0);
      },
    });
    new Gauge({
      name: 'lunasentri_outbox_oldest_pending_age_seconds',
      help: 'Age of the oldest delivery not delivered yet, by channel (0 when none is pending).',
      labelNames: ['channel'],
      registers,
      async collect() {
        const s = await scrape();
        this.reset();
        if (!s) return;
        for (const channel of CHANNELS) {
          const oldest = s.outbox.get(channel)?.oldestCreatedAt;
          this.set({ channel }, oldest ? Math.max(0, s.now.getTime() - Date.parse(oldest)) / 1000 : 0);
        }
      },
    });
  }

  /** One database read per scrape, whichever gauge asks first; the others of that scrape share it. */
  private snapshot(): Promise<Snapshot | null> {
    this.inFlight ??= this.read().finally(() => {
      this.inFlight = null;
    });
    return this.inFlight;
  }

  private async read(): Promise<Snapshot | null> {
    const { db, clock } = this.deps;
    try {
      const now = clock.now();
      const counts = machineCounts(await this.fleetTotals(now), await countUnsettled(db));
      const watched = counts.online + counts.offline;
      // One more than the limit: a fleet that grew since it was counted is still recognised.
      const machines = watched <= this.limit ? await watchedMachines(db, this.limit + 1) : null;
      const listed = machines !== null && machines.length <= this.limit ? machines : null;
      this.noteLimit(listed === null, Math.max(watched, machines?.length ?? 0));
      const outbox = await outboxFigures(db);
      const ingestDown = ingestStateOf(await readIngestLiveness(db, now)).down;
      this.reads.succeeded();
      return { now, counts, machines: listed, outbox, ingestDown };
    } catch (error) {
      this.reads.failed(error);
      return null;
    }
  }

  /** The fleet's totals: counted afresh on every scrape of a small fleet, once a minute for a large one. */
  private async fleetTotals(now: Date): Promise<FleetTotals> {
    const at = now.getTime();
    const cached = this.totals;
    if (cached && cached.value.all > this.limit && at - cached.at < FLEET_RECOUNT_MS && at >= cached.at) return cached.value;
    const value = await countFleet(this.deps.db);
    this.totals = { value, at };
    return value;
  }

  private noteLimit(over: boolean, watched: number): void {
    if (over && !this.saidOverLimit) {
      this.deps.logger.info(
        `Per-machine metrics are left out: ${watched} machines are online or offline, more than ${this.limit} (lunasentri_machine_up and lunasentri_machine_last_seen_timestamp_seconds; lunasentri_machines still counts them)`,
      );
    } else if (!over && this.saidOverLimit) {
      this.deps.logger.info(`Per-machine metrics are listed again: ${watched} machines are online or offline, at most ${this.limit}`);
    }
    this.saidOverLimit = over;
  }
}
